/**
 * Fetch-style integration, for servers whose handlers take a `Request` and
 * return a `Response`: Next.js route handlers, Hono, Bun, Deno, Cloudflare-like
 * runtimes. No framework, no Node-only API on this path.
 *
 * These runtimes do not put the socket's address on the `Request`; pass it
 * as `ip` (Bun: `server.requestIP(req)?.address`, Deno:
 * `info.remoteAddr.hostname`, Node's `http` adapters: the socket's
 * `remoteAddress`). With `trustedProxies`, `X-Forwarded-For` is read from
 * that peer on.
 *
 * @example
 * ```ts
 * const web = sesameWeb(new Sesame({ url, apiKey }));
 * export async function GET(request: Request) {
 *   const auth = await web.validateRequest(request);
 *   if (!auth.ok) return auth.response;
 *   return auth.finish(Response.json({ user: auth.session.user }));
 * }
 * ```
 *
 * @module
 */

import type { Sesame } from "./client.js";
import type { SesameError } from "./errors.js";
import { type GuardOptions, type IncomingParts, type Outcome, RequestSession, SessionGuard } from "./guard.js";
import type { Data, Issued } from "./types.js";

/** Per-request options. */
export interface WebRequestOptions {
  /** The socket's peer address, when the runtime tells it. */
  ip?: string | null;
}

/** A request that may go on. */
export interface Accepted<S> {
  /** It may go on. */
  ok: true;
  /** The session (null only from `optional` checks). */
  session: S;
  /** `Set-Cookie` values to send with the response (a renewed cookie, a removal). */
  setCookies: string[];
  /** Other headers to send (`Sesame-Renewed-Token` after a bearer token's renewal). */
  headers: Record<string, string>;
  /** Adds {@link Accepted.setCookies} and {@link Accepted.headers} to a response. */
  finish(response: Response): Response;
}

/** A request answered already. */
export interface Refused {
  /** Answer with `response`. */
  ok: false;
  /** 401 (cookie removed) or 503, JSON `{code, reason?, message}`. */
  response: Response;
  /** Why. */
  error: SesameError;
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

function parts(request: Request, options: WebRequestOptions): IncomingParts {
  const h = request.headers;
  const get = (name: string): string | undefined => h.get(name) ?? undefined;
  return {
    cookie: h.get("cookie"),
    authorization: h.get("authorization"),
    userAgent: h.get("user-agent"),
    peer: options.ip,
    forwardedFor: h.get("x-forwarded-for"),
    host: h.get("host") ?? hostOf(request.url),
    header: get,
  };
}

/**
 * Adds `Set-Cookie` values (and `Cache-Control: no-store` unless the
 * response has a `Cache-Control`) and other headers to a response; a
 * response whose headers cannot change (one from `fetch`) is copied first.
 */
export function withCookies(response: Response, setCookies: readonly string[], headers: Record<string, string> = {}): Response {
  const names = Object.keys(headers);
  if (setCookies.length === 0 && names.length === 0) return response;
  const apply = (r: Response) => {
    for (const v of setCookies) r.headers.append("set-cookie", v);
    for (const name of names) r.headers.set(name, headers[name]!);
    if (setCookies.length > 0 && !r.headers.has("cache-control")) r.headers.set("cache-control", "no-store");
  };
  try {
    apply(response);
    return response;
  } catch {
    const copy = new Response(response.body, { status: response.status, statusText: response.statusText, headers: new Headers(response.headers) });
    apply(copy);
    return copy;
  }
}

function answer(outcome: Outcome & { ok: false }): Refused {
  const headers = new Headers({ "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  for (const [k, v] of Object.entries(outcome.headers)) headers.set(k, v);
  for (const v of outcome.setCookies) headers.append("set-cookie", v);
  return {
    ok: false,
    response: new Response(JSON.stringify(outcome.body), { status: outcome.status, headers }),
    error: outcome.error,
  };
}

function accepted<S extends RequestSession | null>(session: S, setCookies: string[], headers: Record<string, string>): Accepted<S> {
  return { ok: true, session, setCookies, headers, finish: (response) => withCookies(response, setCookies, headers) };
}

/** The fetch-style integration; make one per app with {@link sesameWeb}. */
export class SesameWeb {
  /** The engine. */
  readonly guard: SessionGuard;

  /**
   * @param client - the sesame client
   * @param options - proxies, bearer, hints
   */
  constructor(client: Sesame, options: GuardOptions = {}) {
    this.guard = new SessionGuard(client, options);
  }

  /**
   * Requires a live session: `{ok: true, session, finish}` or
   * `{ok: false, response}` (401 with the cookie removed, or 503 — never 500).
   *
   * @throws {@link SesameError} for deployment errors (a wrong API key, an unexpected answer)
   */
  async validateRequest(request: Request, options: WebRequestOptions = {}): Promise<Accepted<RequestSession> | Refused> {
    const outcome = await this.guard.check(parts(request, options), false);
    if (!outcome.ok) return answer(outcome);
    return accepted(outcome.session as RequestSession, outcome.setCookies, outcome.headers);
  }

  /**
   * Like {@link validateRequest}, but no (good) session is `ok` with `session: null`
   * (a dead cookie is still removed through `finish`).
   */
  async optionalSession(request: Request, options: WebRequestOptions = {}): Promise<Accepted<RequestSession | null> | Refused> {
    const outcome = await this.guard.check(parts(request, options), true);
    if (!outcome.ok) return answer(outcome);
    return accepted(outcome.session, outcome.setCookies, outcome.headers);
  }

  /**
   * Logs `user` in: a new session, the presented one ended (see
   * {@link SessionGuard.login}); add `setCookies` to the
   * response, e.g. with {@link withCookies}.
   *
   * @throws {@link SesameError} — answer 503 for a {@link SesameUnavailable}
   */
  async login(request: Request, user: string, options: WebRequestOptions & { data?: Data } = {}): Promise<{ issued: Issued; setCookies: string[] }> {
    return this.guard.login(parts(request, options), user, options.data);
  }

  /** Ends the request's session; add `setCookies` (the removal) to the response. */
  async logout(request: Request, options: WebRequestOptions = {}): Promise<{ ended: boolean; setCookies: string[] }> {
    return this.guard.logout(parts(request, options));
  }
}

/**
 * The fetch-style integration over one client.
 *
 * @example
 * ```ts
 * const { validateRequest } = sesameWeb(sesame);
 * ```
 */
export function sesameWeb(client: Sesame, options: GuardOptions = {}): SesameWeb {
  const web = new SesameWeb(client, options);
  // Bound, so that `const { validateRequest } = sesameWeb(...)` works.
  web.validateRequest = web.validateRequest.bind(web);
  web.optionalSession = web.optionalSession.bind(web);
  web.login = web.login.bind(web);
  web.logout = web.logout.bind(web);
  return web;
}

export { RequestSession };
