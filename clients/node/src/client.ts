/**
 * {@link Sesame}: every `/v1` operation of `sesame serve` as a typed method.
 *
 * Transport choices, and why:
 * - Node's built-in `fetch` (undici), no runtime dependency: it keeps
 *   connections alive and reuses them across calls, which is most of a
 *   validate's cost on loopback.
 * - Every attempt is bounded by a timeout (`timeoutMs`, default 5 s, at most
 *   60 s: an `AbortController` and a timer, see `#call`); the app's own
 *   `signal` can cut it shorter.
 * - Retries only when no answer came, and only where repeating the call
 *   cannot do something twice: any call whose connection was refused (it
 *   never reached sesame); after a reset or lost answer, only reads, `end`,
 *   revokes and a `patch` without `expectedVersion`. Never `create`,
 *   `validate`, `rotate`, `increment`, or a `patch` with `expectedVersion`
 *   (a repeat could make a second session, present a token the first attempt
 *   renewed, burn the new token, count twice, or report its own success as a
 *   conflict). A timeout is not retried either: the first attempt may still
 *   be running. Error answers (503 included) are not retried: they go to the
 *   app, typed, with `retryAfter`.
 * - The device (decision D1) goes as `Sesame-Device-*` headers on every call
 *   that has one, `create` included (the service also takes a body `device`
 *   there; one way for every call is one way to get right), normalized by
 *   `device.ts`.
 *
 * @module
 */

import {
  ConnectionFailed,
  RequestTimeout,
  SesameError,
  UnexpectedResponse,
  errorFromResponse,
} from "./errors.js";
import { deviceHeaders, normalizeDevice } from "./device.js";
import {
  decodeCleanup,
  decodeCookieInspection,
  decodeCookiePolicy,
  decodeEnded,
  decodeIncrement,
  decodeInspection,
  decodeIssued,
  decodeRevoked,
  decodeSession,
  decodeUserSessions,
  decodeValidated,
} from "./types.js";
import type {
  CleanupReport,
  CookieInspection,
  CookiePolicy,
  Data,
  Device,
  Ended,
  Inspection,
  Issued,
  JsonValue,
  Session,
  Validated,
} from "./types.js";

/**
 * How a session is named to sesame: its token (`Sesame-Token`), or the
 * cookie value that seals it (`Sesame-Cookie`).
 */
export type Credential = { readonly token: string } | { readonly cookie: string };

/** Settings of a {@link Sesame} client. */
export interface SesameOptions {
  /** Where `sesame serve` listens, e.g. `http://127.0.0.1:7700`. */
  url: string | URL;
  /** The API key (`sk_...`), sent as `Authorization: Bearer`. */
  apiKey: string;
  /** The most one attempt may take, in ms (default 5000; 1 to 60000). */
  timeoutMs?: number;
  /** Extra attempts for an idempotent call whose connection failed (default 1; 0 to 5). */
  retries?: number;
  /** How long the cookie policy is cached, in ms (default and most 60000). */
  cookiePolicyTtlMs?: number;
  /** The largest answer accepted, in bytes (default 4 MiB). */
  maxResponseBytes?: number;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

/** Per-call options. */
export interface CallOptions {
  /** The client presenting the session (sent as the D1 headers). */
  device?: Device;
  /** Cancels the call (in addition to the client's timeout). */
  signal?: AbortSignal;
}

/** What `create` takes. */
export interface CreateOptions {
  /** The user; absent or null for an anonymous session. */
  user?: string | null;
  /** Initial data. */
  data?: Data;
  /** The client the session is bound to. */
  device?: Device;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** What `patch` changes. */
export interface PatchChanges {
  /** Keys to set. */
  set?: Data;
  /** Keys to remove. */
  remove?: string[];
  /** Apply only if the session is still at this version, else {@link Conflict}. */
  expectedVersion?: number;
}

/** Which session `revokeUserSessions` keeps: by id or by token ("log out my other devices"). */
export type RevokeExcept = { exceptId: string } | { exceptToken: string } | Record<string, never>;

interface Call {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  credential?: Credential;
  device?: Device;
  body?: unknown;
  idempotent: boolean;
  signal?: AbortSignal | undefined;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const MAX_TIMEOUT_MS = 60_000;
const POLICY_TTL_MS = 60_000;

function bounded(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * A client of `sesame serve`. Create one per process and share it: it holds
 * no per-request state, and connections are pooled by `fetch`.
 *
 * @example
 * ```ts
 * const sesame = new Sesame({ url: "http://127.0.0.1:7700", apiKey: process.env.SESAME_API_KEY! });
 * const issued = await sesame.create({ user: "alice", device: { userAgent: ua } });
 * const { session } = await sesame.validate({ token: issued.token }, { device: { userAgent: ua } });
 * ```
 */
export class Sesame {
  readonly #base: string;
  readonly #auth: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #policyTtlMs: number;
  readonly #maxResponseBytes: number;
  readonly #fetch: typeof fetch;
  #policy: { value: CookiePolicy; until: number } | null = null;
  #policyLoading: Promise<CookiePolicy> | null = null;

  /**
   * @param options - where sesame is and the API key
   * @throws TypeError - for a URL that is not http(s) or an empty API key
   * @throws RangeError - for a setting out of its bounds
   */
  constructor(options: SesameOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`url must be http:// or https://, not ${url.protocol}`);
    }
    if (typeof options.apiKey !== "string" || options.apiKey.trim() === "") {
      throw new TypeError("apiKey is required");
    }
    this.#base = url.href.replace(/\/+$/, "");
    this.#auth = `Bearer ${options.apiKey.trim()}`;
    this.#timeoutMs = bounded("timeoutMs", options.timeoutMs, DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
    this.#retries = bounded("retries", options.retries, 1, 0, 5);
    this.#policyTtlMs = bounded("cookiePolicyTtlMs", options.cookiePolicyTtlMs, POLICY_TTL_MS, 0, POLICY_TTL_MS);
    this.#maxResponseBytes = bounded("maxResponseBytes", options.maxResponseBytes, 4 << 20, 1024, 1 << 30);
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  // ---------------------------------------------------------------- sessions

  /**
   * Creates a session (login, or an anonymous session with no `user`).
   * Not retried.
   *
   * @returns the new token, its cookie value and `Set-Cookie`, the session,
   *   and the sessions the per-user cap evicted
   * @throws {@link LimitReached} when the user is at the cap and the policy rejects new sessions
   * @throws {@link InvalidUserId}, {@link DataTooLarge}, {@link SesameUnavailable}
   */
  async create(options: CreateOptions = {}): Promise<Issued> {
    const body: Record<string, unknown> = {};
    if (options.user !== undefined && options.user !== null) body.user = options.user;
    if (options.data !== undefined) body.data = options.data;
    const call: Call = { method: "POST", path: "/v1/sessions", body, idempotent: false, signal: options.signal };
    if (options.device !== undefined) call.device = options.device;
    const answer = await this.#call(call);
    return decodeIssued(answer);
  }

  /**
   * Validates a session — the hot path: checks it, records the use, and may
   * renew its token (`renewed`: send the new cookie to the client).
   * Retried only when the connection was refused (a repeat of an attempt that
   * renewed the token would lose the new one).
   *
   * @throws {@link InvalidSession}, {@link SessionEnded} (with `reason`),
   *   {@link TooManyInvalidTokens}, {@link SesameUnavailable}
   */
  async validate(credential: Credential, options: CallOptions = {}): Promise<Validated> {
    return decodeValidated(
      await this.#call({ method: "POST", path: "/v1/session/validate", credential, idempotent: false, ...opts(options) }),
    );
  }

  /**
   * The session and its data, without counting a use.
   *
   * @throws {@link InvalidSession}, {@link SessionEnded}, {@link SesameUnavailable}
   */
  async get(credential: Credential, options: CallOptions = {}): Promise<Session> {
    return decodeSession(
      await this.#call({ method: "GET", path: "/v1/session", credential, idempotent: true, ...opts(options) }),
      "$",
    );
  }

  /**
   * Sets and removes data keys in one atomic step; with `expectedVersion`, only
   * if nobody changed the session since (compare-and-set).
   *
   * @returns the session after the change
   * @throws {@link Conflict} (with `currentVersion`) when `expectedVersion` is stale
   * @throws {@link InvalidKey}, {@link DataTooLarge}, {@link SessionRefused}, {@link SesameUnavailable}
   */
  async patch(credential: Credential, changes: PatchChanges, options: CallOptions = {}): Promise<Session> {
    const body: Record<string, unknown> = {};
    if (changes.set !== undefined) body.set = changes.set;
    if (changes.remove !== undefined) body.remove = changes.remove;
    if (changes.expectedVersion !== undefined) body.expected_version = changes.expectedVersion;
    return decodeSession(
      await this.#call({
        method: "PATCH",
        path: "/v1/session",
        credential,
        body,
        idempotent: changes.expectedVersion === undefined,
        ...opts(options),
      }),
      "$",
    );
  }

  /**
   * Adds `by` (default 1, may be negative) to the integer at `key`, atomically.
   * Not retried (a repeat would count twice).
   *
   * @returns the new value
   * @throws {@link NotAnInteger} when the value is not an integer or would overflow
   */
  async increment(credential: Credential, key: string, by = 1, options: CallOptions = {}): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new RangeError("by must be a safe integer");
    return decodeIncrement(
      await this.#call({
        method: "POST",
        path: "/v1/session/increment",
        credential,
        body: { key, by },
        idempotent: false,
        ...opts(options),
      }),
    );
  }

  /**
   * Replaces the session's token (privilege change); with `user`, logs that
   * user in on the session (its lifetime restarts). Send the new `setCookie`
   * to the client. Not retried (a repeat would present the burnt token).
   *
   * @throws {@link SessionRefused}, {@link InvalidUserId}, {@link SesameUnavailable}
   */
  async rotate(credential: Credential, rotation: { user?: string | null } = {}, options: CallOptions = {}): Promise<Issued> {
    const body = rotation.user === undefined || rotation.user === null ? {} : { user: rotation.user };
    return decodeIssued(
      await this.#call({
        method: "POST",
        path: "/v1/session/rotate",
        credential,
        body,
        idempotent: false,
        ...opts(options),
      }),
    );
  }

  /**
   * Logs `user` in on an existing (anonymous) session: a new token, the data kept.
   * Same as `rotate(credential, { user })`.
   */
  async login(credential: Credential, user: string, options: CallOptions = {}): Promise<Issued> {
    return this.rotate(credential, { user }, options);
  }

  /**
   * Ends the session (logout). Send `clearCookie` to the client.
   *
   * @returns whether it was live, and the cookie removal value
   * @throws {@link SessionRefused} when it had already ended (it carries `clearCookie` too)
   */
  async end(credential: Credential, options: CallOptions = {}): Promise<Ended> {
    return decodeEnded(
      await this.#call({ method: "DELETE", path: "/v1/session", credential, idempotent: true, ...opts(options) }),
    );
  }

  // ---------------------------------------------------------------- admin

  /**
   * Everything known about a session by its credential, live or ended (admin scope).
   */
  async inspect(credential: Credential, options: CallOptions = {}): Promise<Inspection> {
    return decodeInspection(
      await this.#call({ method: "GET", path: "/v1/session/inspect", credential, idempotent: true, ...opts(options) }),
    );
  }

  /** Everything known about a session by its id (admin scope). */
  async inspectId(id: string, options: { signal?: AbortSignal } = {}): Promise<Inspection> {
    return decodeInspection(
      await this.#call({ method: "GET", path: `/v1/sessions/${encodeURIComponent(id)}`, idempotent: true, signal: options.signal }),
    );
  }

  /**
   * Ends one session by id, reason `revoked` (admin scope).
   *
   * @returns false when it was not live
   */
  async revokeSession(id: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const answer = await this.#call({
      method: "POST",
      path: `/v1/sessions/${encodeURIComponent(id)}/revoke`,
      idempotent: true,
      signal: options.signal,
    });
    return decodeEnded(answer).ended;
  }

  /** A user's live sessions, oldest first (admin scope). */
  async listUserSessions(user: string, options: { signal?: AbortSignal } = {}): Promise<Session[]> {
    return decodeUserSessions(
      await this.#call({ method: "GET", path: `/v1/users/${encodeURIComponent(user)}/sessions`, idempotent: true, signal: options.signal }),
    );
  }

  /**
   * Ends all of a user's sessions ("log out everywhere"), or all but one
   * ("log out my other devices": `{ exceptToken }` or `{ exceptId }`) (admin scope).
   *
   * @returns the ids of the sessions ended
   */
  async revokeUserSessions(user: string, except: RevokeExcept = {}, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const body: Record<string, string> = {};
    if ("exceptId" in except && except.exceptId !== undefined) body.except_id = except.exceptId;
    if ("exceptToken" in except && except.exceptToken !== undefined) body.except_token = except.exceptToken;
    return decodeRevoked(
      await this.#call({
        method: "POST",
        path: `/v1/users/${encodeURIComponent(user)}/revoke`,
        body,
        idempotent: true,
        signal: options.signal,
      }),
    );
  }

  /** What a cookie value holds, or why it is not valid (admin scope; the recipe's `debug_cookie`). */
  async decodeCookie(cookie: string, options: { signal?: AbortSignal } = {}): Promise<CookieInspection> {
    return decodeCookieInspection(
      await this.#call({ method: "POST", path: "/v1/cookies/decode", body: { cookie }, idempotent: true, signal: options.signal }),
    );
  }

  /** Runs one cleanup pass now (admin scope). */
  async cleanup(options: { signal?: AbortSignal } = {}): Promise<CleanupReport> {
    return decodeCleanup(await this.#call({ method: "POST", path: "/v1/cleanup", idempotent: true, signal: options.signal }));
  }

  // ---------------------------------------------------------------- cookie policy

  /**
   * The service's cookie policy (decision D2: `GET /v1/cookie-policy`),
   * cached for `cookiePolicyTtlMs` (at most 60 s) so that a policy change in
   * the service reaches the app within a minute. Concurrent callers share one
   * fetch. When a refresh fails, the last known policy is kept until a later
   * refresh succeeds; with none known, the error is thrown.
   */
  async cookiePolicy(options: { signal?: AbortSignal } = {}): Promise<CookiePolicy> {
    const cached = this.#policy;
    if (cached !== null && Date.now() < cached.until) return cached.value;
    if (this.#policyLoading === null) {
      this.#policyLoading = this.#call({ method: "GET", path: "/v1/cookie-policy", idempotent: true, signal: options.signal })
        .then((answer) => {
          const value = decodeCookiePolicy(answer);
          this.#policy = { value, until: Date.now() + this.#policyTtlMs };
          return value;
        })
        .finally(() => {
          this.#policyLoading = null;
        });
    }
    try {
      return await this.#policyLoading;
    } catch (e) {
      if (cached !== null) return cached.value;
      throw e;
    }
  }

  // ---------------------------------------------------------------- transport

  async #call(call: Call): Promise<unknown> {
    const headers: Record<string, string> = { authorization: this.#auth, accept: "application/json" };
    if (call.credential !== undefined) {
      if ("token" in call.credential) headers["sesame-token"] = call.credential.token;
      else headers["sesame-cookie"] = call.credential.cookie;
    }
    if (call.device !== undefined) deviceHeaders(normalizeDevice(call.device), headers);
    let body: string | undefined;
    if (call.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.body);
    }
    const url = this.#base + call.path;
    for (let attempt = 0; ; attempt++) {
      // The first repeat goes at once (a stale keep-alive connection); later ones back off.
      if (attempt > 1) await sleep(25 * 2 ** (attempt - 1), call.signal);
      // A controller and a timer cleared at the end rather than
      // AbortSignal.timeout: the same bound, but AbortSignal.timeout keeps
      // its timer alive for the whole timeout and cost ~27 us per call on
      // Node 20 (docs/BENCHMARKS.md, "Node client"); this costs ~0.5 us.
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new DOMException("timeout", "TimeoutError")), this.#timeoutMs);
      const signal = call.signal ? AbortSignal.any([call.signal, timeout.signal]) : timeout.signal;
      try {
        let response: Response;
        try {
          response = await this.#fetch(url, { method: call.method, headers, body: body ?? null, signal });
        } catch (e) {
          if (call.signal?.aborted) throw call.signal.reason;
          if (timeout.signal.aborted) throw new RequestTimeout(this.#timeoutMs, e);
          if ((call.idempotent || neverSent(e)) && attempt < this.#retries) continue;
          throw new ConnectionFailed(`sesame at ${this.#base} could not be reached: ${describe(e)}`, e);
        }
        try {
          return await this.#read(response);
        } catch (e) {
          if (e instanceof SesameError) throw e;
          if (call.signal?.aborted) throw call.signal.reason;
          if (timeout.signal.aborted) throw new RequestTimeout(this.#timeoutMs, e);
          throw new ConnectionFailed(`sesame's answer was cut off: ${describe(e)}`, e);
        }
      } finally {
        clearTimeout(timer);
      }
    }
  }

  async #read(response: Response): Promise<unknown> {
    const length = response.headers.get("content-length");
    if (length !== null && Number(length) > this.#maxResponseBytes) {
      await response.body?.cancel();
      throw new UnexpectedResponse(`sesame's answer is over ${this.#maxResponseBytes} bytes`, response.status);
    }
    const text = await response.text();
    if (text.length > this.#maxResponseBytes) {
      throw new UnexpectedResponse(`sesame's answer is over ${this.#maxResponseBytes} bytes`, response.status);
    }
    const type = response.headers.get("content-type") ?? "";
    let value: unknown;
    if (type.startsWith("application/json")) {
      try {
        value = JSON.parse(text);
      } catch {
        throw new UnexpectedResponse("sesame answered malformed JSON", response.status);
      }
    } else if (response.ok) {
      throw new UnexpectedResponse(`sesame answered ${type || "no content type"}, not JSON`, response.status);
    }
    if (response.ok) return value;
    throw errorFromResponse(response.status, value, response.headers.get("retry-after"));
  }
}

function opts(options: CallOptions): { device?: Device; signal?: AbortSignal } {
  const out: { device?: Device; signal?: AbortSignal } = {};
  if (options.device !== undefined) out.device = options.device;
  if (options.signal !== undefined) out.signal = options.signal;
  return out;
}

/**
 * Whether a fetch failure shows the request never reached sesame: the
 * connection was refused, so any call may be repeated.
 */
function neverSent(e: unknown): boolean {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause;
  return cause?.code === "ECONNREFUSED";
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    if (cause instanceof Error) return `${e.message} (${cause.message})`;
    return e.message;
  }
  return String(e);
}

export type { JsonValue };
