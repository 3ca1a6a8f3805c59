// The Express integration's options against the real `sesame serve`: the
// optional variant, a custom refusal page, the error handler, and Set-Cookie
// values set by the app itself kept beside sesame's.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import express from "express";

import { Sesame, SesameUnavailable, StoreUnavailable } from "../src/index.js";
import { sesameExpress, sessionOf } from "../src/express.js";
import { Browser } from "./helpers/browser.js";
import { type Listening, listen } from "./helpers/listen.js";
import { OpenApiChecker } from "./helpers/openapi.js";
import { SesameServer } from "./helpers/server.js";

describe("sesameExpress options", () => {
  let sesame: SesameServer;
  let listening: Listening;
  let url: string;
  const checker = new OpenApiChecker();

  before(async () => {
    sesame = await SesameServer.start({ policy: 'renewal_interval = "0"' });
    const auth = sesameExpress(new Sesame({ url: sesame.url, apiKey: sesame.appKey, fetch: checker.fetch() }), {
      onRefused: (_req, res, refusal) => {
        if (refusal.status !== 401) {
          res.statusCode = refusal.status;
          res.end(refusal.body.code);
          return;
        }
        res.statusCode = 303;
        res.setHeader("location", `/login?why=${refusal.body.reason ?? refusal.body.code}`);
        res.end();
      },
    });
    const app = express();
    app.post("/login", async (req, res) => {
      res.cookie("theme", "dark"); // the app's own cookie
      await auth.login(req, res, "alice");
      res.json({ ok: true });
    });
    app.get("/", auth.optionalSession(), (req, res) => {
      res.json({ user: req.sesame?.user ?? null });
    });
    app.get("/page", auth.requireSession(), (req, res) => {
      res.json({ user: sessionOf(req).user });
    });
    app.get("/boom", () => {
      throw new StoreUnavailable(503, "store_unavailable", "down", 4);
    });
    app.get("/plain-error", () => {
      throw new Error("not sesame's");
    });
    app.get("/unguarded", (req, res) => {
      try {
        sessionOf(req);
        res.json({ guarded: true });
      } catch (e) {
        res.status(500).json({ error: (e as Error).message });
      }
    });
    app.use(auth.errorHandler());
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ handledBy: "app", error: String(err) });
    });
    listening = await listen(app);
    url = listening.url;
  });
  after(async () => {
    await listening?.close();
    await sesame?.close();
    checker.assertClean();
  });

  test("the app's own Set-Cookie is kept beside sesame's", async () => {
    const b = new Browser(url);
    const r = await b.post("/login");
    assert.equal(r.status, 200);
    assert.deepEqual(r.setCookies.map((c) => c.split("=")[0]), ["theme", "sesame"]);
    assert.deepEqual((await b.get("/page")).body, { user: "alice" });
  });

  test("optionalSession: the user or null; a dead cookie is cleared and the page still served", async () => {
    const b = new Browser(url);
    assert.deepEqual((await b.get("/")).body, { user: null });
    await b.post("/login");
    assert.deepEqual((await b.get("/")).body, { user: "alice" });
    b.jar.set("sesame", "gAAAAABforged");
    const r = await b.get("/");
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { user: null });
    assert.equal(r.setCookies.length, 1);
    assert.equal(b.jar.has("sesame"), false);
  });

  test("onRefused: a 401 becomes the app's redirect, with the cookie still cleared", async () => {
    const b = new Browser(url);
    b.jar.set("sesame", "gAAAAABforged");
    const r = await b.get("/page");
    assert.equal(r.status, 303);
    assert.equal(r.headers.get("location"), "/login?why=invalid");
    assert.equal(b.jar.has("sesame"), false);
  });

  test("errorHandler: a sesame outage thrown by a route is a 503 with its Retry-After; other errors pass on", async () => {
    const b = new Browser(url);
    const r = await b.get("/boom");
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("retry-after"), "4");
    assert.equal(r.body, "session_service_unavailable");
    const other = await b.get("/plain-error");
    assert.equal(other.status, 500);
    assert.equal((other.body as { handledBy: string }).handledBy, "app");
    assert.ok(new StoreUnavailable(503, "store_unavailable", "x", 1) instanceof SesameUnavailable);
  });

  test("sessionOf on a route without the middleware is a programming error", async () => {
    const r = await new Browser(url).get("/unguarded");
    assert.equal(r.status, 500);
    assert.match((r.body as { error: string }).error, /add requireSession\(\)/);
  });
});
