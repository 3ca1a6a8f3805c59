// The OpenAPI checker the live tests rely on catches what it must: a test
// that checks answers with a checker that passes everything would prove nothing.
import assert from "node:assert/strict";
import { test } from "node:test";

import { OpenApiChecker } from "./helpers/openapi.js";

const SESSION = {
  id: "a".repeat(64),
  user: null,
  data: {},
  version: 0,
  created_at: 1,
  last_accessed: 1,
  idle_expires_at: 2,
  absolute_expires_at: 3,
  expires_at: 2,
  device: {},
};
const JSON_TYPE = "application/json";

test("a documented answer passes", () => {
  const c = new OpenApiChecker();
  assert.equal(c.check("GET", "/v1/session", 200, JSON_TYPE, JSON.stringify(SESSION)), null);
  assert.equal(c.check("GET", `/v1/sessions/${"b".repeat(64)}`, 401, JSON_TYPE, '{"code":"invalid_api_key","message":"m"}'), null);
  c.assertClean();
});

test("wrong answers are caught: a missing field, a wrong type, an extra field, a bad enum", () => {
  const c = new OpenApiChecker();
  const { version: _, ...noVersion } = SESSION;
  assert.match(c.check("GET", "/v1/session", 200, JSON_TYPE, JSON.stringify(noVersion))!, /version/);
  assert.match(c.check("GET", "/v1/session", 200, JSON_TYPE, JSON.stringify({ ...SESSION, version: "1" }))!, /integer/);
  assert.match(c.check("GET", "/v1/session", 200, JSON_TYPE, JSON.stringify({ ...SESSION, extra: 1 }))!, /additional/);
  assert.match(c.check("GET", "/v1/session", 401, JSON_TYPE, '{"code":"nope","message":"m"}')!, /allowed values/);
  assert.match(c.check("GET", "/v1/session", 200, JSON_TYPE, JSON.stringify({ ...SESSION, device: { ip: "999.1.1.1" } }))!, /ip/);
  assert.throws(() => c.assertClean(), /break openapi.json/);
});

test("undocumented routes, methods, statuses and content types are caught", () => {
  const c = new OpenApiChecker();
  assert.match(c.check("GET", "/v1/nowhere", 200, JSON_TYPE, "{}")!, /not documented/);
  assert.match(c.check("PUT", "/v1/session", 200, JSON_TYPE, "{}")!, /PUT is not documented/);
  assert.match(c.check("GET", "/v1/session", 418, JSON_TYPE, "{}")!, /status 418/);
  assert.match(c.check("GET", "/v1/session", 200, "text/html", "<p>")!, /content type/);
});

test("a checker that saw nothing fails", () => {
  assert.throws(() => new OpenApiChecker().assertClean(), /no answer was checked/);
});
