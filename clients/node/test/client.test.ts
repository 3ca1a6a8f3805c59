// Every /v1 operation through the client against the real `sesame serve`,
// on memory:// and on SQLite; every answer checked against openapi.json.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  Conflict,
  DataTooLarge,
  Forbidden,
  InvalidApiKey,
  InvalidSession,
  InvalidUserId,
  LimitReached,
  NotAnInteger,
  Sesame,
  SessionEnded,
} from "../src/index.js";
import { OpenApiChecker } from "./helpers/openapi.js";
import { SesameServer } from "./helpers/server.js";

// Sessions here are not bound to a device: the service reads the device of
// token-taking routes from the D1 headers once that decision lands; until
// then a bound session would be refused on every call after create.
const device = {};

for (const store of ["memory", "sqlite"] as const) {
  describe(`the client on ${store}`, () => {
    let server: SesameServer;
    const checker = new OpenApiChecker();
    let app: Sesame;
    let admin: Sesame;

    before(async () => {
      server = await SesameServer.start({ store, policy: 'max_sessions_per_user = 3\nrenewal_interval = "0"' });
      app = new Sesame({ url: server.url, apiKey: server.appKey, fetch: checker.fetch() });
      admin = new Sesame({ url: server.url, apiKey: server.adminKey, fetch: checker.fetch() });
    });
    after(async () => {
      await server?.close();
      checker.assertClean();
    });

    test("create, validate by token and by cookie, get", async () => {
      const issued = await app.create({ user: "alice", data: { theme: "dark" }, device });
      assert.match(issued.token, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(issued.cookie !== null && issued.cookie.length > 43);
      assert.equal(issued.session.user, "alice");
      assert.deepEqual(issued.session.data, { theme: "dark" });
      assert.deepEqual(issued.evicted, []);
      const byToken = await app.validate({ token: issued.token }, { device });
      assert.equal(byToken.session.id, issued.session.id);
      assert.equal(byToken.renewed, null);
      assert.equal(byToken.viaGrace, false);
      const byCookie = await app.validate({ cookie: issued.cookie! }, { device });
      assert.equal(byCookie.session.id, issued.session.id);
      const got = await app.get({ token: issued.token }, { device });
      assert.deepEqual(got.data, { theme: "dark" });
      const anonymous = await app.create();
      assert.equal(anonymous.session.user, null);
    });

    test("patch with and without expected_version; a stale one is a Conflict with the current version", async () => {
      const { token } = await app.create({ user: "bob", device });
      const cred = { token };
      const s1 = await app.patch(cred, { set: { a: 1, b: [1, 2] } }, { device });
      assert.deepEqual(s1.data, { a: 1, b: [1, 2] });
      const s2 = await app.patch(cred, { remove: ["b"], expectedVersion: s1.version }, { device });
      assert.deepEqual(s2.data, { a: 1 });
      assert.ok(s2.version > s1.version);
      const e = await app.patch(cred, { set: { a: 2 }, expectedVersion: s1.version }, { device }).catch((x: unknown) => x);
      assert.ok(e instanceof Conflict, String(e));
      assert.equal(e.currentVersion, s2.version);
      assert.deepEqual((await app.get(cred, { device })).data, { a: 1 });
    });

    test("increment counts atomically; a non-integer is NotAnInteger", async () => {
      const { token } = await app.create({ user: "carol", data: { name: "x" }, device });
      const cred = { token };
      const values = await Promise.all(Array.from({ length: 10 }, () => app.increment(cred, "visits", 1, { device })));
      assert.deepEqual([...values].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(await app.increment(cred, "visits", -4, { device }), 6);
      await assert.rejects(app.increment(cred, "name", 1, { device }), NotAnInteger);
    });

    test("rotate gives a new token (the old one ends as rotated); login sets the user", async () => {
      const anon = await app.create({ data: { cart: ["apple"] }, device });
      const loggedIn = await app.login({ token: anon.token }, "dave", { device });
      assert.notEqual(loggedIn.token, anon.token);
      assert.equal(loggedIn.session.user, "dave");
      assert.deepEqual(loggedIn.session.data, { cart: ["apple"] });
      assert.ok(loggedIn.cookie !== null);
      const e = await app.validate({ token: anon.token }, { device }).catch((x: unknown) => x);
      assert.ok(e instanceof SessionEnded, String(e));
      assert.equal(e.reason, "rotated");
      const rotated = await app.rotate({ cookie: loggedIn.cookie! }, {}, { device });
      assert.equal(rotated.session.user, "dave");
      assert.equal((await app.validate({ token: rotated.token }, { device })).session.user, "dave");
    });

    test("end: the session is over, with reason logged_out", async () => {
      const { token } = await app.create({ user: "erin", device });
      const ended = await app.end({ token }, { device });
      assert.equal(ended.ended, true);
      const e = await app.validate({ token }, { device }).catch((x: unknown) => x);
      assert.ok(e instanceof SessionEnded);
      assert.equal(e.code, "logged_out");
      assert.equal(e.reason, "logged_out");
      assert.equal(e.status, 401);
    });

    test("the per-user cap evicts the oldest; the evicted session is 401 evicted", async () => {
      const first = await app.create({ user: "frank", device });
      await app.create({ user: "frank", device });
      await app.create({ user: "frank", device });
      const fourth = await app.create({ user: "frank", device });
      assert.deepEqual(fourth.evicted, [first.session.id]);
      const e = await app.validate({ token: first.token }, { device }).catch((x: unknown) => x);
      assert.ok(e instanceof SessionEnded);
      assert.equal(e.reason, "evicted");
    });

    test("admin: list, inspect, revoke one, revoke all but one, decode a cookie, cleanup", async () => {
      const a = await app.create({ user: "grace", device });
      const b = await app.create({ user: "grace", device });
      const c = await app.create({ user: "grace", device });
      const list = await admin.listUserSessions("grace");
      assert.deepEqual(list.map((s) => s.id), [a.session.id, b.session.id, c.session.id]);
      const insp = await admin.inspect({ token: a.token });
      assert.equal(insp.live, true);
      assert.equal(insp.user, "grace");
      assert.ok(insp.idleSecondsLeft !== null && insp.idleSecondsLeft > 0);
      assert.equal(await admin.revokeSession(b.session.id), true);
      assert.equal(await admin.revokeSession(b.session.id), false);
      const byId = await admin.inspectId(b.session.id);
      assert.equal(byId.live, false);
      assert.equal(byId.endReason, "revoked");
      const revoked = await admin.revokeUserSessions("grace", { exceptToken: c.token });
      assert.deepEqual(revoked, [a.session.id]);
      assert.deepEqual((await admin.listUserSessions("grace")).map((s) => s.id), [c.session.id]);
      const all = await admin.revokeUserSessions("grace");
      assert.deepEqual(all, [c.session.id]);
      const decoded = await admin.decodeCookie(c.cookie!);
      assert.equal(decoded.valid, true);
      assert.equal(decoded.sessionId, c.session.id);
      const forged = await admin.decodeCookie("gAAAAAforged");
      assert.equal(forged.valid, false);
      assert.ok(forged.reason !== null);
      const report = await admin.cleanup();
      assert.ok(report.scanned >= 0 && report.durationMs >= 0);
    });

    test("typed refusals: forged token, wrong key, missing scope, bad user id, data too large", async () => {
      await assert.rejects(app.validate({ token: "A".repeat(43) }, { device }), InvalidSession);
      await assert.rejects(app.validate({ cookie: "gAAAAAforged" }, { device }), InvalidSession);
      const wrongKey = new Sesame({ url: server.url, apiKey: "sk_wrong", fetch: checker.fetch() });
      await assert.rejects(wrongKey.create(), InvalidApiKey);
      await assert.rejects(app.listUserSessions("alice"), Forbidden);
      const edge = new Sesame({ url: server.url, apiKey: server.validateKey, fetch: checker.fetch() });
      await assert.rejects(edge.create(), Forbidden);
      await assert.rejects(app.create({ user: "bad\u0000user" }), InvalidUserId);
      await assert.rejects(app.create({ user: "x", data: { blob: "y".repeat(70_000) } }), DataTooLarge);
    });

    if (store === "sqlite") {
      test("a restart on SQLite keeps the session", async () => {
        const { token } = await app.create({ user: "heidi", data: { kept: true }, device });
        await server.restart();
        const v = await app.validate({ token }, { device });
        assert.deepEqual(v.session.data, { kept: true });
      });
    }
  });
}

test("a capped user with reject_new gets LimitReached", async (t) => {
  const server = await SesameServer.start({ policy: 'max_sessions_per_user = 1\non_limit = "reject_new"' });
  t.after(() => server.close());
  const checker = new OpenApiChecker();
  const app = new Sesame({ url: server.url, apiKey: server.appKey, fetch: checker.fetch() });
  await app.create({ user: "ivan" });
  await assert.rejects(app.create({ user: "ivan" }), LimitReached);
  checker.assertClean();
});
