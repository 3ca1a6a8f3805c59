/**
 * The values `sesame serve` answers with, as typed objects.
 *
 * Why a decoder per type rather than a cast: the client is the boundary
 * between the service and the app, and a cast would let a changed or broken
 * answer travel into the app as a lie about its type. Each `decode*` function
 * reads exactly the fields the OpenAPI document (`openapi.json`) promises,
 * renames them to camelCase, and throws {@link UnexpectedResponse} on
 * anything else — one clear error at the boundary instead of an `undefined`
 * far away. Times are unix seconds, as on the wire.
 *
 * @module
 */

import { UnexpectedResponse } from "./errors.js";

/** A JSON value, as session data holds it. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A session's data: string keys to JSON values. */
export type Data = { [key: string]: JsonValue };

/** Why a session ended (the `reason` of a 401 for an ended session). */
export type EndReason =
  | "expired_idle"
  | "expired_absolute"
  | "cookie_expired"
  | "logged_out"
  | "revoked"
  | "evicted"
  | "rotated"
  | "device_mismatch"
  | "token_reuse"
  | "security_event"
  | "dbsc_failed";

/** What the app knows of its client: bound properties must match on every call. */
export interface Device {
  /** The client's `User-Agent`. */
  userAgent?: string | null;
  /** The client's IPv4 or IPv6 address (no zone index). */
  ip?: string | null;
  /** Client hints, name to value (the service binds those its policy names). */
  hints?: Record<string, string>;
}

/** A live session. */
export interface Session {
  /** SHA-256 of the token, hex: safe to log and to pass to admin calls; never a credential. */
  id: string;
  /** The user, or null for an anonymous session. */
  user: string | null;
  /** The data map. */
  data: Data;
  /** The data version, for compare-and-set ({@link PatchChanges.expectedVersion}). */
  version: number;
  /** Creation (or login) time, unix seconds. */
  createdAt: number;
  /** Last recorded use, unix seconds. */
  lastAccessed: number;
  /** Ends if unused until then, unix seconds. */
  idleExpiresAt: number;
  /** Ends then whatever happens, unix seconds. */
  absoluteExpiresAt: number;
  /** The nearer of the two. */
  expiresAt: number;
  /** The client the session is bound to. */
  device: Device;
}

/** A new credential, as `create` and `rotate` return it. */
export interface Issued {
  /** The session token (for API clients: `Authorization: Bearer <token>`). */
  token: string;
  /** The token sealed as a cookie value; null when the service has no cookie keys. */
  cookie: string | null;
  /**
   * The complete `Set-Cookie` header value to send to the browser as is (name and
   * attributes from the service's cookie policy); null without cookie keys.
   */
  setCookie: string | null;
  /** When the session expires unless used, unix seconds. */
  expiresAt: number;
  /** The session. */
  session: Session;
  /** Sessions of the same user that the per-user cap ended to make room (ids). */
  evicted: string[];
}

/** A replacement credential after renewal. */
export interface Renewed {
  /** The new token. */
  token: string;
  /** The new cookie value; null without cookie keys. */
  cookie: string | null;
  /** The complete `Set-Cookie` header value for the new cookie; null without cookie keys. */
  setCookie: string | null;
}

/** What `validate` answers. */
export interface Validated {
  /** The session. */
  session: Session;
  /** Set when the token was renewed: send the new one to the client. */
  renewed: Renewed | null;
  /** The device did not match and the policy says `flag`. */
  deviceFlagged: boolean;
  /** The token was rotated and is within its grace period. */
  viaGrace: boolean;
}

/** What `end` answers. */
export interface Ended {
  /** False when the session was not live. */
  ended: boolean;
  /** The complete `Set-Cookie` value that removes the cookie; null without cookie keys. */
  clearCookie: string | null;
}

/** Everything known about a session (the recipe's `debug_session`). */
export interface Inspection {
  /** Session id. */
  id: string;
  /** A live session or its tombstone exists. */
  exists: boolean;
  /** The session is live. */
  live: boolean;
  /** Its user. */
  user: string | null;
  /** Its data (live only). */
  data: Data | null;
  /** Its version (live only). */
  version: number | null;
  /** Created, unix seconds (live only). */
  createdAt: number | null;
  /** Last use, unix seconds (live only). */
  lastAccessed: number | null;
  /** Seconds until the idle timeout (live only). */
  idleSecondsLeft: number | null;
  /** Seconds until the absolute timeout (live only). */
  absoluteSecondsLeft: number | null;
  /** Bound device (live only). */
  device: Device | null;
  /** Why it ended (ended only). */
  endReason: EndReason | null;
  /** When it ended, unix seconds (ended only). */
  endedAt: number | null;
}

/** Why a cookie value is not valid. */
export type CookieProblem =
  | "malformed"
  | "bad_signature"
  | "expired"
  | "from_the_future"
  | "not_a_session_token";

/** What `decodeCookie` finds in a cookie value (the recipe's `debug_cookie`). */
export interface CookieInspection {
  /** The cookie is authentic and within its maximum age. */
  valid: boolean;
  /** Why not, when not valid. */
  reason: CookieProblem | null;
  /** Which key of the ring opened it. */
  keyIndex: number | null;
  /** When it was sealed, unix seconds. */
  issuedAt: number | null;
  /** Its age in seconds. */
  ageSecs: number | null;
  /** Seconds left before its maximum age. */
  timeLeftSecs: number | null;
  /** The session id inside (never the token). */
  sessionId: string | null;
}

/** What a cleanup run did. */
export interface CleanupReport {
  /** Records examined. */
  scanned: number;
  /** Records deleted. */
  deleted: number;
  /** Live sessions found expired and ended. */
  expired: number;
  /** How long it took, in milliseconds. */
  durationMs: number;
}

/** The `SameSite` attribute of the session cookie. */
export type SameSite = "Strict" | "Lax" | "None";

/**
 * The service's cookie policy (`GET /v1/cookie-policy`): which cookie holds the
 * session. Clients read the cookie by {@link CookiePolicy.name}; they never
 * write attributes themselves — the service's `setCookie` / `clearCookie` values do.
 */
export interface CookiePolicy {
  /** The cookie name, e.g. `__Host-sesame`. */
  name: string;
  /** `Path`. */
  path: string;
  /** `Domain`, or null for a host-only cookie. */
  domain: string | null;
  /** `Secure`. */
  secure: boolean;
  /** `HttpOnly`. */
  httpOnly: boolean;
  /** `SameSite`. */
  sameSite: SameSite;
  /** `Max-Age` in seconds, or null for a browser-session cookie. */
  maxAge: number | null;
  /** Development mode (plain HTTP on localhost). */
  development: boolean;
}

// ------------------------------------------------------------------ decoding

type Obj = Record<string, unknown>;

function fail(what: string, path: string): never {
  throw new UnexpectedResponse(`sesame answered an unexpected value: ${path} is not ${what}`);
}

/** The value as an object, or an {@link UnexpectedResponse}. */
export function obj(v: unknown, path: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail("an object", path);
  return v as Obj;
}

function str(o: Obj, k: string, path: string): string {
  const v = o[k];
  if (typeof v !== "string") fail("a string", `${path}.${k}`);
  return v;
}

function strOrNull(o: Obj, k: string, path: string): string | null {
  const v = o[k];
  if (v === null || v === undefined) return null;
  if (typeof v !== "string") fail("a string or null", `${path}.${k}`);
  return v;
}

function int(o: Obj, k: string, path: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isInteger(v)) fail("an integer", `${path}.${k}`);
  return v;
}

function intOrNull(o: Obj, k: string, path: string): number | null {
  const v = o[k];
  if (v === null || v === undefined) return null;
  if (typeof v !== "number" || !Number.isInteger(v)) fail("an integer or null", `${path}.${k}`);
  return v;
}

function bool(o: Obj, k: string, path: string): boolean {
  const v = o[k];
  if (typeof v !== "boolean") fail("a boolean", `${path}.${k}`);
  return v;
}

function strings(o: Obj, k: string, path: string): string[] {
  const v = o[k];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    fail("an array of strings", `${path}.${k}`);
  }
  return v as string[];
}

function oneOf<T extends string>(v: string | null, allowed: readonly T[], path: string): T | null {
  if (v === null) return null;
  if (!(allowed as readonly string[]).includes(v)) fail(`one of ${allowed.join(", ")}`, path);
  return v as T;
}

const END_REASONS: readonly EndReason[] = [
  "expired_idle",
  "expired_absolute",
  "cookie_expired",
  "logged_out",
  "revoked",
  "evicted",
  "rotated",
  "device_mismatch",
  "token_reuse",
  "security_event",
  "dbsc_failed",
];

/** Whether `v` is an {@link EndReason}. */
export function isEndReason(v: unknown): v is EndReason {
  return typeof v === "string" && (END_REASONS as readonly string[]).includes(v);
}

/** Decodes a {@link Device}. */
export function decodeDevice(v: unknown, path = "device"): Device {
  const o = obj(v, path);
  const device: Device = {};
  const ua = strOrNull(o, "user_agent", path);
  if (ua !== null) device.userAgent = ua;
  const ip = strOrNull(o, "ip", path);
  if (ip !== null) device.ip = ip;
  if (o.hints !== undefined && o.hints !== null) {
    const hints = obj(o.hints, `${path}.hints`);
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(hints)) {
      if (typeof value !== "string") fail("a string", `${path}.hints.${name}`);
      out[name] = value;
    }
    device.hints = out;
  }
  return device;
}

/** Decodes a {@link Session}. */
export function decodeSession(v: unknown, path = "session"): Session {
  const o = obj(v, path);
  return {
    id: str(o, "id", path),
    user: strOrNull(o, "user", path),
    data: obj(o.data, `${path}.data`) as Data,
    version: int(o, "version", path),
    createdAt: int(o, "created_at", path),
    lastAccessed: int(o, "last_accessed", path),
    idleExpiresAt: int(o, "idle_expires_at", path),
    absoluteExpiresAt: int(o, "absolute_expires_at", path),
    expiresAt: int(o, "expires_at", path),
    device: decodeDevice(o.device, `${path}.device`),
  };
}

/** Decodes an {@link Issued}. */
export function decodeIssued(v: unknown): Issued {
  const o = obj(v, "$");
  return {
    token: str(o, "token", "$"),
    cookie: strOrNull(o, "cookie", "$"),
    setCookie: strOrNull(o, "set_cookie", "$"),
    expiresAt: int(o, "expires_at", "$"),
    session: decodeSession(o.session, "$.session"),
    evicted: strings(o, "evicted", "$"),
  };
}

/** Decodes a {@link Validated}. */
export function decodeValidated(v: unknown): Validated {
  const o = obj(v, "$");
  let renewed: Renewed | null = null;
  if (o.renewed !== null && o.renewed !== undefined) {
    const r = obj(o.renewed, "$.renewed");
    renewed = {
      token: str(r, "token", "$.renewed"),
      cookie: strOrNull(r, "cookie", "$.renewed"),
      setCookie: strOrNull(r, "set_cookie", "$.renewed"),
    };
  }
  return {
    session: decodeSession(o.session, "$.session"),
    renewed,
    deviceFlagged: bool(o, "device_flagged", "$"),
    viaGrace: bool(o, "via_grace", "$"),
  };
}

/** Decodes an {@link Ended}. */
export function decodeEnded(v: unknown): Ended {
  const o = obj(v, "$");
  return { ended: bool(o, "ended", "$"), clearCookie: strOrNull(o, "clear_cookie", "$") };
}

/** Decodes an {@link Inspection}. */
export function decodeInspection(v: unknown): Inspection {
  const o = obj(v, "$");
  return {
    id: str(o, "id", "$"),
    exists: bool(o, "exists", "$"),
    live: bool(o, "live", "$"),
    user: strOrNull(o, "user", "$"),
    data: o.data === null || o.data === undefined ? null : (obj(o.data, "$.data") as Data),
    version: intOrNull(o, "version", "$"),
    createdAt: intOrNull(o, "created_at", "$"),
    lastAccessed: intOrNull(o, "last_accessed", "$"),
    idleSecondsLeft: intOrNull(o, "idle_seconds_left", "$"),
    absoluteSecondsLeft: intOrNull(o, "absolute_seconds_left", "$"),
    device: o.device === null || o.device === undefined ? null : decodeDevice(o.device, "$.device"),
    endReason: oneOf(strOrNull(o, "end_reason", "$"), END_REASONS, "$.end_reason"),
    endedAt: intOrNull(o, "ended_at", "$"),
  };
}

/** Decodes a {@link CookieInspection}. */
export function decodeCookieInspection(v: unknown): CookieInspection {
  const o = obj(v, "$");
  const problems: readonly CookieProblem[] = [
    "malformed",
    "bad_signature",
    "expired",
    "from_the_future",
    "not_a_session_token",
  ];
  return {
    valid: bool(o, "valid", "$"),
    reason: oneOf(strOrNull(o, "reason", "$"), problems, "$.reason"),
    keyIndex: intOrNull(o, "key_index", "$"),
    issuedAt: intOrNull(o, "issued_at", "$"),
    ageSecs: intOrNull(o, "age_secs", "$"),
    timeLeftSecs: intOrNull(o, "time_left_secs", "$"),
    sessionId: strOrNull(o, "session_id", "$"),
  };
}

/** Decodes a list of sessions (`{user, sessions}`). */
export function decodeUserSessions(v: unknown): Session[] {
  const o = obj(v, "$");
  const list = o.sessions;
  if (!Array.isArray(list)) fail("an array", "$.sessions");
  return list.map((s, i) => decodeSession(s, `$.sessions[${i}]`));
}

/** Decodes `{revoked: [id, ...]}`. */
export function decodeRevoked(v: unknown): string[] {
  return strings(obj(v, "$"), "revoked", "$");
}

/** Decodes a {@link CleanupReport}. */
export function decodeCleanup(v: unknown): CleanupReport {
  const o = obj(v, "$");
  return {
    scanned: int(o, "scanned", "$"),
    deleted: int(o, "deleted", "$"),
    expired: int(o, "expired", "$"),
    durationMs: int(o, "duration_ms", "$"),
  };
}

/** Decodes an increment's answer: the new value. */
export function decodeIncrement(v: unknown): number {
  return int(obj(v, "$"), "value", "$");
}

/** Decodes a {@link CookiePolicy}. */
export function decodeCookiePolicy(v: unknown): CookiePolicy {
  const o = obj(v, "$");
  const sameSite = oneOf(str(o, "same_site", "$"), ["Strict", "Lax", "None"] as const, "$.same_site");
  return {
    name: str(o, "name", "$"),
    path: str(o, "path", "$"),
    domain: strOrNull(o, "domain", "$"),
    secure: bool(o, "secure", "$"),
    httpOnly: bool(o, "http_only", "$"),
    sameSite: sameSite ?? "Strict",
    maxAge: intOrNull(o, "max_age", "$"),
    development: bool(o, "development", "$"),
  };
}
