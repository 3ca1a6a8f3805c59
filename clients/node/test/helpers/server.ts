/**
 * The real `sesame serve` for the tests: the binary from `SESAME_BIN`, else
 * the workspace's `target/debug/sesame` (run-tests.sh builds it), started on
 * a config written to a temporary directory, listening on a free loopback
 * port, with fresh API keys and a fresh cookie key.
 *
 * Why a child process rather than a mock: the client's contract is the
 * service's behaviour, and a mock would only check the client against the
 * test author's idea of it.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository root (clients/node/dist/test/helpers → ../../../../..). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../..");

/** The `sesame` binary the tests run. */
export function sesameBinary(): string {
  const bin = process.env.SESAME_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(REPO, "target"), "debug", "sesame");
  if (!existsSync(bin)) {
    throw new Error(
      `no sesame binary at ${bin}: run clients/node/run-tests.sh (it builds it), ` +
        "or `cargo build -p sesame-server`, or set SESAME_BIN",
    );
  }
  return resolve(bin);
}

/** Settings for one server. */
export interface ServerOptions {
  /** `memory` (default) or `sqlite` (a file in the server's directory). */
  store?: "memory" | "sqlite";
  /** Extra TOML appended under `[policy]` (e.g. `renewal_interval = "300ms"`). */
  policy?: string;
  /** Extra TOML tables appended at the end. */
  extra?: string;
}

/** A running `sesame serve`. */
export class SesameServer {
  /** `http://127.0.0.1:<port>`. */
  url = "";
  /** A key with the `validate` and `sessions` scopes (what an app server uses). */
  readonly appKey = `sk_test_app_${randomBytes(16).toString("hex")}`;
  /** A key with the `admin` scope (everything). */
  readonly adminKey = `sk_test_admin_${randomBytes(16).toString("hex")}`;
  /** A key with the `validate` scope only. */
  readonly validateKey = `sk_test_validate_${randomBytes(16).toString("hex")}`;
  readonly #dir: string;
  readonly #config: string;
  #child: ChildProcess | null = null;
  #port = 0;

  private constructor(options: ServerOptions) {
    this.#dir = mkdtempSync(join(tmpdir(), "sesame-node-test-"));
    const store = options.store === "sqlite" ? `sqlite://${join(this.#dir, "sesame.db")}` : "memory://";
    const hash = (k: string) => `sha256:${createHash("sha256").update(k).digest("hex")}`;
    // A Fernet key: 32 random bytes, URL-safe base64 with padding.
    const cookieKey = randomBytes(32).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
    const toml = [
      `store = "${store}"`,
      `data_dir = "${join(this.#dir, "data")}"`,
      "[log]",
      'level = "warn"',
      "[cleanup]",
      'interval = "0"',
      "[cookie]",
      `keys = ["${cookieKey}"]`,
      // Plain HTTP on loopback: the development cookie (`sesame`, no Secure).
      "development = true",
      "[policy]",
      options.policy ?? "",
      options.extra ?? "",
      "[[api_keys]]",
      'name = "app"',
      `hash = "${hash(this.appKey)}"`,
      'scopes = ["validate", "sessions"]',
      "[[api_keys]]",
      'name = "ops"',
      `hash = "${hash(this.adminKey)}"`,
      'scopes = ["admin"]',
      "[[api_keys]]",
      'name = "edge"',
      `hash = "${hash(this.validateKey)}"`,
      'scopes = ["validate"]',
      "",
    ].join("\n");
    this.#config = join(this.#dir, "sesame.toml");
    writeFileSync(this.#config, toml);
  }

  /** Writes the config and starts the server; resolves once it listens. */
  static async start(options: ServerOptions = {}): Promise<SesameServer> {
    const server = new SesameServer(options);
    await server.#spawn("127.0.0.1:0");
    return server;
  }

  async #spawn(listen: string): Promise<void> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith("SESAME_") && k !== "RUST_LOG") env[k] = v;
    }
    const child = spawn(sesameBinary(), ["serve", "--listen", listen, "--config", this.#config], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    let log = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      if (log.length < 65536) log += chunk.toString();
    });
    const lines = createInterface({ input: child.stdout! });
    const first = await new Promise<string>((resolveLine, reject) => {
      const timer = setTimeout(() => reject(new Error(`sesame serve did not start in 20 s\n${log}`)), 20_000);
      lines.once("line", (line) => {
        clearTimeout(timer);
        resolveLine(line);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`sesame serve exited (${code}) before listening\n${log}`));
      });
    });
    // Keep draining the banner so the child never blocks on a full pipe.
    lines.on("line", () => {});
    const url = first.trim().split(" ").pop() ?? "";
    if (!url.startsWith("http://127.0.0.1:")) throw new Error(`unexpected banner ${JSON.stringify(first)}\n${log}`);
    this.url = url;
    this.#port = Number(new URL(url).port);
  }

  /** Stops the server (SIGTERM, then waits for it to exit). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((done) => {
      child.once("exit", () => done());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
    });
  }

  /** Starts it again on the same port (the SQLite file keeps the sessions). */
  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn(`127.0.0.1:${this.#port}`);
  }

  /** Stops the server and removes its directory. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** The OpenAPI document the service promises to follow. */
export function openapiDocument(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(REPO, "crates/sesame-server/openapi.json"), "utf8")) as Record<string, unknown>;
}
