// The client's transport, without sesame: what is retried and what not,
// timeouts, answers that are not the API, headers sent, the cookie-policy cache.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";

import {
  ConnectionFailed,
  InvalidSession,
  RequestTimeout,
  Sesame,
  StoreUnavailable,
  UnexpectedResponse,
} from "../src/index.js";

const TOKEN = "A".repeat(43);
const SESSION = {
  id: "a".repeat(64),
  user: "alice",
  data: {},
  version: 0,
  created_at: 1,
  last_accessed: 1,
  idle_expires_at: 2,
  absolute_expires_at: 3,
  expires_at: 2,
  device: {},
};
const POLICY = { name: "sesame", path: "/", domain: null, secure: false, http_only: true, same_site: "Strict", max_age: null, development: true };

interface Seen {
  method: string;
  url: string;
  headers: Headers;
  body: string | null;
}

/**
 * A fetch that fails with a network error `failures` times, then answers
 * `answer`; the failure's cause has `code` (default: a reset, which may
 * have reached sesame; ECONNREFUSED never did).
 */
function fakeFetch(failures: number, answer: () => Response, seen: Seen[] = [], code = "UND_ERR_SOCKET"): typeof fetch {
  let left = failures;
  return async (input, init) => {
    seen.push({
      method: init?.method ?? "GET",
      url: String(input),
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? init.body : null,
    });
    if (left > 0) {
      left--;
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("other side closed"), { code }) });
    }
    return answer();
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

function client(f: typeof fetch, extra: Partial<ConstructorParameters<typeof Sesame>[0]> = {}): Sesame {
  return new Sesame({ url: "http://sesame.test:7700/", apiKey: "sk_x", fetch: f, ...extra });
}

test("idempotent calls are retried once after a failed connection", async () => {
  const seen: Seen[] = [];
  const s = client(fakeFetch(1, json(200, SESSION), seen));
  const v = await s.get({ token: TOKEN });
  assert.equal(v.user, "alice");
  assert.equal(seen.length, 2);
  // Two failures with retries: 1 -> ConnectionFailed after two attempts.
  const seen2: Seen[] = [];
  const s2 = client(fakeFetch(2, json(200, SESSION), seen2));
  await assert.rejects(s2.get({ token: TOKEN }), ConnectionFailed);
  assert.equal(seen2.length, 2);
  // retries: 3 rides out two failures (with a short backoff).
  const s3 = client(fakeFetch(2, json(200, SESSION)), { retries: 3 });
  assert.equal((await s3.get({ token: TOKEN })).id, SESSION.id);
});

test("create, validate, rotate, increment and a versioned patch are not retried after a reset", async () => {
  for (const call of [
    (s: Sesame) => s.create({ user: "alice" }),
    (s: Sesame) => s.validate({ token: TOKEN }),
    (s: Sesame) => s.rotate({ token: TOKEN }),
    (s: Sesame) => s.increment({ token: TOKEN }, "n"),
    (s: Sesame) => s.patch({ token: TOKEN }, { set: { a: 1 }, expectedVersion: 3 }),
  ]) {
    const seen: Seen[] = [];
    await assert.rejects(call(client(fakeFetch(1, json(200, {}), seen), { retries: 5 })), ConnectionFailed);
    assert.equal(seen.length, 1);
  }
  // A patch without expected_version only sets and removes keys: retried.
  const seen: Seen[] = [];
  await client(fakeFetch(1, json(200, SESSION), seen)).patch({ token: TOKEN }, { set: { a: 1 } });
  assert.equal(seen.length, 2);
});

test("a refused connection never reached sesame: any call is retried", async () => {
  const validated = json(200, { session: SESSION, renewed: null, device_flagged: false, via_grace: false });
  const seen: Seen[] = [];
  const v = await client(fakeFetch(1, validated, seen, "ECONNREFUSED")).validate({ token: TOKEN });
  assert.equal(v.session.id, SESSION.id);
  assert.equal(seen.length, 2);
  const issued = { token: TOKEN, cookie: null, set_cookie: null, expires_at: 2, session: SESSION, evicted: [] };
  const seen2: Seen[] = [];
  await client(fakeFetch(1, json(201, issued), seen2, "ECONNREFUSED")).create({ user: "alice" });
  assert.equal(seen2.length, 2);
});

test("error answers are not retried, and arrive typed", async () => {
  const seen: Seen[] = [];
  const s = client(fakeFetch(0, json(503, { code: "store_unavailable", message: "down" }, { "retry-after": "1" }), seen));
  const e = await s.validate({ token: TOKEN }).catch((x: unknown) => x);
  assert.ok(e instanceof StoreUnavailable);
  assert.equal(e.retryAfter, 1);
  assert.equal(e.status, 503);
  assert.equal(seen.length, 1);
});

test("what is sent: key, credential, device headers (on create too), no body where none is needed", async () => {
  const seen: Seen[] = [];
  const s = client(
    fakeFetch(0, json(200, { session: SESSION, renewed: null, device_flagged: false, via_grace: false }), seen),
  );
  await s.validate({ cookie: "gAAAAB" }, { device: { userAgent: "UA/1", ip: "::ffff:192.0.2.1", hints: { platform: "Linux" } } });
  const h = seen[0]!.headers;
  assert.equal(seen[0]!.url, "http://sesame.test:7700/v1/session/validate");
  assert.equal(h.get("authorization"), "Bearer sk_x");
  assert.equal(h.get("sesame-cookie"), "gAAAAB");
  assert.equal(h.get("sesame-token"), null);
  assert.equal(h.get("sesame-device-user-agent"), "UA/1");
  assert.equal(h.get("sesame-device-ip"), "192.0.2.1");
  assert.equal(h.get("sesame-device-hints"), '{"platform":"Linux"}');
  assert.equal(seen[0]!.body, null);

  const seen2: Seen[] = [];
  const issued = { token: TOKEN, cookie: "c", set_cookie: "sesame=c; Path=/", expires_at: 2, session: SESSION, evicted: [] };
  await client(fakeFetch(0, json(201, issued), seen2)).create({ user: "alice", data: { n: 1 }, device: { userAgent: "UA/1" } });
  assert.deepEqual(JSON.parse(seen2[0]!.body!), { user: "alice", data: { n: 1 } });
  assert.equal(seen2[0]!.headers.get("sesame-device-user-agent"), "UA/1");
  assert.equal(seen2[0]!.headers.get("content-type"), "application/json");

  const seen3: Seen[] = [];
  await client(fakeFetch(0, json(200, { user: "a/b", sessions: [] }), seen3)).listUserSessions("a/b");
  assert.equal(seen3[0]!.url, "http://sesame.test:7700/v1/users/a%2Fb/sessions");
});

test("answers that are not the API are UnexpectedResponse", async () => {
  const html = () => new Response("<html>proxy error</html>", { status: 502, headers: { "content-type": "text/html" } });
  const e = await client(fakeFetch(0, html)).get({ token: TOKEN }).catch((x: unknown) => x);
  assert.ok(e instanceof UnexpectedResponse, String(e));
  assert.equal((e as UnexpectedResponse).status, 502);
  const bad = () => new Response("{not json", { status: 200, headers: { "content-type": "application/json" } });
  await assert.rejects(client(fakeFetch(0, bad)).get({ token: TOKEN }), UnexpectedResponse);
  // A missing field is caught at the boundary.
  const partial = json(200, { ...SESSION, version: "3" });
  await assert.rejects(client(fakeFetch(0, partial)).get({ token: TOKEN }), /\$\.version is not an integer/);
  // Over the size bound.
  const big = json(200, { pad: "x".repeat(5000) });
  await assert.rejects(client(fakeFetch(0, big), { maxResponseBytes: 1024 }).get({ token: TOKEN }), /over 1024 bytes/);
});

test("a server that does not answer: RequestTimeout after timeoutMs, not retried", async (t) => {
  let requests = 0;
  const server = createServer(() => {
    requests++; // never answers
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const s = new Sesame({ url: `http://127.0.0.1:${port}`, apiKey: "k", timeoutMs: 150 });
  const started = Date.now();
  const e = await s.validate({ token: TOKEN }).catch((x: unknown) => x);
  const took = Date.now() - started;
  assert.ok(e instanceof RequestTimeout, String(e));
  assert.ok(took >= 140 && took < 2000, `took ${took} ms`);
  // Not repeated (on a loaded machine the one request may not even have been read yet).
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(requests <= 1, `${requests} requests`);
  // The app's own signal wins, with its own reason.
  const controller = new AbortController();
  const p = s.get({ token: TOKEN }, { signal: controller.signal });
  controller.abort(new Error("user went away"));
  await assert.rejects(p, /user went away/);
});

test("a refused connection is ConnectionFailed (a SesameUnavailable)", async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  const e = await new Sesame({ url: `http://127.0.0.1:${port}`, apiKey: "k" }).get({ token: TOKEN }).catch((x: unknown) => x);
  assert.ok(e instanceof ConnectionFailed, String(e));
  assert.equal(e.code, "connection_failed");
  assert.match(e.message, /could not be reached/);
});

test("the cookie policy is cached, shared by concurrent callers, and kept when a refresh fails", async () => {
  let calls = 0;
  let fail = false;
  const f: typeof fetch = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 10));
    if (fail) throw new TypeError("fetch failed");
    return json(200, POLICY)();
  };
  const s = client(f, { cookiePolicyTtlMs: 50, retries: 0 });
  const [a, b] = await Promise.all([s.cookiePolicy(), s.cookiePolicy()]);
  assert.equal(a.name, "sesame");
  assert.equal(b, a);
  assert.equal(calls, 1);
  await s.cookiePolicy();
  assert.equal(calls, 1, "cached");
  await new Promise((r) => setTimeout(r, 60));
  fail = true;
  assert.equal((await s.cookiePolicy()).name, "sesame", "stale kept on failure");
  assert.equal(calls, 2);
  // With nothing cached, the failure is thrown.
  await assert.rejects(client(f, { retries: 0 }).cookiePolicy(), ConnectionFailed);
});

test("settings are bounded", () => {
  assert.throws(() => client(fetch, { timeoutMs: 0 }), RangeError);
  assert.throws(() => client(fetch, { timeoutMs: 120_000 }), RangeError);
  assert.throws(() => client(fetch, { retries: 9 }), RangeError);
  assert.throws(() => client(fetch, { cookiePolicyTtlMs: 120_000 }), RangeError);
  assert.throws(() => new Sesame({ url: "ftp://x", apiKey: "k" }), TypeError);
  assert.throws(() => new Sesame({ url: "http://x", apiKey: " " }), TypeError);
});

test("an increment's step must be a safe integer", async () => {
  await assert.rejects(client(fakeFetch(0, json(200, {}))).increment({ token: TOKEN }, "n", 1.5), RangeError);
  // And a 401 is a SessionRefused with no removal when sesame sent none.
  const e = await client(fakeFetch(0, json(401, { code: "invalid", message: "m" }))).get({ token: TOKEN }).catch((x: unknown) => x);
  assert.ok(e instanceof InvalidSession);
});
