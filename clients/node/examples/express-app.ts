/**
 * The seed's app on Express over `sesame serve`: log in, a profile behind
 * `requireSession()`, log out, "my sessions" with "log out everywhere".
 * JSON in and out; users alice / wonderland and bob / builder.
 *
 *   SESAME_URL=http://127.0.0.1:7700 SESAME_API_KEY=sk_... node dist/examples/express-app.js
 *
 * The key needs the admin scope for "my sessions" and "log out everywhere"
 * (listing and revoking a user's sessions are admin operations in sesame).
 * POST bodies must be JSON: with the cookie's SameSite=Strict, that keeps
 * cross-site forms out (no CSRF token needed for this JSON-only app).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { pathToFileURL } from "node:url";

import express from "express";

import { Sesame } from "../src/index.js";
import { type ExpressOptions, sesameExpress } from "../src/express.js";

const USERS: Record<string, string> = { alice: "wonderland", bob: "builder" };
const digest = (s: string) => createHash("sha256").update(s).digest();

/** Compares against every user, so the time does not tell which name exists. */
function passwordOk(user: unknown, password: unknown): user is string {
  if (typeof user !== "string" || typeof password !== "string") return false;
  let ok = false;
  for (const [name, pass] of Object.entries(USERS)) {
    const nameOk = timingSafeEqual(digest(name), digest(user));
    const passOk = timingSafeEqual(digest(pass), digest(password));
    ok = (nameOk && passOk) || ok;
  }
  return ok;
}

/** The app, over a sesame client. */
export function createApp(sesame: Sesame, options: ExpressOptions = {}): express.Express {
  const auth = sesameExpress(sesame, options);
  const app = express();
  app.use(express.json({ limit: "4kb" }));

  app.post("/login", async (req, res) => {
    const { username, password } = (req.body ?? {}) as Record<string, unknown>;
    if (!passwordOk(username, password)) {
      res.status(401).json({ error: "wrong user name or password" });
      return;
    }
    await auth.login(req, res, username);
    res.json({ user: username });
  });

  app.get("/profile", auth.requireSession(), async (req, res) => {
    const visits = await req.sesame!.increment("visits");
    res.json({ user: req.sesame!.user, visits });
  });

  app.get("/sessions", auth.requireSession(), async (req, res) => {
    const current = req.sesame!.session.id;
    const sessions = await req.sesame!.userSessions();
    res.json(sessions.map((s) => ({ id: s.id, current: s.id === current, userAgent: s.device.userAgent ?? null, lastAccessed: s.lastAccessed })));
  });

  app.post("/logout", async (req, res) => {
    await auth.logout(req, res);
    res.status(204).end();
  });

  app.post("/logout-everywhere", auth.requireSession(), async (req, res) => {
    res.json({ ended: await auth.logoutEverywhere(req, res) });
  });

  // A sesame error from a route (sesame down during login, ...) is a 503, never a 500.
  app.use(auth.errorHandler());
  return app;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sesame = new Sesame({ url: process.env.SESAME_URL ?? "http://127.0.0.1:7700", apiKey: process.env.SESAME_API_KEY ?? "" });
  const port = Number(process.env.PORT ?? 3000);
  createApp(sesame).listen(port, "127.0.0.1", () => console.log(`listening on http://localhost:${port}`));
}
