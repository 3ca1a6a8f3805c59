/**
 * Express (and plain `node:http`) integration: `requireSession()` sets
 * `req.sesame`, `optionalSession()` sets it when there is a good session,
 * and `login` / `logout` / `logoutEverywhere` set and remove the cookie.
 *
 * The middleware is typed on `node:http`'s `IncomingMessage` and
 * `ServerResponse`, which Express's request and response extend, so this
 * module needs no Express at run time (nor its types at compile time beyond
 * the optional `req.sesame` augmentation below). The work is done by
 * {@link SessionGuard}; this file only reads headers and writes responses.
 *
 * @example
 * ```ts
 * const auth = sesameExpress(new Sesame({ url: process.env.SESAME_URL!, apiKey: process.env.SESAME_API_KEY! }));
 * app.get("/profile", auth.requireSession(), (req, res) => res.json({ user: req.sesame!.user }));
 * ```
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";

import type { Sesame } from "./client.js";
import type { SesameError } from "./errors.js";
import {
  type GuardOptions,
  type IncomingParts,
  type LoginResult,
  type LogoutResult,
  RequestSession,
  SessionGuard,
  refusalOf,
} from "./guard.js";
import type { Data } from "./types.js";

type RefusalOutcome = NonNullable<ReturnType<typeof refusalOf>>;

declare global {
  // Express's request type merges this interface (as `req.sesame`).
  namespace Express {
    interface Request {
      /** The validated session, set by `requireSession()` / `optionalSession()`. */
      sesame?: RequestSession | null;
    }
  }
}

/** A connect-style `next`. */
export type Next = (err?: unknown) => void;

/** A connect-style middleware, as Express takes it. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** A connect-style error middleware (four arguments), as Express takes it. */
export type ErrorMiddleware = (err: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** What a refused request gets: status, body, headers already chosen. */
export interface Refusal {
  /** 401 or 503. */
  status: 401 | 503;
  /** The reason. */
  error: SesameError;
  /** The default JSON body. */
  body: { code: string; reason?: string; message: string };
}

/** Settings of the Express integration. */
export interface ExpressOptions extends GuardOptions {
  /**
   * Writes the answer to a refused request (the cookie removal and
   * `Retry-After` are already set). Default: the status and a JSON body
   * `{code, reason?, message}`. An HTML app may redirect a 401 to its login page.
   */
  onRefused?: (req: IncomingMessage, res: ServerResponse, refusal: Refusal) => void;
}

/** The request with `sesame` set. */
type WithSesame = IncomingMessage & { sesame?: RequestSession | null };

/**
 * Adds `Set-Cookie` values to a response without dropping ones already set,
 * and marks the response `Cache-Control: no-store` unless it has a
 * `Cache-Control` already (a cached response must never hand one user's
 * cookie to another).
 */
export function appendSetCookies(res: ServerResponse, values: readonly string[]): void {
  if (values.length === 0) return;
  const prev = res.getHeader("set-cookie");
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
  res.setHeader("set-cookie", [...list, ...values]);
  if (!res.hasHeader("cache-control")) res.setHeader("cache-control", "no-store");
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** The parts of a `node:http` request the guard reads. */
export function partsOf(req: IncomingMessage): IncomingParts {
  return {
    cookie: header(req, "cookie"),
    authorization: req.headers.authorization,
    userAgent: req.headers["user-agent"],
    peer: req.socket?.remoteAddress,
    forwardedFor: req.headers["x-forwarded-for"],
    host: req.headers.host,
    header: (name) => header(req, name),
  };
}

function defaultRefused(_req: IncomingMessage, res: ServerResponse, refusal: Refusal): void {
  res.statusCode = refusal.status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.end(JSON.stringify(refusal.body));
}

/**
 * The session of a request that passed `requireSession()`.
 *
 * @throws Error when the middleware did not run on this route (a programming error)
 */
export function sessionOf(req: IncomingMessage): RequestSession {
  const s = (req as WithSesame).sesame;
  if (!(s instanceof RequestSession)) throw new Error("no sesame session on this request: add requireSession() to the route");
  return s;
}

/** The Express integration; make one per app with {@link sesameExpress}. */
export class SesameExpress {
  /** The engine, for anything the helpers below do not cover. */
  readonly guard: SessionGuard;
  readonly #onRefused: NonNullable<ExpressOptions["onRefused"]>;

  /**
   * @param client - the sesame client
   * @param options - proxies, bearer, hints, refusal page
   */
  constructor(client: Sesame, options: ExpressOptions = {}) {
    this.guard = new SessionGuard(client, options);
    this.#onRefused = options.onRefused ?? defaultRefused;
  }

  #refuse(req: IncomingMessage, res: ServerResponse, next: Next, refusal: RefusalOutcome): void {
    appendSetCookies(res, refusal.setCookies);
    for (const [name, value] of Object.entries(refusal.headers)) res.setHeader(name, value);
    try {
      this.#onRefused(req, res, { status: refusal.status, error: refusal.error, body: refusal.body });
    } catch (e) {
      next(e);
    }
  }

  #middleware(optional: boolean): Middleware {
    return (req, res, next) => {
      this.guard.check(partsOf(req), optional).then(
        (outcome) => {
          if (!outcome.ok) {
            this.#refuse(req, res, next, outcome);
            return;
          }
          appendSetCookies(res, outcome.setCookies);
          for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
          (req as WithSesame).sesame = outcome.session;
          next();
        },
        (e: unknown) => next(e),
      );
    };
  }

  /**
   * Error middleware (`app.use(auth.errorHandler())`, after the routes): a
   * sesame error thrown by a route — from `login`, `logout` or a call on
   * `req.sesame` — is answered like the middleware answers it (401 with the
   * cookie removed, 503 with `Retry-After`) instead of Express's 500.
   * Other errors go on to the next error handler.
   */
  errorHandler(): ErrorMiddleware {
    return (err, req, res, next) => {
      const refusal = refusalOf(err, null);
      if (refusal === null || res.headersSent) {
        next(err);
        return;
      }
      this.#refuse(req, res, next, refusal);
    };
  }

  /**
   * Middleware: a live session is required. Sets `req.sesame`; re-sets the
   * cookie on renewal (a bearer client gets `Sesame-Renewed-Token`); answers
   * 401 (clearing the cookie) or 503 itself.
   */
  requireSession(): Middleware {
    return this.#middleware(false);
  }

  /**
   * Middleware: `req.sesame` is the session, or null without a good one (a
   * dead cookie is cleared). Still answers 503 itself.
   */
  optionalSession(): Middleware {
    return this.#middleware(true);
  }

  /**
   * Logs `user` in and sets the session cookie on `res` (see {@link SessionGuard.login}).
   *
   * @throws {@link SesameError} — answer 503 for a {@link SesameUnavailable}
   */
  async login(req: IncomingMessage, res: ServerResponse, user: string, data?: Data): Promise<LoginResult> {
    const result = await this.guard.login(partsOf(req), user, data);
    appendSetCookies(res, result.setCookies);
    return result;
  }

  /** Ends the request's session and removes its cookie on `res`. */
  async logout(req: IncomingMessage, res: ServerResponse): Promise<LogoutResult> {
    const result = await this.guard.logout(partsOf(req));
    appendSetCookies(res, result.setCookies);
    (req as WithSesame).sesame = null;
    return result;
  }

  /**
   * Ends every session of the request's user, this one included, and removes
   * the cookie. Needs `requireSession()` before it and an admin-scoped key.
   *
   * @returns how many sessions ended
   */
  async logoutEverywhere(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const result = await this.guard.logoutEverywhere(partsOf(req), sessionOf(req));
    appendSetCookies(res, result.setCookies);
    (req as WithSesame).sesame = null;
    return result.ended;
  }
}

/**
 * The Express integration over one client.
 *
 * @example
 * ```ts
 * const auth = sesameExpress(sesame, { trustedProxies: ["127.0.0.1"] });
 * app.get("/profile", auth.requireSession(), handler);
 * ```
 */
export function sesameExpress(client: Sesame, options: ExpressOptions = {}): SesameExpress {
  return new SesameExpress(client, options);
}

export { RequestSession };
