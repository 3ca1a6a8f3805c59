/**
 * The device an app sends with every session call (decision D1): which
 * client presents the session, as the headers `Sesame-Device-User-Agent`,
 * `Sesame-Device-Ip` and `Sesame-Device-Hints`, and the client address behind
 * trusted proxies.
 *
 * Why normalize here: sesame compares the bound device byte for byte, on
 * every call. A user agent with a character a header cannot carry (Node's
 * `fetch` refuses it, and sesame wants UTF-8), or an IPv4 address that Node
 * reports as `::ffff:10.0.0.1` on one socket and `10.0.0.1` on another,
 * would end the session as a device mismatch or fail the call. So every
 * device passes through {@link normalizeDevice} before it is sent.
 * Everything is bounded: an attacker controls the user agent and the
 * forwarded-for chain.
 *
 * @module
 */

import { BlockList, isIP } from "node:net";

import type { Device } from "./types.js";

/** The longest user agent sent; longer ones are cut (the same way on every call). */
export const MAX_USER_AGENT = 512;
/** At most this many hints are sent. */
export const MAX_HINTS = 16;
/** The longest hint name. */
export const MAX_HINT_NAME = 64;
/** The longest hint value. */
export const MAX_HINT_VALUE = 256;
/** At most this many `X-Forwarded-For` hops are read. */
export const MAX_FORWARDED_HOPS = 32;

/** Header: the client's user agent. */
export const DEVICE_USER_AGENT_HEADER = "sesame-device-user-agent";
/** Header: the client's IP address. */
export const DEVICE_IP_HEADER = "sesame-device-ip";
/** Header: the client hints, a JSON object of string to string. */
export const DEVICE_HINTS_HEADER = "sesame-device-hints";

/**
 * A user agent as sent: visible ASCII only (anything else becomes `?`, as a
 * header value must be ASCII), at most {@link MAX_USER_AGENT} characters.
 *
 * @param ua - the raw `User-Agent`
 */
export function normalizeUserAgent(ua: string): string {
  const cut = ua.length > MAX_USER_AGENT ? ua.slice(0, MAX_USER_AGENT) : ua;
  return cut.replace(/[^\x20-\x7e]/g, "?").trim();
}

/**
 * An IP address as sent: IPv4-mapped IPv6 as plain IPv4, no zone index,
 * lowercase IPv6; null when it is not an address.
 *
 * @param ip - the raw address
 */
export function normalizeIp(ip: string): string | null {
  let a = ip.trim();
  if (a.length > 64) return null;
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  const kind = isIP(a);
  if (kind === 4) return a;
  if (kind !== 6) return null;
  a = a.toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!;
  return a;
}

/**
 * A device as sent: normalized user agent and ip, bounded hints (names and
 * values cut, control characters dropped), empty parts left out.
 *
 * @param device - what the app knows of its client
 */
export function normalizeDevice(device: Device): Device {
  const out: Device = {};
  if (typeof device.userAgent === "string") {
    const ua = normalizeUserAgent(device.userAgent);
    if (ua !== "") out.userAgent = ua;
  }
  if (typeof device.ip === "string") {
    const ip = normalizeIp(device.ip);
    if (ip !== null) out.ip = ip;
  }
  if (device.hints) {
    const hints: Record<string, string> = {};
    let n = 0;
    for (const [name, value] of Object.entries(device.hints)) {
      if (n >= MAX_HINTS) break;
      if (typeof value !== "string") continue;
      const k = name.replace(/[\x00-\x1f\x7f]/g, "").slice(0, MAX_HINT_NAME);
      if (k === "") continue;
      hints[k] = value.replace(/[\x00-\x1f\x7f]/g, "").slice(0, MAX_HINT_VALUE);
      n++;
    }
    if (n > 0) out.hints = hints;
  }
  return out;
}

/** JSON with every non-ASCII character escaped, so that it fits in a header. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The D1 headers for a normalized device (see {@link normalizeDevice}).
 *
 * @param device - a normalized device
 * @param into - the header object to add to
 */
export function deviceHeaders(device: Device, into: Record<string, string>): Record<string, string> {
  if (device.userAgent) into[DEVICE_USER_AGENT_HEADER] = device.userAgent;
  if (device.ip) into[DEVICE_IP_HEADER] = device.ip;
  if (device.hints && Object.keys(device.hints).length > 0) {
    into[DEVICE_HINTS_HEADER] = asciiJson(device.hints);
  }
  return into;
}

/**
 * Which peers may tell the client's address in `X-Forwarded-For`: the
 * addresses and networks of your own reverse proxies, e.g.
 * `["127.0.0.1", "10.0.0.0/8", "::1"]`. Empty (the default) trusts none:
 * the client is the socket's peer, as any other choice lets a client claim
 * any address.
 */
export type TrustedProxies = readonly string[];

/**
 * Finds the client address: the socket's peer, or — when that peer is a
 * trusted proxy — the first untrusted hop of `X-Forwarded-For`, read from
 * the right.
 */
export class ClientAddress {
  readonly #trusted: BlockList | null;

  /**
   * @param trustedProxies - addresses and CIDR networks of trusted proxies
   * @throws TypeError - for an entry that is not an address or network
   */
  constructor(trustedProxies: TrustedProxies = []) {
    if (trustedProxies.length === 0) {
      this.#trusted = null;
      return;
    }
    const list = new BlockList();
    for (const entry of trustedProxies) {
      const [addr, bits, extra] = entry.split("/");
      const ip = addr === undefined ? null : normalizeIp(addr);
      const kind = ip === null ? 0 : isIP(ip);
      if (ip === null || kind === 0 || extra !== undefined) {
        throw new TypeError(`trustedProxies: ${JSON.stringify(entry)} is not an IP address or network`);
      }
      const type = kind === 4 ? "ipv4" : "ipv6";
      if (bits === undefined) {
        list.addAddress(ip, type);
      } else {
        const prefix = Number(bits);
        if (!/^\d{1,3}$/.test(bits) || prefix > (kind === 4 ? 32 : 128)) {
          throw new TypeError(`trustedProxies: ${JSON.stringify(entry)} has a bad prefix length`);
        }
        list.addSubnet(ip, prefix, type);
      }
    }
    this.#trusted = list;
  }

  #isTrusted(ip: string): boolean {
    return this.#trusted !== null && this.#trusted.check(ip, isIP(ip) === 4 ? "ipv4" : "ipv6");
  }

  /**
   * The client's address.
   *
   * @param peer - the socket's remote address (undefined when unknown)
   * @param forwardedFor - the `X-Forwarded-For` header value(s), if any
   * @returns the normalized address, or null when none is known
   */
  resolve(peer: string | undefined | null, forwardedFor: string | readonly string[] | null | undefined): string | null {
    let current = peer ? normalizeIp(peer) : null;
    if (current === null || this.#trusted === null || !this.#isTrusted(current)) return current;
    if (forwardedFor === null || forwardedFor === undefined) return current;
    const joined = typeof forwardedFor === "string" ? forwardedFor : forwardedFor.join(",");
    const hops = joined.split(",");
    for (let i = hops.length - 1, n = 0; i >= 0 && n < MAX_FORWARDED_HOPS; i--, n++) {
      const hop = normalizeIp(hops[i]!);
      // A malformed hop ends the walk: the last trusted proxy's word is all we have.
      if (hop === null) return current;
      current = hop;
      if (!this.#isTrusted(hop)) return hop;
    }
    return current;
  }
}
