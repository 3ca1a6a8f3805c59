/**
 * One error class per error `code` of `sesame serve`, grouped by what an app
 * does about it.
 *
 * Every error the client throws is a {@link SesameError}. The groups are
 * classes too, so an app (or the framework integrations) can decide with one
 * `instanceof`:
 * - {@link SessionRefused}: the credential is no good (401 `invalid`, an
 *   ended session, or none sent) — clear the cookie, ask for a login.
 * - {@link SesameUnavailable}: sesame or its store cannot answer now (503,
 *   a timeout, a refused connection), or its guessing guard blocks the
 *   address (429, {@link TooManyInvalidTokens}) — answer 503 with
 *   `Retry-After`, never 500.
 * - {@link RequestRejected}: the request was wrong (400, 409, 413, 415, 422, ...).
 * - {@link ApiKeyRejected}: the app's own API key is missing, unknown or lacks
 *   the scope — a deployment mistake, not the end user's.
 *
 * A code this client does not know yet still arrives as a {@link SesameError}
 * with that `code`, so a newer server never breaks an older client.
 *
 * @module
 */

import type { EndReason } from "./types.js";

/** What every error of this package carries. */
export class SesameError extends Error {
  /** The HTTP status of sesame's answer; 0 when there was no answer. */
  readonly status: number;
  /** The stable machine-readable code (`invalid`, `conflict`, ...). */
  readonly code: string;

  /**
   * @param status - the HTTP status (0 for none)
   * @param code - the `code` of the error body
   * @param message - the service's `message`
   * @param options - `cause`, for errors wrapping another
   */
  constructor(status: number, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.name = new.target.name;
  }
}

// ------------------------------------------------------------ session refused

/**
 * The session credential is not (or no longer) good: the app should clear the
 * cookie (with {@link SessionRefused.clearCookie}) and ask for a login.
 */
export class SessionRefused extends SesameError {
  /**
   * The complete `Set-Cookie` value that removes the session cookie, as the
   * service sends it with every 401 to a request that presented a credential;
   * null when it sent none.
   */
  readonly clearCookie: string | null;

  /**
   * @param status - the HTTP status
   * @param code - the code
   * @param message - the message
   * @param clearCookie - the removal `Set-Cookie` value, if sent
   */
  constructor(status: number, code: string, message: string, clearCookie: string | null) {
    super(status, code, message);
    this.clearCookie = clearCookie;
  }
}

/** 401 `invalid`: unknown, malformed or forged token or cookie. */
export class InvalidSession extends SessionRefused {}

/**
 * 401 for a session that ended: codes `expired`, `logged_out`, `revoked`,
 * `evicted`, `rotated`, `device_mismatch`, `token_reuse`, `security_event`,
 * `dbsc_failed`, with the precise {@link SessionEnded.reason}.
 */
export class SessionEnded extends SessionRefused {
  /** Why it ended (`expired_idle`, `revoked`, `cookie_expired`, ...). */
  readonly reason: EndReason;

  /**
   * @param code - the code
   * @param message - the message
   * @param reason - the end reason
   * @param clearCookie - the removal `Set-Cookie` value, if sent
   */
  constructor(code: string, message: string, reason: EndReason, clearCookie: string | null) {
    super(401, code, message, clearCookie);
    this.reason = reason;
  }
}

/**
 * No session credential came with the end user's request (no cookie, no
 * bearer token). Raised by the framework integrations, never by sesame.
 */
export class MissingSession extends SessionRefused {
  /** @param message - what was missing */
  constructor(message = "no session: log in first") {
    super(401, "missing_session", message, null);
  }
}

// -------------------------------------------------------------- unavailable

/** Sesame or its store cannot answer now: answer 503 with `Retry-After`. */
export class SesameUnavailable extends SesameError {
  /** Seconds to wait, from `Retry-After` (1 when the service gave none). */
  readonly retryAfter: number;

  /**
   * @param status - the HTTP status (0 for none)
   * @param code - the code
   * @param message - the message
   * @param retryAfter - seconds
   * @param options - `cause`
   */
  constructor(
    status: number,
    code: string,
    message: string,
    retryAfter: number,
    options?: { cause?: unknown },
  ) {
    super(status, code, message, options);
    this.retryAfter = retryAfter;
  }
}

/** 503 `store_unavailable`: the session store did not answer. */
export class StoreUnavailable extends SesameUnavailable {}

/** 503 `store_full`: the store's bound or its disk is full. */
export class StoreFull extends SesameUnavailable {}

/** 503 `timeout`: the service's request timeout passed. */
export class ServiceTimeout extends SesameUnavailable {}

/** 503 `overloaded`: no concurrency permit was free within the service's queue timeout. */
export class Overloaded extends SesameUnavailable {}

/** No answer within the client's timeout (code `client_timeout`, status 0). */
export class RequestTimeout extends SesameUnavailable {
  /**
   * @param timeoutMs - the timeout that passed
   * @param cause - the abort reason
   */
  constructor(timeoutMs: number, cause?: unknown) {
    super(0, "client_timeout", `sesame did not answer within ${timeoutMs} ms`, 1, { cause });
  }
}

/** Sesame could not be reached: refused or reset connection (code `connection_failed`, status 0). */
export class ConnectionFailed extends SesameUnavailable {
  /**
   * @param message - what failed
   * @param cause - the network error
   */
  constructor(message: string, cause?: unknown) {
    super(0, "connection_failed", message, 1, { cause });
  }
}

/**
 * 429 `too_many_invalid_tokens`: sesame's token-guessing guard blocks this
 * end user's address (or this API key) for a while. A backend refusal, not
 * the end user's answer: the integrations answer 503 with `Retry-After`.
 */
export class TooManyInvalidTokens extends SesameUnavailable {
  /**
   * @param message - the message
   * @param retryAfter - seconds until the block ends
   */
  constructor(message: string, retryAfter: number) {
    super(429, "too_many_invalid_tokens", message, retryAfter);
  }
}

// ------------------------------------------------------------ request rejected

/** The request was refused for what it asked (4xx other than 401/403/429). */
export class RequestRejected extends SesameError {}

/** 409 `conflict`: `expectedVersion` is stale. */
export class Conflict extends RequestRejected {
  /** The session's current version: re-read and try again. */
  readonly currentVersion: number;

  /**
   * @param message - the message
   * @param currentVersion - the session's version now
   */
  constructor(message: string, currentVersion: number) {
    super(409, "conflict", message);
    this.currentVersion = currentVersion;
  }
}

/** 409 `limit_reached`: the user has the maximum number of sessions (`on_limit = "reject_new"`). */
export class LimitReached extends RequestRejected {}
/** 413 `data_too_large`: the session data would exceed the policy's maximum. */
export class DataTooLarge extends RequestRejected {}
/** 413 `payload_too_large`: the request body is over the service's limit. */
export class PayloadTooLarge extends RequestRejected {}
/** 408 `body_timeout`: the request body did not arrive in full within the service's limit. */
export class BodyTimeout extends RequestRejected {}
/** 422 `not_an_integer`: increment of a non-integer value, or an overflow. */
export class NotAnInteger extends RequestRejected {}
/** 400 `invalid_json`. */
export class InvalidJson extends RequestRejected {}
/** 400 `invalid_user_id`: empty, over 256 bytes, or with control characters. */
export class InvalidUserId extends RequestRejected {}
/** 400 `invalid_key`: a data key the service refuses. */
export class InvalidKey extends RequestRejected {}
/** 400 `invalid_session_id`: not 64 lowercase hex digits. */
export class InvalidSessionId extends RequestRejected {}
/** 400 `invalid_value`: a value that is not valid JSON for the store. */
export class InvalidValue extends RequestRejected {}
/** 400 `ambiguous_credential`: both a token and a cookie were sent. */
export class AmbiguousCredential extends RequestRejected {}
/** 400 `ambiguous_device`: the device came both as headers and in the body. */
export class AmbiguousDevice extends RequestRejected {}
/** 400 `invalid_device`: a `Sesame-Device-*` header is malformed or repeated. */
export class InvalidDevice extends RequestRejected {}
/** 400 `cookies_disabled`: the service has no cookie keys. */
export class CookiesDisabled extends RequestRejected {}
/** 400 `invalid_request`. */
export class InvalidRequest extends RequestRejected {}
/** 415 `unsupported_media_type`. */
export class UnsupportedMediaType extends RequestRejected {}
/** 431 `headers_too_large`. */
export class HeadersTooLarge extends RequestRejected {}
/** 404 `not_found`: no such endpoint (an older service?). */
export class NotFound extends RequestRejected {}
/** 405 `method_not_allowed`. */
export class MethodNotAllowed extends RequestRejected {}

// ------------------------------------------------------------------ api key

/** The app's API key was refused: a deployment mistake. */
export class ApiKeyRejected extends SesameError {}
/** 401 `missing_api_key`. */
export class MissingApiKey extends ApiKeyRejected {}
/** 401 `invalid_api_key`. */
export class InvalidApiKey extends ApiKeyRejected {}
/** 403 `forbidden`: the key lacks the scope the operation needs. */
export class Forbidden extends ApiKeyRejected {}

// ------------------------------------------------------------------ other

/**
 * The service's cookie policy is in development mode (a cookie without
 * `Secure`, for `http://localhost`) but the end user's request is for
 * another host: the integrations refuse to read or set the cookie (code
 * `development_cookie_policy`, status 0). A deployment mistake.
 */
export class DevelopmentCookiePolicy extends SesameError {
  /** @param host - the request's host */
  constructor(host: string) {
    super(
      0,
      "development_cookie_policy",
      `sesame's cookie policy is in development mode (no Secure), which serves only localhost, 127.0.0.1 and [::1], not ${JSON.stringify(host.slice(0, 100))}`,
    );
  }
}

/** 500 `internal`: the service failed; its log has the detail. */
export class InternalError extends SesameError {}

/** An answer that does not match the API (wrong content type, malformed JSON, a missing field). */
export class UnexpectedResponse extends SesameError {
  /**
   * @param message - what was wrong
   * @param status - the HTTP status, if there was an answer
   */
  constructor(message: string, status = 0) {
    super(status, "unexpected_response", message);
  }
}

// ------------------------------------------------------------------ mapping

type Plain = new (status: number, code: string, message: string) => SesameError;

const PLAIN: Record<string, Plain> = {
  limit_reached: LimitReached,
  data_too_large: DataTooLarge,
  payload_too_large: PayloadTooLarge,
  body_timeout: BodyTimeout,
  not_an_integer: NotAnInteger,
  invalid_json: InvalidJson,
  invalid_user_id: InvalidUserId,
  invalid_key: InvalidKey,
  invalid_session_id: InvalidSessionId,
  invalid_value: InvalidValue,
  ambiguous_credential: AmbiguousCredential,
  ambiguous_device: AmbiguousDevice,
  invalid_device: InvalidDevice,
  cookies_disabled: CookiesDisabled,
  invalid_request: InvalidRequest,
  unsupported_media_type: UnsupportedMediaType,
  headers_too_large: HeadersTooLarge,
  not_found: NotFound,
  method_not_allowed: MethodNotAllowed,
  missing_api_key: MissingApiKey,
  invalid_api_key: InvalidApiKey,
  forbidden: Forbidden,
  internal: InternalError,
};

const ENDED_CODES = new Set([
  "expired",
  "logged_out",
  "revoked",
  "evicted",
  "rotated",
  "device_mismatch",
  "token_reuse",
  "security_event",
  "dbsc_failed",
]);

const UNAVAILABLE: Record<string, typeof StoreUnavailable> = {
  store_unavailable: StoreUnavailable,
  store_full: StoreFull,
  timeout: ServiceTimeout,
  overloaded: Overloaded,
};

/**
 * Seconds from a `Retry-After` header: delta-seconds only (sesame never sends a
 * date), bounded to a day; 1 when absent or unreadable.
 */
export function retryAfterSeconds(header: string | null): number {
  if (header === null || !/^\s*\d{1,6}\s*$/.test(header)) return 1;
  return Math.min(Number(header), 86_400);
}

/**
 * The error for one of sesame's error answers.
 *
 * @param status - the HTTP status
 * @param body - the parsed JSON body (`{code, message, reason?, current_version?, clear_cookie?}`)
 * @param retryAfter - the `Retry-After` header, if any
 */
export function errorFromResponse(status: number, body: unknown, retryAfter: string | null): SesameError {
  if (typeof body !== "object" || body === null || typeof (body as { code?: unknown }).code !== "string") {
    return new UnexpectedResponse(`sesame answered ${status} without an error code`, status);
  }
  const b = body as Record<string, unknown>;
  const code = b.code as string;
  const message = typeof b.message === "string" ? b.message : code;
  const clearCookie = typeof b.clear_cookie === "string" ? b.clear_cookie : null;
  if (code === "invalid") return new InvalidSession(status, code, message, clearCookie);
  if (ENDED_CODES.has(code)) {
    const reason = typeof b.reason === "string" ? b.reason : code;
    return new SessionEnded(code, message, reason as EndReason, clearCookie);
  }
  if (code === "conflict") {
    const v = b.current_version;
    return new Conflict(message, typeof v === "number" ? v : -1);
  }
  const unavailable = UNAVAILABLE[code];
  if (unavailable) return new unavailable(status, code, message, retryAfterSeconds(retryAfter));
  if (code === "too_many_invalid_tokens") return new TooManyInvalidTokens(message, retryAfterSeconds(retryAfter));
  const plain = PLAIN[code];
  if (plain) return new plain(status, code, message);
  // A code this client does not know: keep it, grouped by status.
  if (status === 503) return new SesameUnavailable(status, code, message, retryAfterSeconds(retryAfter));
  if (status >= 400 && status < 500) return new RequestRejected(status, code, message);
  return new SesameError(status, code, message);
}
