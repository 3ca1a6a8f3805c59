//! The soak run: mixed traffic against a running `sesame serve` for a long
//! time, to show the load is held — no errors, flat memory, steady latency.
//!
//! Each connection keeps a few live sessions (one per user slot) and sends,
//! in every cycle of 57 requests, 1 create, 50 validates, 5 patches and 1
//! logout (the issue's 1:50:5:1 mix), so the live population stays constant.
//! A validate that renews the token switches to the new one. Requests are
//! sent at a fixed total rate (latency counted from the scheduled time when
//! the connection was still busy, as in `rate_client`), or as fast as the
//! server answers with rate 0.
//!
//! Every 30 s it prints the interval's rate, p99, errors and the server's
//! resident memory (from `/proc/PID/status`); at the end, per-operation
//! counts and p50 / p99 / max, and the memory at the first report against
//! the last. Exit code 1 if any request failed.
//!
//! `soak HOST:PORT SECONDS CONNECTIONS RATE API_KEY SERVER_PID`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sesame_bench::raw_http::{Conn, percentile_ms};

/// Live sessions each connection keeps (one per user slot; one slot is
/// free at a time so a create always has somewhere to go).
const SLOTS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    Validate,
    Patch,
    Logout,
}

const OPS: [Op; 4] = [Op::Create, Op::Validate, Op::Patch, Op::Logout];

/// The operation at position `i` of the 57-request cycle.
fn op_at(i: usize) -> Op {
    match i % 57 {
        0 => Op::Logout,
        28 => Op::Create,
        5 | 15 | 25 | 35 | 45 => Op::Patch,
        _ => Op::Validate,
    }
}

/// Counters the reporter reads while the load runs.
#[derive(Default)]
struct Live {
    ok: AtomicU64,
    errors: AtomicU64,
    /// Worst latency of the current interval, in microseconds.
    interval_max_us: AtomicU64,
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies: [Vec<Duration>; 4],
    errors: Vec<String>,
}

struct Client {
    conn: Conn,
    id: usize,
    headers: String,
    slots: Vec<Option<String>>,
    next: usize,
    patches: u64,
}

impl Client {
    fn token_headers(&self, token: &str) -> String {
        format!("{}sesame-token: {token}\r\n", self.headers)
    }

    /// The next live slot, round robin.
    fn live_slot(&mut self) -> Option<usize> {
        for _ in 0..SLOTS {
            self.next = (self.next + 1) % SLOTS;
            if self.slots[self.next].is_some() {
                return Some(self.next);
            }
        }
        None
    }

    async fn create(&mut self, slot: usize) -> Result<(), String> {
        let body = format!(
            r#"{{"user":"soak-{}-{slot}","data":{{"n":0}},"device":{{"user_agent":"soak"}}}}"#,
            self.id
        );
        let req = self
            .conn
            .request("POST", "/v1/sessions", &self.headers, &body);
        let answer = self
            .conn
            .send(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        if answer.status != 201 && answer.status != 200 {
            return Err(failure("create", answer.status, &answer.body));
        }
        let json: serde_json::Value =
            serde_json::from_slice(&answer.body).map_err(|e| format!("create: {e}"))?;
        let token = json["token"].as_str().ok_or("create: no token")?;
        self.slots[slot] = Some(token.to_owned());
        Ok(())
    }

    async fn run(&mut self, op: Op) -> Result<(), String> {
        if op == Op::Create {
            let free = self.slots.iter().position(Option::is_none);
            return match free {
                Some(slot) => self.create(slot).await,
                None => Err("create: no free slot".into()),
            };
        }
        let slot = self.live_slot().ok_or("no live session")?;
        let token = self.slots[slot].clone().unwrap_or_default();
        let headers = self.token_headers(&token);
        let (method, path, body) = match op {
            Op::Validate => (
                "POST",
                "/v1/session/validate",
                r#"{"device":{"user_agent":"soak"}}"#.to_owned(),
            ),
            Op::Patch => {
                self.patches += 1;
                (
                    "PATCH",
                    "/v1/session",
                    format!(r#"{{"set":{{"n":{}}}}}"#, self.patches),
                )
            }
            Op::Logout | Op::Create => ("DELETE", "/v1/session", String::new()),
        };
        let req = self.conn.request(method, path, &headers, &body);
        let answer = self
            .conn
            .send(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        if !(200..300).contains(&answer.status) {
            return Err(failure(path, answer.status, &answer.body));
        }
        match op {
            Op::Logout => self.slots[slot] = None,
            Op::Validate if contains(&answer.body, br#""renewed":{"#) => {
                let json: serde_json::Value =
                    serde_json::from_slice(&answer.body).map_err(|e| format!("validate: {e}"))?;
                let renewed = json["renewed"]["token"]
                    .as_str()
                    .ok_or("renewed: no token")?;
                self.slots[slot] = Some(renewed.to_owned());
            }
            _ => {}
        }
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn failure(what: &str, status: u16, body: &[u8]) -> String {
    format!("{what}: {status} {}", String::from_utf8_lossy(body))
}

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    id: usize,
    spread: f64,
    host: String,
    headers: String,
    start: Instant,
    end: Instant,
    interval: Option<Duration>,
    live: Arc<Live>,
) -> Tally {
    let conn = Conn::open(&host).await.expect("connect");
    let mut client = Client {
        conn,
        id,
        headers,
        slots: vec![None; SLOTS],
        next: 0,
        patches: 0,
    };
    let mut tally = Tally::default();
    for slot in 0..SLOTS - 1 {
        if let Err(e) = client.create(slot).await {
            tally.errors.push(e);
        }
    }
    tokio::time::sleep_until(start.into()).await;
    // Connections start spread over one interval, not all at once.
    let mut due = start + interval.map_or(Duration::ZERO, |i| i.mul_f64(spread));
    let mut prev_done = start;
    let mut i = id * 7;
    while due < end {
        if let Some(interval) = interval {
            tokio::time::sleep_until(due.into()).await;
            due += interval;
        } else {
            due = Instant::now();
        }
        let base = if prev_done > due { due } else { Instant::now() };
        let op = op_at(i);
        i += 1;
        let result = client.run(op).await;
        prev_done = Instant::now();
        let took = prev_done - base;
        live.interval_max_us
            .fetch_max(took.as_micros() as u64, Ordering::Relaxed);
        match result {
            Ok(()) => {
                live.ok.fetch_add(1, Ordering::Relaxed);
                tally.latencies[op as usize].push(took);
            }
            Err(e) => {
                live.errors.fetch_add(1, Ordering::Relaxed);
                if tally.errors.len() < 20 {
                    tally.errors.push(e);
                } else {
                    tally.errors.push(String::new());
                }
            }
        }
    }
    tally
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: soak HOST:PORT SECONDS CONNECTIONS RATE API_KEY SERVER_PID");
        std::process::exit(2);
    }
    let host = args[1].trim_start_matches("http://").to_owned();
    let secs: u64 = args[2].parse().expect("SECONDS");
    let conns: usize = args[3].parse().expect("CONNECTIONS");
    let rate: f64 = args[4].parse().expect("RATE");
    let headers = format!("authorization: Bearer {}\r\n", args[5]);
    let pid = args[6].clone();
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(conns as f64 / rate));
    let start = Instant::now() + Duration::from_secs(2);
    let end = start + Duration::from_secs(secs);
    let live = Arc::new(Live::default());
    let tasks: Vec<_> = (0..conns)
        .map(|id| {
            tokio::spawn(connection(
                id,
                id as f64 / conns as f64,
                host.clone(),
                headers.clone(),
                start,
                end,
                interval,
                Arc::clone(&live),
            ))
        })
        .collect();

    let mut rss = Vec::new();
    let reporter = {
        let live = Arc::clone(&live);
        let pid = pid.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut last_ok = 0;
            let mut tick = start;
            loop {
                tick += Duration::from_secs(30);
                if tick > end {
                    return samples;
                }
                tokio::time::sleep_until(tick.into()).await;
                let ok = live.ok.load(Ordering::Relaxed);
                let kib = rss_kib(&pid);
                samples.push(kib);
                println!(
                    "t={:>4}s  {:>7.0} req/s  worst {:>7.2} ms  errors {}  server RSS {:.1} MiB",
                    (tick - start).as_secs(),
                    (ok - last_ok) as f64 / 30.0,
                    live.interval_max_us.swap(0, Ordering::Relaxed) as f64 / 1e3,
                    live.errors.load(Ordering::Relaxed),
                    kib as f64 / 1024.0
                );
                last_ok = ok;
            }
        })
    };

    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.expect("connection task");
        for (all, mine) in total.latencies.iter_mut().zip(tally.latencies) {
            all.extend(mine);
        }
        total.errors.extend(tally.errors);
    }
    rss.extend(reporter.await.expect("reporter"));

    let mut everything = Vec::new();
    for (op, lat) in OPS.iter().zip(total.latencies.iter_mut()) {
        lat.sort();
        everything.extend_from_slice(lat);
        println!(
            "{op:?}: {} ok, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            lat.len(),
            percentile_ms(lat, 0.50),
            percentile_ms(lat, 0.99),
            lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }
    everything.sort();
    println!(
        "all: {} ok in {secs}s ({:.0} req/s), p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; errors {}",
        everything.len(),
        everything.len() as f64 / secs as f64,
        percentile_ms(&everything, 0.50),
        percentile_ms(&everything, 0.99),
        percentile_ms(&everything, 0.999),
        everything.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        total.errors.len()
    );
    if let (Some(first), Some(last), Some(max)) = (rss.first(), rss.last(), rss.iter().max()) {
        println!(
            "server RSS: {:.1} MiB at 30 s, {:.1} MiB at the end, max {:.1} MiB",
            *first as f64 / 1024.0,
            *last as f64 / 1024.0,
            *max as f64 / 1024.0
        );
    }
    for e in total.errors.iter().filter(|e| !e.is_empty()).take(20) {
        println!("error: {e}");
    }
    if !total.errors.is_empty() {
        std::process::exit(1);
    }
}
