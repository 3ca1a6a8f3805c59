/**
 * What every framework integration does with an end user's request, written
 * once: find the credential, send the device, validate, and turn the outcome
 * into cookies and a status. `express.ts` and `web.ts` only translate their
 * framework's request and response to and from these plain values.
 *
 * The rules, and why:
 * - **The cookie's name comes from the service** (decision D2:
 *   `GET /v1/cookie-policy`, cached ≤ 60 s), so a policy change in sesame
 *   reaches every app; the integration never writes cookie attributes itself:
 *   it sends the `Set-Cookie` values sesame returns (`setCookie` on create,
 *   login and renewal; `clearCookie` on logout and on every 401).
 * - **Cookie first, then `Authorization: Bearer <token>`** for API clients.
 * - **The device on every call** (D1): user agent, client address (the
 *   socket's peer unless trusted proxies say otherwise), optional hints.
 * - **Refused → 401 and the cookie cleared**; sesame unavailable (or its
 *   guessing guard blocking the address, 429) → 503 with `Retry-After`, never 500.
 *   Anything else (a wrong API key, an unexpected answer) is the app's
 *   deployment error and is thrown to the framework's error handler.
 *
 * @module
 */

import type { CallOptions, Credential, PatchChanges, Sesame } from "./client.js";
import { ClientAddress, type TrustedProxies } from "./device.js";
import {
  DevelopmentCookiePolicy,
  InternalError,
  MissingSession,
  SesameError,
  SesameUnavailable,
  SessionEnded,
  SessionRefused,
} from "./errors.js";
import type { Data, Device, Issued, Renewed, Session } from "./types.js";

/** The longest credential forwarded to sesame (a sealed cookie is ~200 characters). */
export const MAX_CREDENTIAL = 4096;

/**
 * Response header carrying the new token when validate renewed a bearer
 * token: an API client must use it from then on (the old one works only for
 * the renewal grace).
 */
export const RENEWED_TOKEN_HEADER = "sesame-renewed-token";

/** What is sent in place of a credential that cannot be one (see {@link SessionGuard.presented}). */
export const UNUSABLE_CREDENTIAL = "unusable";

function usable(value: string): string {
  return value.length <= MAX_CREDENTIAL && /^[\x21-\x7e]+$/.test(value) ? value : UNUSABLE_CREDENTIAL;
}

/** Settings shared by the framework integrations. */
export interface GuardOptions {
  /**
   * Addresses and networks (CIDR) of your reverse proxies, whose
   * `X-Forwarded-For` is believed. Default: none — the client address is the
   * socket's peer.
   */
  trustedProxies?: TrustedProxies;
  /** Accept `Authorization: Bearer <token>` when there is no cookie (default true). */
  bearer?: boolean;
  /**
   * Client hints to send (and bind, if sesame's policy names them), read from
   * the request's headers, e.g. `(h) => ({ platform: h("sec-ch-ua-platform") ?? "" })`.
   */
  hints?: (header: (name: string) => string | undefined) => Record<string, string> | undefined;
}

/** The parts of an end user's request the integrations read. */
export interface IncomingParts {
  /** The `Cookie` header. */
  cookie: string | null | undefined;
  /** The `Authorization` header. */
  authorization: string | null | undefined;
  /** The `User-Agent` header. */
  userAgent: string | null | undefined;
  /** The socket's peer address, when the runtime knows it. */
  peer: string | null | undefined;
  /** The `X-Forwarded-For` header(s). */
  forwardedFor: string | readonly string[] | null | undefined;
  /** The host the end user asked for (`Host`, or the URL's host), for the development-mode check. */
  host: string | null | undefined;
  /** Any header by lower-case name (for hints). */
  header: (name: string) => string | undefined;
}

/** A session credential and where it came from. */
export interface Presented {
  /** The credential to send to sesame. */
  credential: Credential;
  /** From the cookie (renewal and refusal change the cookie) or a bearer header. */
  via: "cookie" | "bearer";
}

/**
 * The validated session of one request (`req.sesame` in Express), with the
 * calls an app makes on it. After a renewal, those calls use the new token.
 */
export class RequestSession {
  /** The session as validate returned it. */
  readonly session: Session;
  /** The credential for further calls on this session (the new one after renewal). */
  readonly credential: Credential;
  /** Where the credential came from. */
  readonly via: "cookie" | "bearer";
  /** The replacement credential when validate renewed the token (its cookie is already set). */
  readonly renewed: Renewed | null;
  /** The device did not match and the policy says `flag`. */
  readonly deviceFlagged: boolean;
  /** The presented token was rotated and is within its grace period. */
  readonly viaGrace: boolean;
  /** The device sent for this request. */
  readonly device: Device;
  /** The client, for any other call. */
  readonly client: Sesame;

  /** @internal */
  constructor(init: {
    session: Session;
    credential: Credential;
    via: "cookie" | "bearer";
    renewed: Renewed | null;
    deviceFlagged: boolean;
    viaGrace: boolean;
    device: Device;
    client: Sesame;
  }) {
    this.session = init.session;
    this.credential = init.credential;
    this.via = init.via;
    this.renewed = init.renewed;
    this.deviceFlagged = init.deviceFlagged;
    this.viaGrace = init.viaGrace;
    this.device = init.device;
    this.client = init.client;
  }

  /** The logged-in user, or null for an anonymous session. */
  get user(): string | null {
    return this.session.user;
  }

  /** The session's data as validated. */
  get data(): Data {
    return this.session.data;
  }

  #opts(signal?: AbortSignal): CallOptions {
    return signal === undefined ? { device: this.device } : { device: this.device, signal };
  }

  /** Changes data keys (see {@link Sesame.patch}). */
  patch(changes: PatchChanges, signal?: AbortSignal): Promise<Session> {
    return this.client.patch(this.credential, changes, this.#opts(signal));
  }

  /** Adds to an integer key (see {@link Sesame.increment}). */
  increment(key: string, by = 1, signal?: AbortSignal): Promise<number> {
    return this.client.increment(this.credential, key, by, this.#opts(signal));
  }

  /** Reads the session again without counting a use (see {@link Sesame.get}). */
  reload(signal?: AbortSignal): Promise<Session> {
    return this.client.get(this.credential, this.#opts(signal));
  }

  /** The user's live sessions, oldest first (admin scope), or [] for an anonymous session. */
  async userSessions(signal?: AbortSignal): Promise<Session[]> {
    const user = this.session.user;
    if (user === null) return [];
    return this.client.listUserSessions(user, signal === undefined ? {} : { signal });
  }
}

/** What a request's session check came to. */
export type Outcome =
  | {
      /** A session, or none (optional routes only). */
      ok: true;
      /** The session, or null on an optional route without a (good) one. */
      session: RequestSession | null;
      /** `Set-Cookie` values to send (a renewed cookie, or a removal). */
      setCookies: string[];
      /** Other headers to send: `Sesame-Renewed-Token` after a bearer token's renewal. */
      headers: Record<string, string>;
    }
  | {
      /** Refused: answer with `status`. */
      ok: false;
      /** 401 or 503. */
      status: 401 | 503;
      /** Why. */
      error: SesameError;
      /** A small JSON body for the end user: the code, the end reason, a message. */
      body: { code: string; reason?: string; message: string };
      /** `Set-Cookie` values (the cookie removal on a 401). */
      setCookies: string[];
      /** Other headers (`Retry-After`). */
      headers: Record<string, string>;
    };

/** The result of a login: the new credential and the cookie to set. */
export interface LoginResult {
  /** The new token, session and `setCookie`. */
  issued: Issued;
  /** `Set-Cookie` values to send. */
  setCookies: string[];
}

/** The result of a logout. */
export interface LogoutResult {
  /** Whether a live session was ended. */
  ended: boolean;
  /** `Set-Cookie` values to send (the cookie removal). */
  setCookies: string[];
}

/**
 * Reads one cookie from a `Cookie` header: the first with that name (a
 * `__Host-` cookie cannot be planted by a sibling domain); quotes removed;
 * null when absent or empty.
 *
 * @param header - the `Cookie` header value
 * @param name - the cookie name
 */
export function readCookie(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(";", start);
    if (end < 0) end = header.length;
    const eq = header.indexOf("=", start);
    if (eq >= 0 && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value === "" ? null : value;
    }
    start = end + 1;
  }
  return null;
}

/**
 * Whether a `Host` value (with or without port) names this machine:
 * `localhost`, `127.0.0.1` or `[::1]` — where a development cookie (no
 * `Secure`) may be used.
 */
export function isLoopbackHost(host: string | null | undefined): boolean {
  if (!host) return false;
  const h = host.trim().toLowerCase();
  const name = h.startsWith("[") ? h.slice(0, h.indexOf("]") + 1) : h.replace(/:\d*$/, "");
  return name === "localhost" || name === "127.0.0.1" || name === "[::1]" || name === "::1";
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function readBearer(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/**
 * The engine of the integrations: one per app, sharing one {@link Sesame} client.
 */
export class SessionGuard {
  /** The client. */
  readonly client: Sesame;
  readonly #address: ClientAddress;
  readonly #bearer: boolean;
  readonly #hints: GuardOptions["hints"];

  /**
   * @param client - the sesame client
   * @param options - proxies, bearer, hints
   * @throws TypeError - for a trusted proxy that is not an address or network
   */
  constructor(client: Sesame, options: GuardOptions = {}) {
    this.client = client;
    this.#address = new ClientAddress(options.trustedProxies ?? []);
    this.#bearer = options.bearer ?? true;
    this.#hints = options.hints;
  }

  /** The device of a request: user agent, client address, hints. */
  device(parts: IncomingParts): Device {
    const device: Device = {};
    if (parts.userAgent) device.userAgent = parts.userAgent;
    const ip = this.#address.resolve(parts.peer, parts.forwardedFor);
    if (ip !== null) device.ip = ip;
    const hints = this.#hints?.(parts.header);
    if (hints) device.hints = hints;
    return device;
  }

  /**
   * The credential a request presents: the service's cookie, else (if
   * enabled) a bearer token. A value no credential can have — over
   * {@link MAX_CREDENTIAL} characters, or with characters outside visible
   * ASCII, which `fetch` may refuse to send — is replaced by
   * {@link UNUSABLE_CREDENTIAL}, so that sesame refuses it like any forgery
   * (401 `invalid`, with the cookie removal, counted by its guessing guard)
   * instead of the call failing here.
   *
   * @throws {@link DevelopmentCookiePolicy} when the service's policy is in
   *   development mode and the request is not for localhost
   */
  async presented(parts: IncomingParts): Promise<Presented | null> {
    const policy = await this.client.cookiePolicy();
    if (policy.development && !isLoopbackHost(parts.host)) throw new DevelopmentCookiePolicy(parts.host ?? "");
    const cookie = readCookie(parts.cookie, policy.name);
    if (cookie !== null) return { credential: { cookie: usable(cookie) }, via: "cookie" };
    if (this.#bearer) {
      const token = readBearer(parts.authorization);
      if (token !== null) return { credential: { token: usable(token) }, via: "bearer" };
    }
    return null;
  }

  /**
   * Checks the session of a request.
   *
   * @param parts - the request
   * @param optional - true: no (good) session is not an error, the outcome is `ok` with `session: null`
   * @returns the outcome; refusals, unavailability and 429 come as `ok: false`
   * @throws {@link SesameError} for the app's deployment errors (API key, unexpected answers)
   */
  async check(parts: IncomingParts, optional: boolean): Promise<Outcome> {
    let presented: Presented | null = null;
    try {
      presented = await this.presented(parts);
      if (presented === null) {
        if (optional) return { ok: true, session: null, setCookies: [], headers: {} };
        return refusalOf(new MissingSession(), null)!;
      }
      const device = this.device(parts);
      const v = await this.client.validate(presented.credential, { device });
      const setCookies: string[] = [];
      const headers: Record<string, string> = {};
      let credential = presented.credential;
      if (v.renewed !== null) {
        credential = presented.via === "cookie" && v.renewed.cookie !== null ? { cookie: v.renewed.cookie } : { token: v.renewed.token };
        if (presented.via === "cookie" && v.renewed.setCookie !== null) setCookies.push(v.renewed.setCookie);
        // An API client holds the token itself: it gets the new one in a header.
        if (presented.via === "bearer") headers[RENEWED_TOKEN_HEADER] = v.renewed.token;
      }
      const session = new RequestSession({
        session: v.session,
        credential,
        via: presented.via,
        renewed: v.renewed,
        deviceFlagged: v.deviceFlagged,
        viaGrace: v.viaGrace,
        device,
        client: this.client,
      });
      return { ok: true, session, setCookies, headers };
    } catch (e) {
      if (optional && e instanceof SessionRefused) {
        return { ok: true, session: null, setCookies: clearing(e, presented), headers: {} };
      }
      const refused = refusalOf(e, presented?.via ?? null);
      if (refused === null) throw e;
      return refused;
    }
  }

  /**
   * Logs `user` in for this request's client: a new session (with the
   * request's device), and the session the request presented, if any, ended
   * — so nothing of another user's session, nor of a planted (fixated)
   * cookie, carries over. To turn an anonymous session's data into the
   * user's, call `client.login(credential, user)` (a rotation) instead.
   *
   * @param data - the new session's initial data
   * @throws {@link SesameError} — the caller answers (503 for {@link SesameUnavailable})
   */
  async login(parts: IncomingParts, user: string, data?: Data): Promise<LoginResult> {
    const device = this.device(parts);
    const presented = await this.presented(parts);
    if (presented !== null) {
      try {
        await this.client.end(presented.credential, { device });
      } catch (e) {
        // Already ended, forged or bound to another device: nothing to end.
        if (!(e instanceof SessionRefused)) throw e;
      }
    }
    const issued = await this.client.create(data === undefined ? { user, device } : { user, data, device });
    return { issued, setCookies: issued.setCookie === null ? [] : [issued.setCookie] };
  }

  /**
   * Ends the request's session and removes its cookie. A session that had
   * already ended is not an error: its cookie is removed all the same.
   *
   * @throws {@link SesameError} other than a refusal (503 for {@link SesameUnavailable})
   */
  async logout(parts: IncomingParts): Promise<LogoutResult> {
    let presented: Presented | null;
    try {
      presented = await this.presented(parts);
    } catch (e) {
      if (e instanceof SessionRefused) return { ended: false, setCookies: [] };
      throw e;
    }
    if (presented === null) return { ended: false, setCookies: [] };
    try {
      const ended = await this.client.end(presented.credential, { device: this.device(parts) });
      return { ended: ended.ended, setCookies: presented.via === "cookie" && ended.clearCookie !== null ? [ended.clearCookie] : [] };
    } catch (e) {
      if (e instanceof SessionRefused) return { ended: false, setCookies: clearing(e, presented) };
      throw e;
    }
  }

  /**
   * "Log out everywhere": ends this request's session (removing its cookie)
   * and revokes every other session of its user. Needs the admin scope.
   *
   * @returns the number of sessions ended, this one included
   */
  async logoutEverywhere(parts: IncomingParts, session: RequestSession): Promise<{ ended: number; setCookies: string[] }> {
    const out = await this.logout(parts);
    const user = session.session.user;
    const others = user === null ? [] : await this.client.revokeUserSessions(user);
    return { ended: others.length + (out.ended ? 1 : 0), setCookies: out.setCookies };
  }
}

function clearing(e: SessionRefused, presented: Presented | null): string[] {
  return presented?.via === "cookie" && e.clearCookie !== null ? [e.clearCookie] : [];
}

/** A refusal: what the end user is answered. */
export type Refusal = Outcome & { ok: false };

/**
 * The answer to an end user for an error: 401 (with the cookie removal when
 * the credential came from a cookie; `via` null: removal whenever sesame sent
 * one), or 503 with `Retry-After` when sesame cannot answer (its store, a
 * timeout, a refused connection, an internal error, or its guessing guard's
 * 429 — a backend refusal, not the end user's answer); null for errors that are the app's own
 * (a wrong API key, a bad request, an unexpected answer).
 */
export function refusalOf(e: unknown, via: "cookie" | "bearer" | null): Refusal | null {
  if (e instanceof SessionRefused) {
    const body: { code: string; reason?: string; message: string } = { code: e.code, message: e.message };
    if (e instanceof SessionEnded) body.reason = e.reason;
    const setCookies = via !== "bearer" && e.clearCookie !== null ? [e.clearCookie] : [];
    return { ok: false, status: 401, error: e, body, setCookies, headers: {} };
  }
  if (e instanceof SesameUnavailable || e instanceof InternalError) {
    const retryAfter = e instanceof SesameUnavailable ? e.retryAfter : 1;
    return {
      ok: false,
      status: 503,
      error: e,
      body: { code: "session_service_unavailable", message: "sessions are unavailable; retry later" },
      setCookies: [],
      headers: { "retry-after": String(retryAfter) },
    };
  }
  return null;
}
