// Every error code the OpenAPI document lists maps to its own class, with
// the fields an app needs (reason, currentVersion, retryAfter, clearCookie).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ApiKeyRejected,
  Conflict,
  InvalidSession,
  RequestRejected,
  SesameError,
  SesameUnavailable,
  SessionEnded,
  SessionRefused,
  StoreFull,
  StoreUnavailable,
  TooManyInvalidTokens,
  UnexpectedResponse,
  errorFromResponse,
  retryAfterSeconds,
} from "../src/index.js";
import { openapiDocument } from "./helpers/server.js";

const GENERIC = new Set<Function>([SesameError, RequestRejected, SesameUnavailable, SessionRefused, ApiKeyRejected]);

function documentedCodes(): string[] {
  const doc = openapiDocument() as { components: { schemas: { Error: { properties: { code: { enum: string[] } } } } } };
  return doc.components.schemas.Error.properties.code.enum;
}

test("every documented error code has its own class, and keeps its code", () => {
  const codes = documentedCodes();
  assert.ok(codes.length >= 30, `only ${codes.length} codes documented?`);
  const seen = new Map<Function, string>();
  const ENDED = new Set(["expired", "logged_out", "revoked", "evicted", "rotated", "device_mismatch", "token_reuse", "security_event", "dbsc_failed"]);
  for (const code of codes) {
    const e = errorFromResponse(400, { code, message: "m" }, null);
    assert.equal(e.code, code);
    assert.ok(!GENERIC.has(e.constructor), `${code} maps to the generic ${e.constructor.name}`);
    if (ENDED.has(code)) {
      assert.ok(e instanceof SessionEnded, code);
      continue;
    }
    const other = seen.get(e.constructor);
    assert.equal(other, undefined, `${code} and ${other} share ${e.constructor.name}`);
    seen.set(e.constructor, code);
  }
});

test("an ended session carries its reason and the cookie removal", () => {
  const e = errorFromResponse(401, { code: "expired", message: "m", reason: "expired_idle", clear_cookie: "sesame=; Max-Age=0" }, null);
  assert.ok(e instanceof SessionEnded && e instanceof SessionRefused);
  assert.equal(e.reason, "expired_idle");
  assert.equal(e.clearCookie, "sesame=; Max-Age=0");
  const invalid = errorFromResponse(401, { code: "invalid", message: "m" }, null);
  assert.ok(invalid instanceof InvalidSession);
  assert.equal(invalid.clearCookie, null);
});

test("a conflict carries the current version; 503 and 429 carry Retry-After", () => {
  const c = errorFromResponse(409, { code: "conflict", message: "m", current_version: 7 }, null);
  assert.ok(c instanceof Conflict);
  assert.equal(c.currentVersion, 7);
  const u = errorFromResponse(503, { code: "store_unavailable", message: "m" }, "3");
  assert.ok(u instanceof StoreUnavailable && u instanceof SesameUnavailable);
  assert.equal(u.retryAfter, 3);
  const f = errorFromResponse(503, { code: "store_full", message: "m" }, null);
  assert.ok(f instanceof StoreFull && f instanceof SesameUnavailable);
  assert.equal(f.retryAfter, 1);
  const t = errorFromResponse(429, { code: "too_many_invalid_tokens", message: "m" }, "300");
  assert.ok(t instanceof TooManyInvalidTokens && t instanceof SesameUnavailable);
  assert.equal(t.status, 429);
  assert.equal(t.retryAfter, 300);
});

test("unknown codes keep their code and are grouped by status; garbage is UnexpectedResponse", () => {
  const u = errorFromResponse(503, { code: "brand_new", message: "m" }, "2");
  assert.ok(u instanceof SesameUnavailable);
  assert.equal(u.code, "brand_new");
  const r = errorFromResponse(418, { code: "teapot", message: "m" }, null);
  assert.ok(r instanceof RequestRejected);
  assert.ok(errorFromResponse(500, "oops", null) instanceof UnexpectedResponse);
  assert.ok(errorFromResponse(500, null, null) instanceof UnexpectedResponse);
});

test("Retry-After: delta seconds only, bounded", () => {
  assert.equal(retryAfterSeconds(null), 1);
  assert.equal(retryAfterSeconds("5"), 5);
  assert.equal(retryAfterSeconds(" 12 "), 12);
  assert.equal(retryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT"), 1);
  assert.equal(retryAfterSeconds("-3"), 1);
  assert.equal(retryAfterSeconds("999999"), 86_400);
});
