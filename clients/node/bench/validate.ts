/**
 * What the client adds to a validate: `sesame.validate()` against a bare
 * `fetch` of the same endpoint with the same headers (API key, token, device)
 * that parses the same JSON answer — both on Node's global fetch, so the
 * same keep-alive connection pool. One `sesame serve` (release build unless
 * SESAME_BIN says otherwise), one session, one interleaved run: each round
 * runs both sides, alternating which goes first.
 *
 *   npm run build && SESAME_BIN=../../target/release/sesame node dist/bench/validate.js
 *   ROUNDS=10 N=2000 CONCURRENCY=1,8 ...
 *
 * Reports per side the median wall time per validate, the Node process's
 * CPU time per validate (user + system, so the server's cost is not in it),
 * and the ratio client / bare of each.
 */

import { join } from "node:path";

import { Sesame } from "../src/index.js";
import { REPO, SesameServer } from "../test/helpers/server.js";

const ROUNDS = Number(process.env.ROUNDS ?? 10);
const N = Number(process.env.N ?? 2000);
const CONCURRENCY = (process.env.CONCURRENCY ?? "1,8").split(",").map(Number);
const UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

process.env.SESAME_BIN ??= join(REPO, "target", "release", "sesame");

interface Sample {
  wallUs: number;
  cpuUs: number;
}

async function measure(op: () => Promise<unknown>, n: number, concurrency: number): Promise<Sample> {
  let left = n;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left--;
        await op();
      }
    }),
  );
  const wall = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { wallUs: wall / n, cpuUs: (cpu.user + cpu.system) / n };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const server = await SesameServer.start({ policy: 'renewal_interval = "0"' });
  try {
    const sesame = new Sesame({ url: server.url, apiKey: server.appKey });
    const device = { userAgent: UA, ip: "203.0.113.7" };
    const { token } = await sesame.create({ user: "bench", device });
    const credential = { token };
    const url = `${server.url}/v1/session/validate`;
    const headers = {
      authorization: `Bearer ${server.appKey}`,
      accept: "application/json",
      "sesame-token": token,
      "sesame-device-user-agent": UA,
      "sesame-device-ip": "203.0.113.7",
    };
    const client = () => sesame.validate(credential, { device });
    const bare = async () => {
      const r = await fetch(url, { method: "POST", headers });
      if (r.status !== 200) throw new Error(`bare validate: ${r.status}`);
      return r.json();
    };
    // Warm up both (JIT, connections).
    for (let i = 0; i < 500; i++) {
      await client();
      await bare();
    }
    console.log(`sesame serve ${process.env.SESAME_BIN}, memory://; ${ROUNDS} rounds x ${N} validates per side; node ${process.version}`);
    for (const c of CONCURRENCY) {
      const sides = { client: [] as Sample[], bare: [] as Sample[] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? (["client", "bare"] as const) : (["bare", "client"] as const);
        for (const side of order) sides[side].push(await measure(side === "client" ? client : bare, N, c));
      }
      const wall = (s: Sample[]) => median(s.map((x) => x.wallUs));
      const cpu = (s: Sample[]) => median(s.map((x) => x.cpuUs));
      const ratios = sides.client.map((s, i) => s.wallUs / sides.bare[i]!.wallUs);
      console.log(
        [
          `concurrency ${c}:`,
          `  wall per validate: client ${wall(sides.client).toFixed(1)} us, bare ${wall(sides.bare).toFixed(1)} us, ratio ${(wall(sides.client) / wall(sides.bare)).toFixed(3)}`,
          `  node CPU per validate: client ${cpu(sides.client).toFixed(1)} us, bare ${cpu(sides.bare).toFixed(1)} us, ratio ${(cpu(sides.client) / cpu(sides.bare)).toFixed(3)}`,
          `  per-round wall ratios: ${ratios.map((r) => r.toFixed(2)).join(" ")}`,
        ].join("\n"),
      );
    }
  } finally {
    await server.close();
  }
}

await main();
