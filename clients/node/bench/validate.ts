/**
 * What the client adds to a validate: `sesame.validate()` against a bare
 * `fetch` of the same endpoint with the same headers (API key, token, device)
 * that parses the same JSON answer — both on Node's global fetch, so the
 * same keep-alive connection pool. One `sesame serve` (release build unless
 * SESAME_BIN says otherwise), one session, one interleaved run: each round
 * runs N validates per side in blocks of BLOCK, the sides in turn.
 *
 *   npm run build && SESAME_BIN=../../target/release/sesame node dist/bench/validate.js
 *   ROUNDS=10 N=2000 BLOCK=100 CONCURRENCY=1,8 ...
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
const BLOCK = Number(process.env.BLOCK ?? 100);
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
    // The bare call with the client's bounded timeout (an AbortController and
    // a timer): what a timeout costs in Node's fetch, apart from the client.
    const bareTimeout = async () => {
      const c = new AbortController();
      const timer = setTimeout(() => c.abort(), 5000);
      try {
        const r = await fetch(url, { method: "POST", headers, signal: c.signal });
        if (r.status !== 200) throw new Error(`bare validate: ${r.status}`);
        return await r.json();
      } finally {
        clearTimeout(timer);
      }
    };
    const ops = { client, bare, bareTimeout } as const;
    type Side = keyof typeof ops;
    // Warm up both (JIT, connections).
    for (let i = 0; i < 500; i++) {
      await client();
      await bare();
    }
    console.log(`sesame serve ${process.env.SESAME_BIN}, memory://; ${ROUNDS} rounds x ${N} validates per side; node ${process.version}`);
    for (const c of CONCURRENCY) {
      // Fine interleaving: blocks of BLOCK validates, client and bare in
      // turn (alternating which goes first), so both sides see the same load
      // on a shared, noisy machine; a round's figure sums its blocks.
      const names = Object.keys(ops) as Side[];
      const sides = Object.fromEntries(names.map((n) => [n, [] as Sample[]])) as Record<Side, Sample[]>;
      for (let round = 0; round < ROUNDS; round++) {
        const sum = Object.fromEntries(names.map((n) => [n, { wallUs: 0, cpuUs: 0 }])) as Record<Side, Sample>;
        const blocks = N / BLOCK;
        for (let block = 0; block < blocks; block++) {
          // Rotate the order so that no side always runs first.
          const order = names.map((_, i) => names[(i + block) % names.length]!);
          for (const side of order) {
            const m = await measure(ops[side], BLOCK, c);
            sum[side].wallUs += m.wallUs / blocks;
            sum[side].cpuUs += m.cpuUs / blocks;
          }
        }
        for (const n of names) sides[n].push(sum[n]);
      }
      const wall = (s: Sample[]) => median(s.map((x) => x.wallUs));
      const cpu = (s: Sample[]) => median(s.map((x) => x.cpuUs));
      const ratios = (a: Side, b: Side) => median(sides[a].map((s, i) => s.wallUs / sides[b][i]!.wallUs));
      console.log(`concurrency ${c}:`);
      for (const n of names) {
        console.log(`  ${n.padEnd(12)} wall ${wall(sides[n]).toFixed(1)} us, node CPU ${cpu(sides[n]).toFixed(1)} us per validate`);
      }
      console.log(
        `  client / bare: wall ${ratios("client", "bare").toFixed(3)} (median of round ratios), CPU ${(cpu(sides.client) / cpu(sides.bare)).toFixed(3)}`,
      );
      console.log(
        `  client / bareTimeout: wall ${ratios("client", "bareTimeout").toFixed(3)}, CPU ${(cpu(sides.client) / cpu(sides.bareTimeout)).toFixed(3)}`,
      );
      console.log(`  per-round client / bare wall ratios: ${sides.client.map((s, i) => (s.wallUs / sides.bare[i]!.wallUs).toFixed(2)).join(" ")}`);
    }
  } finally {
    await server.close();
  }
}

await main();
