/**
 * sesame-client: a typed client for `sesame serve`, with framework
 * integrations in `sesame-client/express` (Express and `node:http`) and
 * `sesame-client/web` (fetch-style servers).
 *
 * @example
 * ```ts
 * import { Sesame, SessionEnded } from "sesame-client";
 * const sesame = new Sesame({ url: "http://127.0.0.1:7700", apiKey: process.env.SESAME_API_KEY! });
 * try {
 *   const { session } = await sesame.validate({ cookie }, { device: { userAgent } });
 * } catch (e) {
 *   if (e instanceof SessionEnded) console.log("ended:", e.reason);
 * }
 * ```
 *
 * @module
 */

export * from "./client.js";
export * from "./errors.js";
export * from "./types.js";
export {
  ClientAddress,
  MAX_USER_AGENT,
  normalizeDevice,
  normalizeIp,
  normalizeUserAgent,
  type TrustedProxies,
} from "./device.js";
export {
  RequestSession,
  SessionGuard,
  isLoopbackHost,
  readBearer,
  readCookie,
  refusalOf,
  type GuardOptions,
  type IncomingParts,
  type LoginResult,
  type LogoutResult,
  type Outcome,
  type Refusal,
} from "./guard.js";
export { SesameWeb, sesameWeb, withCookies, type Accepted, type Refused, type WebRequestOptions } from "./web.js";
