// The fetch-style integration (Next.js route handlers, Hono, Bun, Deno)
// against the real `sesame serve`: validateRequest, the optional variant,
// bearer tokens, login (a new session, the presented one ended) and logout.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { DevelopmentCookiePolicy, Sesame, withCookies } from "../src/index.js";
import { type SesameWeb, sesameWeb } from "../src/web.js";
import { parseSetCookie } from "./helpers/browser.js";
import { OpenApiChecker } from "./helpers/openapi.js";
import { SesameServer } from "./helpers/server.js";

const UA = "Mozilla/5.0 WebTest/1.0";

function request(path: string, headers: Record<string, string> = {}, host = "localhost:3000"): Request {
  return new Request(`http://${host}${path}`, { headers: { "user-agent": UA, ...headers } });
}

function cookieOf(setCookie: string): string {
  const c = parseSetCookie(setCookie);
  return `${c.name}=${c.value}`;
}

describe("sesameWeb against sesame serve", () => {
  let server: SesameServer;
  let client: Sesame;
  let web: SesameWeb;
  const checker = new OpenApiChecker();

  before(async () => {
    server = await SesameServer.start({ policy: 'renewal_interval = "0"' });
    client = new Sesame({ url: server.url, apiKey: server.appKey, fetch: checker.fetch() });
    web = sesameWeb(client);
  });
  after(async () => {
    await server?.close();
    checker.assertClean();
  });

  test("login, then validateRequest with the cookie; finish adds nothing without a renewal", async () => {
    const { issued, setCookies } = await web.login(request("/login"), "alice", { ip: "127.0.0.1" });
    assert.equal(setCookies.length, 1);
    assert.equal(setCookies[0], issued.setCookie);
    const { validateRequest } = web; // bound
    const auth = await validateRequest(request("/me", { cookie: `other=1; ${cookieOf(setCookies[0]!)}` }), { ip: "127.0.0.1" });
    assert.ok(auth.ok);
    assert.equal(auth.session.user, "alice");
    assert.equal(auth.session.via, "cookie");
    const response = auth.finish(Response.json({ user: auth.session.user }));
    assert.deepEqual(response.headers.getSetCookie(), []);
    assert.deepEqual(await response.json(), { user: "alice" });
  });

  test("a bearer token works for API clients; a forged one is 401 without a cookie removal", async () => {
    const issued = await client.create({ user: "api-user", device: { userAgent: UA } });
    const ok = await web.validateRequest(request("/api", { authorization: `Bearer ${issued.token}` }));
    assert.ok(ok.ok);
    assert.equal(ok.session.via, "bearer");
    assert.equal(await ok.session.increment("calls"), 1);
    const bad = await web.validateRequest(request("/api", { authorization: `Bearer ${"A".repeat(43)}` }));
    assert.ok(!bad.ok);
    assert.equal(bad.response.status, 401);
    assert.deepEqual(bad.response.headers.getSetCookie(), []);
    assert.deepEqual(await bad.response.json(), { code: "invalid", message: "no live session for this token" });
  });

  test("a forged cookie: 401 with the removal; optional: no session, removal through finish", async () => {
    const forged = request("/me", { cookie: "sesame=gAAAAABforged" });
    const r = await web.validateRequest(forged);
    assert.ok(!r.ok);
    assert.equal(r.response.status, 401);
    assert.equal(r.response.headers.get("cache-control"), "no-store");
    const [removal] = r.response.headers.getSetCookie();
    assert.equal(parseSetCookie(removal!).attributes.get("max-age"), "0");
    const o = await web.optionalSession(forged);
    assert.ok(o.ok);
    assert.equal(o.session, null);
    const page = o.finish(new Response("hello"));
    assert.equal(page.headers.getSetCookie().length, 1);
    const none = await web.optionalSession(request("/"));
    assert.ok(none.ok && none.session === null && none.setCookies.length === 0);
    const missing = await web.validateRequest(request("/"));
    assert.ok(!missing.ok);
    assert.equal(missing.response.status, 401);
  });

  test("a cookie no credential can be (too long, odd bytes) is refused by sesame like a forgery, and removed", async () => {
    for (const value of ["g".repeat(5000), "gAAAA\u00ff\u0001x"]) {
      const r = await web.validateRequest(request("/me", { cookie: `sesame=${value}` }));
      assert.ok(!r.ok);
      assert.equal(r.response.status, 401);
      assert.equal(((await r.response.json()) as { code: string }).code, "invalid");
      assert.equal(r.response.headers.getSetCookie().length, 1);
    }
  });

  test("login on an anonymous session starts a new one: its data does not carry over, the old cookie is logged out", async () => {
    const anon = await client.create({ data: { planted: true }, device: { userAgent: UA } });
    const old = cookieOf(anon.setCookie!);
    const { issued } = await web.login(request("/login", { cookie: old }), "carol");
    assert.equal(issued.session.user, "carol");
    assert.deepEqual(issued.session.data, {});
    assert.notEqual(issued.session.id, anon.session.id);
    const r = await web.validateRequest(request("/me", { cookie: old }));
    assert.ok(!r.ok);
    assert.equal(((await r.response.json()) as { reason: string }).reason, "logged_out");
  });

  test("login over another user's session ends it and starts a new one", async () => {
    const { setCookies } = await web.login(request("/login"), "dan");
    const cookie = cookieOf(setCookies[0]!);
    const second = await web.login(request("/login", { cookie }), "erin");
    assert.equal(second.issued.session.user, "erin");
    assert.deepEqual(second.issued.session.data, {});
    const r = await web.validateRequest(request("/me", { cookie }));
    assert.ok(!r.ok);
    assert.equal(((await r.response.json()) as { reason: string }).reason, "logged_out");
  });

  test("logout ends the session and returns the removal", async () => {
    const { setCookies } = await web.login(request("/login"), "fay");
    const cookie = cookieOf(setCookies[0]!);
    const out = await web.logout(request("/logout", { cookie }));
    assert.equal(out.ended, true);
    assert.equal(parseSetCookie(out.setCookies[0]!).attributes.get("max-age"), "0");
    const again = await web.logout(request("/logout", { cookie }));
    assert.equal(again.ended, false);
    assert.equal(again.setCookies.length, 1, "a dead cookie is removed too");
    assert.deepEqual(await web.logout(request("/logout")), { ended: false, setCookies: [] });
  });

  test("the development cookie is refused for a public host", async () => {
    await assert.rejects(web.validateRequest(request("/", {}, "example.com")), DevelopmentCookiePolicy);
    await assert.rejects(web.login(request("/login", {}, "app.example.com:443"), "x"), DevelopmentCookiePolicy);
    const ok = await web.optionalSession(request("/", {}, "[::1]:8080"));
    assert.ok(ok.ok);
  });

  test("withCookies copies a response whose headers cannot change", async () => {
    const fetched = await fetch(`${server.url}/healthz`);
    const out = withCookies(fetched, ["a=1", "b=2"]);
    assert.deepEqual(out.headers.getSetCookie(), ["a=1", "b=2"]);
    assert.equal(out.status, 200);
    assert.deepEqual(await out.json(), { status: "ok" });
  });

  test("sesame down: 503 with Retry-After", async () => {
    const { setCookies } = await web.login(request("/login"), "gus");
    await server.stop();
    try {
      const r = await web.validateRequest(request("/me", { cookie: cookieOf(setCookies[0]!) }));
      assert.ok(!r.ok);
      assert.equal(r.response.status, 503);
      assert.equal(r.response.headers.get("retry-after"), "1");
      assert.deepEqual(r.response.headers.getSetCookie(), []);
    } finally {
      await server.restart();
    }
  });
});
