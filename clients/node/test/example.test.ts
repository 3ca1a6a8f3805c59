// The Express example end to end, as a browser drives it, against the real
// `sesame serve` on memory:// and on SQLite: login sets sesame's cookie,
// renewal re-sets it, logout clears it, a forged cookie is 401, an evicted
// or revoked session is 401 with its reason, sesame down is 503 (the device
// binding is in binding.test.ts). Every answer
// the example's client receives is checked against openapi.json.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createApp } from "../examples/express-app.js";
import { Sesame } from "../src/index.js";
import { sesameWeb } from "../src/web.js";
import { Browser, parseSetCookie } from "./helpers/browser.js";
import { type Listening, listen } from "./helpers/listen.js";
import { OpenApiChecker } from "./helpers/openapi.js";
import { SesameServer } from "./helpers/server.js";

const COOKIE = "sesame"; // the development policy's name, as the service hands it over

async function login(b: Browser, user = "alice", password = user === "alice" ? "wonderland" : "builder") {
  const r = await b.post("/login", { username: user, password });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r;
}

for (const store of ["memory", "sqlite"] as const) {
  describe(`the Express example on ${store}`, () => {
    let sesame: SesameServer;
    let app: Listening;
    let admin: Sesame;
    const checker = new OpenApiChecker();

    before(async () => {
      sesame = await SesameServer.start({ store, policy: 'max_sessions_per_user = 2\nrenewal_interval = "0"' });
      const client = new Sesame({ url: sesame.url, apiKey: sesame.adminKey, fetch: checker.fetch() });
      app = await listen(createApp(client, { trustedProxies: ["127.0.0.1", "::1"] }));
      admin = new Sesame({ url: sesame.url, apiKey: sesame.adminKey, fetch: checker.fetch() });
    });
    after(async () => {
      await app?.close();
      await sesame?.close();
      checker.assertClean();
    });

    test("no cookie: 401; a wrong password: 401 and no cookie", async () => {
      const b = new Browser(app.url);
      const r = await b.get("/profile");
      assert.equal(r.status, 401);
      assert.deepEqual(r.body, { code: "missing_session", message: "no session: log in first" });
      const wrong = await b.post("/login", { username: "alice", password: "nope" });
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.setCookies, []);
    });

    test("login sets sesame's cookie; the profile counts visits without re-setting it", async () => {
      const b = new Browser(app.url);
      const r = await login(b);
      assert.deepEqual(r.body, { user: "alice" });
      assert.equal(r.setCookies.length, 1);
      const c = parseSetCookie(r.setCookies[0]!);
      assert.equal(c.name, COOKIE);
      assert.ok(c.value.startsWith("gAAAAA"), c.value);
      assert.equal(c.attributes.get("path"), "/");
      assert.ok(c.attributes.has("httponly"));
      assert.equal(c.attributes.get("samesite"), "Strict");
      assert.equal(r.headers.get("cache-control"), "no-store");
      // The value is the one sesame sealed: it opens to a live session of alice.
      const decoded = await admin.decodeCookie(c.value);
      assert.equal(decoded.valid, true);
      const p1 = await b.get("/profile");
      assert.equal(p1.status, 200);
      assert.deepEqual(p1.body, { user: "alice", visits: 1 });
      assert.deepEqual(p1.setCookies, []);
      const p2 = await b.get("/profile");
      assert.deepEqual(p2.body, { user: "alice", visits: 2 });
    });

    test("a forged cookie is 401 invalid, and cleared", async () => {
      const b = new Browser(app.url);
      b.jar.set(COOKIE, "gAAAAABforgedforgedforgedforged");
      const r = await b.get("/profile");
      assert.equal(r.status, 401);
      assert.equal((r.body as { code: string }).code, "invalid");
      assert.equal(r.setCookies.length, 1);
      const c = parseSetCookie(r.setCookies[0]!);
      assert.equal(c.name, COOKIE);
      assert.equal(c.attributes.get("max-age"), "0");
      assert.equal(c.attributes.get("path"), "/");
      assert.equal(b.jar.size, 0);
    });

    test("an evicted session is 401 with reason evicted, and cleared", async () => {
      await admin.revokeUserSessions("alice");
      const first = new Browser(app.url, "Browser/first");
      await login(first);
      await login(new Browser(app.url, "Browser/second"));
      await login(new Browser(app.url, "Browser/third")); // cap 2: evicts the first
      const r = await first.get("/profile");
      assert.equal(r.status, 401);
      assert.deepEqual({ code: (r.body as { code: string }).code, reason: (r.body as { reason: string }).reason }, { code: "evicted", reason: "evicted" });
      assert.equal(first.jar.size, 0);
    });

    test("logout clears the cookie; the old value replayed is 401 logged_out", async () => {
      const b = new Browser(app.url);
      await login(b);
      const value = b.jar.get(COOKIE)!;
      const r = await b.post("/logout");
      assert.equal(r.status, 204);
      assert.equal(r.setCookies.length, 1);
      assert.equal(parseSetCookie(r.setCookies[0]!).attributes.get("max-age"), "0");
      assert.equal(b.jar.size, 0);
      b.jar.set(COOKIE, value);
      const replay = await b.get("/profile");
      assert.equal(replay.status, 401);
      assert.equal((replay.body as { reason: string }).reason, "logged_out");
      // Logging out again (no cookie) is fine.
      assert.equal((await b.post("/logout")).status, 204);
    });

    test("my sessions, then log out everywhere: the other browser's session is 401 revoked", async () => {
      await admin.revokeUserSessions("bob");
      const laptop = new Browser(app.url, "Browser/laptop");
      const phone = new Browser(app.url, "Browser/phone");
      await login(laptop, "bob");
      await login(phone, "bob");
      const list = await laptop.get("/sessions");
      assert.equal(list.status, 200);
      const sessions = list.body as { current: boolean }[];
      assert.deepEqual(sessions.map((s) => s.current), [true, false]);
      const out = await laptop.post("/logout-everywhere");
      assert.equal(out.status, 200);
      assert.deepEqual(out.body, { ended: 2 });
      assert.equal(laptop.jar.size, 0);
      const r = await phone.get("/profile");
      assert.equal(r.status, 401);
      assert.equal((r.body as { reason: string }).reason, "revoked");
      assert.deepEqual(await admin.listUserSessions("bob"), []);
    });

    test("sesame down: 503 with Retry-After, never 500; back up: served again", async () => {
      const b = new Browser(app.url);
      await login(b);
      await sesame.stop();
      const r = await b.get("/profile");
      assert.equal(r.status, 503);
      assert.equal(r.headers.get("retry-after"), "1");
      assert.equal((r.body as { code: string }).code, "session_service_unavailable");
      assert.equal(b.jar.size, 1, "the cookie is kept: the session may be fine");
      const l = await new Browser(app.url).post("/login", { username: "alice", password: "wonderland" });
      assert.equal(l.status, 503, "login through the error handler");
      await sesame.restart();
      const again = await b.get("/profile");
      if (store === "sqlite") {
        assert.equal(again.status, 200, "SQLite kept the session");
      } else {
        assert.equal(again.status, 401, "memory:// lost it");
        assert.equal((again.body as { code: string }).code, "invalid");
      }
    });
  });
}

describe("renewal through the Express example", () => {
  let sesame: SesameServer;
  let app: Listening;
  const checker = new OpenApiChecker();

  before(async () => {
    // Renewal after 500 ms; the old cookie keeps working for 500 ms more.
    sesame = await SesameServer.start({ policy: 'renewal_interval = "500ms"\nrenewal_grace = "500ms"\ntouch_interval = "0s"' });
    app = await listen(createApp(new Sesame({ url: sesame.url, apiKey: sesame.adminKey, fetch: checker.fetch() })));
  });
  after(async () => {
    await app?.close();
    await sesame?.close();
    checker.assertClean();
  });

  test("a renewed token re-sets the cookie, and the new one works", async () => {
    const b = new Browser(app.url);
    await login(b);
    const before = b.jar.get(COOKIE)!;
    await new Promise((r) => setTimeout(r, 600));
    const r = await b.get("/profile");
    assert.equal(r.status, 200);
    assert.equal(r.setCookies.length, 1, "renewal re-set the cookie");
    const renewed = parseSetCookie(r.setCookies[0]!);
    assert.equal(renewed.name, COOKIE);
    assert.notEqual(renewed.value, before);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.deepEqual(r.body, { user: "alice", visits: 1 }, "the increment used the renewed token");
    const next = await b.get("/profile");
    assert.equal(next.status, 200);
    assert.deepEqual(next.setCookies, []);
    assert.deepEqual(next.body, { user: "alice", visits: 2 });
  });

  test("an API client's renewed bearer token comes back in Sesame-Renewed-Token", async () => {
    const client = new Sesame({ url: sesame.url, apiKey: sesame.appKey, fetch: checker.fetch() });
    const web = sesameWeb(client);
    const issued = await client.create({ user: "api" });
    await new Promise((r) => setTimeout(r, 600));
    const auth = await web.validateRequest(new Request("http://localhost/api", { headers: { authorization: `Bearer ${issued.token}` } }));
    assert.ok(auth.ok);
    const response = auth.finish(Response.json({}));
    const renewed = response.headers.get("sesame-renewed-token");
    assert.ok(renewed !== null && renewed !== issued.token);
    assert.deepEqual(response.headers.getSetCookie(), [], "no cookie for a bearer client");
    assert.equal((await client.validate({ token: renewed })).session.id, auth.session.session.id);
  });
});
