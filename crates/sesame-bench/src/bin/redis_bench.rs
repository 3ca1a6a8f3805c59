//! Benchmark: load-with-touch ops/s through the manager at 1 and 50
//! concurrent callers, next to `redis-benchmark -t get` at the same
//! concurrency in the same run, plus the Redis commands per operation (from
//! `INFO commandstats` deltas). The store has its default two connections
//! (`CONNECTIONS=n` to change it).
//!
//! A third figure is the client's ceiling: the same `HGETALL`s of the same
//! session hashes through a bare redis-rs multiplexed connection, with no
//! sesame code around them (no token, no decoding).
//!
//! ```text
//! cargo run --release -p sesame-bench --bin redis_bench -- [redis://127.0.0.1:6379] [seconds]
//! ```
//!
//! Uses a unique key prefix and leaves nothing behind but keys that expire.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sesame::{DeviceInfo, Manager, Policy};
use sesame_redis::{RedisConfig, RedisStore};

/// The allocator `sesame serve` runs with: with glibc's, malloc and free
/// were ~15 % of this client's CPU at 50 callers (`perf`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SESSIONS: usize = 1000;

async fn commandstats(url: &str) -> BTreeMap<String, u64> {
    let client = redis::Client::open(url).expect("url");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .expect("INFO");
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split(',')
                .next()?
                .strip_prefix("calls=")?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

fn redis_benchmark(url: &str, clients: usize, requests: u64) -> f64 {
    let u = url.trim_start_matches("redis://");
    let hostport = u.split('/').next().unwrap_or("127.0.0.1:6379");
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "6379"));
    let out = Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "-t", "get", "-q"])
        .args(["-c", &clients.to_string(), "-n", &requests.to_string()])
        .output()
        .expect("run redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    // "GET: 12345.67 requests per second, p50=0.031 msec"; progress lines
    // are separated by carriage returns.
    text.split(['\r', '\n'])
        .filter_map(|l| l.strip_prefix("GET: "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .next_back()
        .unwrap_or(0.0)
}

/// Runs `callers` tasks for `secs` seconds; caller `c` calls `op(i)` in a
/// loop with `i` = c, c + callers, c + 2 × callers, ... Returns ops/s and
/// the count.
async fn drive<F, Fut>(callers: usize, secs: u64, op: F) -> (f64, u64)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let (op, stop, done) = (op.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    op(i).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    i += callers;
                }
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("task");
    }
    let count = done.load(Ordering::Relaxed);
    (count as f64 / started.elapsed().as_secs_f64(), count)
}

/// Sesame: `Manager::load` of the sessions round-robin.
async fn run(
    manager: &Manager,
    tokens: &Arc<Vec<String>>,
    callers: usize,
    secs: u64,
) -> (f64, u64) {
    let device = DeviceInfo::default().with_user_agent("bench");
    let (manager, tokens) = (manager.clone(), tokens.clone());
    drive(callers, secs, move |i| {
        let (manager, tokens, device) = (manager.clone(), tokens.clone(), device.clone());
        async move {
            manager
                .load(&tokens[i % tokens.len()], &device)
                .await
                .expect("load");
        }
    })
    .await
}

/// The ceiling: `HGETALL` of `keys` round-robin through one bare redis-rs
/// multiplexed connection; ops/s.
async fn bare_hgetall(url: &str, keys: Arc<Vec<String>>, callers: usize, secs: u64) -> f64 {
    let client = redis::Client::open(url).expect("url");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    drive(callers, secs, move |i| {
        let (mut conn, keys) = (conn.clone(), keys.clone());
        async move {
            let reply: redis::Value = redis::cmd("HGETALL")
                .arg(&keys[i % keys.len()])
                .query_async(&mut conn)
                .await
                .expect("HGETALL");
            assert!(matches!(reply, redis::Value::Array(ref v) if !v.is_empty()));
        }
    })
    .await
    .0
}

/// The Redis key of a session's hash: the layout of `src/keys.rs` (private
/// to the store), repeated here for the ceiling measurement.
fn session_key(prefix: &str, token: &str) -> String {
    let hex = sesame::SessionToken::parse(token)
        .expect("token")
        .id()
        .to_hex();
    format!("{prefix}{{b{}}}s:{hex}", &hex[..2])
}

/// One round's figures, all ops/s.
struct Round {
    sesame: f64,
    bare_redis_rs: f64,
    redis_benchmark: f64,
    per_op: Vec<(String, f64)>,
}

/// One measurement: fresh store and sessions, `callers` concurrent loaders,
/// then the bare redis-rs ceiling, then `redis-benchmark`, all at the same
/// concurrency.
async fn bench_one(url: &str, callers: usize, secs: u64) -> Round {
    let prefix = format!("sesame-bench:{}:", sesame::testing::unique_suffix());
    let connections = std::env::var("CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(sesame_redis::DEFAULT_CONNECTIONS);
    let config = RedisConfig::new(url)
        .with_prefix(prefix.clone())
        .with_connections(connections);
    let store = RedisStore::connect_with(config).await.expect("connect");
    let manager = Manager::new(store, Policy::default().with_renewal(None)).expect("policy");
    let device = DeviceInfo::default().with_user_agent("bench");
    let mut tokens = Vec::with_capacity(SESSIONS);
    for i in 0..SESSIONS {
        let mut data = sesame::Data::new();
        data.insert("cart".into(), serde_json::json!({"items": [1, 2, 3]}));
        let created = manager
            .create(Some(&format!("bench-user-{i}")), data, device.clone())
            .await
            .expect("create");
        tokens.push(created.token.expose().to_owned());
    }
    let tokens = Arc::new(tokens);
    let before = commandstats(url).await;
    let (ops, count) = run(&manager, &tokens, callers, secs).await;
    let after = commandstats(url).await;
    let per_op = after
        .iter()
        .filter_map(|(cmd, calls)| {
            let delta = calls.saturating_sub(*before.get(cmd).unwrap_or(&0));
            (delta as f64 > count as f64 * 0.01).then(|| (cmd.clone(), delta as f64 / count as f64))
        })
        .collect();
    let keys = Arc::new(tokens.iter().map(|t| session_key(&prefix, t)).collect());
    let bare_redis_rs = bare_hgetall(url, keys, callers, secs).await;
    let redis_benchmark = redis_benchmark(url, callers, (count).max(10_000));
    Round {
        sesame: ops,
        bare_redis_rs,
        redis_benchmark,
        per_op,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Each caller count runs `ROUNDS` (default 3) rounds of sesame then
/// redis-benchmark; the table gives the medians and the range of the
/// per-round ratios, since the shared machine's speed drifts between rounds.
/// `redis-benchmark` runs one event loop, so sesame runs on a current-thread
/// runtime for the like-for-like figure; 50 callers also run on tokio's
/// default multi-thread runtime, where an app usually calls from.
fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    println!(
        "| callers | runtime | sesame load+touch ops/s (median of {rounds}) | bare redis-rs HGETALL ops/s (median) | redis-benchmark GET req/s (median) | sesame × GET (of medians) | per-round sesame × GET | bare redis-rs × GET | Redis commands per load |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |");
    for (callers, multi_thread) in [(1usize, false), (50, false), (50, true)] {
        let rt = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .expect("runtime");
        let (mut ours, mut bare, mut theirs, mut ratios, mut per_op) =
            (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            let round = rt.block_on(bench_one(&url, callers, secs));
            let get = round.redis_benchmark;
            ours.push(round.sesame);
            bare.push(round.bare_redis_rs);
            theirs.push(get);
            ratios.push(if get > 0.0 { round.sesame / get } else { 0.0 });
            per_op = round.per_op;
        }
        let (ops, bare, get) = (median(ours), median(bare), median(theirs));
        let ratio = |x: f64| if get > 0.0 { x / get } else { 0.0 };
        let cmds: Vec<String> = per_op.iter().map(|(c, n)| format!("{c} {n:.3}")).collect();
        let ratios: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "| {callers} | {} | {ops:.0} | {bare:.0} | {get:.0} | {:.2} | {} | {:.2} | {} |",
            if multi_thread {
                "multi-thread"
            } else {
                "current-thread"
            },
            ratio(ops),
            ratios.join(", "),
            ratio(bare),
            cmds.join(", ")
        );
    }
}
