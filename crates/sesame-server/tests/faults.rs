//! The fault matrix of `sesame serve` (issue 9): one test per fault, each on
//! its own services (a `redis-server` on a free port, a tmpfs, a temporary
//! SQLite file), never the shared ones, and each against the real binary so
//! that "no panic" means the process is still up and its log says nothing of
//! a panic.
//!
//! | fault | test |
//! | --- | --- |
//! | store down at start-up | [`store_down_at_start_up_serves_503_then_recovers_without_a_restart`] |
//! | store lost mid-load and back | [`redis_lost_mid_load_fails_fast_and_comes_back_with_every_kept_session`] |
//! | SQLite on a full disk | [`sqlite_on_a_full_disk_answers_store_full_and_loses_nothing`] |
//! | SQLite on a read-only disk | [`sqlite_on_a_read_only_disk_serves_reads_and_corrupts_nothing`] |
//! | kill -9 under load on SQLite | [`kill_9_under_load_on_sqlite_loses_no_acknowledged_write`] |
//! | slow store | [`slow_store_times_out_fast_while_health_checks_answer`] |
//!
//! The Redis tests need the `redis-server` binary and the disk tests need
//! root (they mount a tmpfs: `chmod` does not stop root, and a real full disk
//! is the point). Without them a test says SKIPPED and passes, unless
//! `SESAME_REQUIRE_SERVICES=1`, when it fails. Responses go through the
//! OpenAPI check of `common::TestServer` (but the few read raw for their
//! `Retry-After`), so each fault's answer is a documented one. The figures
//! each test measured are printed on stderr (`--nocapture`).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::mounts::{ReadOnlyFile, Tmpfs};
use common::process::{
    Serve, config_in, config_toml, serve_expecting_exit, sesame, sqlite_url, write_config,
};
use common::proxy::{Mode, Proxy};
use common::redis_server::{self, RedisServer};
use common::*;
use parking_lot::Mutex;
use serde_json::{Value, json};

// ---------------------------------------------------------------- helpers

fn code(body: &Value) -> Option<&str> {
    body["code"].as_str()
}

/// `GET /healthz`, timed.
async fn health(c: &TestServer) -> (u16, Duration) {
    let started = Instant::now();
    let (st, _) = c.get("/healthz").await;
    (st, started.elapsed())
}

/// Polls `/readyz` until it answers 200; returns how long that took.
async fn until_ready(c: &TestServer, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (st, b) = c.get("/readyz").await;
        if st == 200 {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not ready after {limit:?}: {b}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Validates `token` until it answers 200 — anything else meanwhile must be
/// 503 `store_unavailable` — and returns how long that took.
async fn until_validates(c: &TestServer, token: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (st, b) = c.validate(token).await;
        if st == 200 {
            return started.elapsed();
        }
        assert_eq!(code(&b), Some("store_unavailable"), "{b}");
        assert!(started.elapsed() < limit, "no recovery");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `PRAGMA integrity_check` on an SQLite file (opened read-write, so that a
/// WAL left by a killed process is recovered first, as the server would).
async fn integrity_check(db: &Path) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&sqlite_url(db))
        .await
        .unwrap();
    let result: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    result
}

/// Creates a session for `user` with `data`; its token.
async fn create_with(c: &TestServer, user: &str, data: Value) -> String {
    let (st, b) = c
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": user, "data": data, "device": {"user_agent": UA}}))
        .await;
    assert_eq!(st, 201, "{b}");
    b["token"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------- the faults

/// Store down at start-up: `sesame serve` on a Redis URL where nothing
/// listens starts anyway. `/healthz` is 200, `/readyz` 503 saying the store
/// has not answered yet, session requests 503 `store_unavailable` with
/// `Retry-After`; the CLI, which opens the store itself, fails at once. When
/// a Redis comes up on that port the same process becomes ready within a
/// few seconds (the reconnect backoff is capped at 2 s) and works. A URL the
/// store refuses still stops `serve`: that is a configuration error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_at_start_up_serves_503_then_recovers_without_a_restart() {
    if !redis_server::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let store = format!("redis://127.0.0.1:{port}");
    let config = config_in(dir.path(), &store, "");
    let started = Instant::now();
    let mut server = Serve::start(&config, "serve.log");
    let start_time = started.elapsed();
    let c = server.client();

    let (st, took) = health(&c).await;
    assert_eq!(st, 200);
    assert!(took < Duration::from_millis(200), "{took:?}");
    let (st, b) = c.get("/readyz").await;
    assert_eq!((st, code(&b)), (503, Some("store_unavailable")), "{b}");
    let message = b["message"].as_str().unwrap();
    assert!(
        message.contains("redis store has not answered since start-up"),
        "{message}"
    );
    assert!(
        !message.contains(&port.to_string()),
        "no internals: {message}"
    );

    let r = c
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": "ann"}))
        .send()
        .await
        .unwrap();
    let (st, retry, b) = (r.status, r.header("retry-after"), &r.body);
    assert_eq!((st, retry), (503, Some("1")), "{b}");
    assert_eq!(code(b), Some("store_unavailable"));
    let (st, b) = c
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": "ann"}))
        .await;
    assert_eq!((st, code(&b)), (503, Some("store_unavailable")));
    let unknown = sesame::SessionToken::generate().unwrap();
    let (st, b) = c.validate(unknown.expose()).await;
    assert_eq!((st, code(&b)), (503, Some("store_unavailable")));

    // The CLI does not wait for the store.
    let cli_started = Instant::now();
    let out = sesame()
        .args(["sessions", "list", "--user", "ann", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let cli_time = cli_started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot open the store"), "{stderr}");
    assert!(stderr.contains("unavailable"), "{stderr}");
    assert!(cli_time < Duration::from_secs(5), "{cli_time:?}");
    server.assert_healthy();

    // Redis comes up: the same process becomes ready and works.
    let _redis = RedisServer::ephemeral(port, dir.path());
    let recovery = until_ready(&c, Duration::from_secs(10)).await;
    assert!(recovery < Duration::from_secs(5), "{recovery:?}");
    let (_, b) = c.get("/readyz").await;
    assert_eq!(b["store"], "redis");
    let (token, _, id) = c.create(Some("ann")).await;
    let (st, b) = c.validate(&token).await;
    assert_eq!((st, b["session"]["id"].as_str()), (200, Some(id.as_str())));
    server.assert_healthy();

    // One warn line per failed attempt, naming the store, never a token.
    let log = server.log_text();
    let attempts = log
        .lines()
        .filter(|l| l.contains("\"WARN\"") && l.contains("not reachable"))
        .count();
    assert!(attempts >= 1, "{log}");
    assert!(log.contains("session store reachable: ready"), "{log}");
    assert!(!log.contains(&token) && !log.contains(unknown.expose()));
    assert!(server.terminate().success());

    // A URL the store refuses is a configuration error, not an outage: no
    // start (exit code 2, naming the setting).
    let bad = tempfile::tempdir().unwrap();
    let bad_config = config_in(bad.path(), &format!("{store}?prefix=a{{b"), "");
    let out = serve_expecting_exit(&bad_config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid configuration: store"), "{stderr}");
    eprintln!(
        "figures: start {start_time:?} with the store down; CLI failed in {cli_time:?}; \
         ready {recovery:?} after Redis came up; {attempts} failed attempts logged"
    );
}

/// Store lost mid-load and back: a Redis that keeps what it acknowledged
/// (`appendonly yes`, `appendfsync always`: fsynced before each reply) is
/// SIGKILLed under load and restarted on the same port and folder. While it
/// is down every request fails fast (503 `store_unavailable`, well under a
/// second: the Redis store's command timeout is 250 ms) and none gets a 500;
/// once it is back the same `sesame serve` works again, and every session it
/// ever acknowledged still validates.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_lost_mid_load_fails_fast_and_comes_back_with_every_kept_session() {
    if !redis_server::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::durable(free_port(), dir.path());
    let config = config_in(dir.path(), &redis.url(), "");
    let mut server = Serve::start(&config, "serve.log");
    let c = Arc::new(server.client());
    let acked = Arc::new(Mutex::new(Vec::new()));
    for i in 0..30 {
        let token = create_with(&c, "kim", json!({"i": i})).await;
        acked.lock().push(token);
    }

    #[derive(Default)]
    struct Seen {
        ok: u64,
        unavailable: u64,
        slowest_failure: Duration,
        unexpected: Vec<String>,
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|w| {
            let (c, acked, seen, stop) = (c.clone(), acked.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let started = Instant::now();
                    let (st, b, created) = if n.is_multiple_of(3) {
                        let (st, b) = c
                            .post("/v1/sessions")
                            .key(SESSIONS_KEY)
                            .json(json!({"user": "kim", "data": {"w": w, "n": n}}))
                            .await;
                        (st, b, true)
                    } else {
                        let token = {
                            let all = acked.lock();
                            all[(n * 7 + w) % all.len()].clone()
                        };
                        let (st, b) = c.validate(&token).await;
                        (st, b, false)
                    };
                    let took = started.elapsed();
                    let mut seen = seen.lock();
                    match (st, code(&b)) {
                        (201, _) if created => {
                            seen.ok += 1;
                            acked.lock().push(b["token"].as_str().unwrap().to_owned());
                        }
                        (200, _) if !created => seen.ok += 1,
                        (503, Some("store_unavailable")) => {
                            seen.unavailable += 1;
                            seen.slowest_failure = seen.slowest_failure.max(took);
                        }
                        _ => seen.unexpected.push(format!("{st} {b}")),
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = seen.lock().ok;
    assert!(before > 0, "the load runs");
    redis.kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Down: health answers, readiness says no, fast.
    let (st, took) = health(&c).await;
    assert!(st == 200 && took < Duration::from_millis(200), "{took:?}");
    let started = Instant::now();
    let (st, b) = c.get("/readyz").await;
    assert_eq!((st, code(&b)), (503, Some("store_unavailable")));
    assert!(started.elapsed() < Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let failed_while_down = seen.lock().unavailable;
    assert!(
        failed_while_down > 0,
        "requests must fail while Redis is down"
    );

    redis.restart();
    let probe = acked.lock()[0].clone();
    let recovery = until_validates(&c, &probe, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock());
    assert!(seen.unexpected.is_empty(), "{:?}", seen.unexpected);
    assert!(
        seen.slowest_failure < Duration::from_secs(1),
        "a failure took {:?}",
        seen.slowest_failure
    );
    // Nothing Redis acknowledged is lost.
    let tokens = acked.lock().clone();
    for token in &tokens {
        let (st, b) = c.validate(token).await;
        assert_eq!(st, 200, "an acknowledged session was lost: {b}");
    }
    until_ready(&c, Duration::from_secs(1)).await;
    server.assert_healthy();
    assert!(server.terminate().success());
    eprintln!(
        "figures: {} requests ok, {} answered 503 while Redis was down (slowest {:?}); \
         first success {recovery:?} after the restart; {} acknowledged sessions all kept",
        seen.ok,
        seen.unavailable,
        seen.slowest_failure,
        tokens.len()
    );
}

/// SQLite on a full disk (a 4 MiB tmpfs, filled with a ballast file but for
/// 256 KiB): creates succeed until the disk is full, then answer 503
/// `store_full` with `Retry-After` — never a 500 — while every session
/// already there still validates and `/readyz` stays 200 (reads work).
/// Deleting the ballast makes creates work again without a restart; after a
/// clean stop the file passes `PRAGMA integrity_check` and a new process
/// finds every acknowledged session with its data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_answers_store_full_and_loses_nothing() {
    let Some(disk) = Tmpfs::mount("4m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = disk.path.join("sesame.db");
    let config = write_config(dir.path(), &config_toml(&sqlite_url(&db), &disk.path, ""));
    let mut server = Serve::start(&config, "serve.log");
    let c = server.client();
    let mut acked: Vec<(String, u64)> = Vec::new();
    for i in 0..5 {
        acked.push((create_with(&c, "ann", json!({"i": i})).await, i));
    }

    let ballast = disk.fill(256 * 1024);
    let pad = "x".repeat(2048);
    let mut full_after = None;
    for i in 5..2000u64 {
        let body = json!({"user": format!("u{}", i % 7), "data": {"i": i, "pad": pad},
                          "device": {"user_agent": UA}});
        let (st, b) = c.post("/v1/sessions").key(SESSIONS_KEY).json(body).await;
        match (st, code(&b)) {
            (201, _) => acked.push((b["token"].as_str().unwrap().to_owned(), i)),
            (503, Some("store_full")) => {
                full_after = Some(i - 5);
                break;
            }
            _ => panic!("a create on a full disk answered {st} {b}"),
        }
    }
    let full_after = full_after.expect("the disk never filled up");
    assert!(full_after > 0, "some creates fit in the space left");

    // Still full: writes keep failing the same way, fast; reads work.
    for _ in 0..3 {
        let started = Instant::now();
        let r = c
            .post("/v1/sessions")
            .key(SESSIONS_KEY)
            .json(json!({"data": {"pad": pad}}))
            .send()
            .await
            .unwrap();
        let (st, retry, b) = (r.status, r.header("retry-after"), &r.body);
        assert_eq!((st, retry, code(b)), (503, Some("1"), Some("store_full")));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    let (st, b) = c
        .patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&acked[0].0)
        .json(json!({"set": {"pad": pad}}))
        .await;
    assert!(
        st == 200 || (st, code(&b)) == (503, Some("store_full")),
        "{st} {b}"
    );
    for (token, i) in &acked {
        let (st, b) = c.validate(token).await;
        assert_eq!((st, &b["session"]["data"]["i"]), (200, &json!(i)), "{b}");
    }
    until_ready(&c, Duration::from_secs(1)).await;
    server.assert_healthy();

    // Space comes back: so do writes, without a restart.
    std::fs::remove_file(&ballast).unwrap();
    acked.push((
        create_with(&c, "ann", json!({"i": 9999, "pad": pad})).await,
        9999,
    ));
    assert!(server.terminate().success());

    // Nothing corrupted, nothing acknowledged lost.
    assert_eq!(integrity_check(&db).await, "ok");
    let server = Serve::start(&config, "after.log");
    let c = server.client();
    for (token, i) in &acked {
        let (st, b) = c.validate(token).await;
        assert_eq!((st, &b["session"]["data"]["i"]), (200, &json!(i)), "{b}");
    }
    assert!(server.terminate().success());
    eprintln!(
        "figures: {full_after} creates of ~2 KiB fitted in the last 256 KiB; \
         {} acknowledged sessions all kept",
        acked.len()
    );
}

/// `sesame serve` on a read-only SQLite database: it starts, `/readyz` is
/// 200 and reads work (validate, get), while every write answers 503
/// `store_unavailable` with `Retry-After` (never a 500) and the log names
/// the cause. Returns the log.
async fn reads_work_writes_refused(config: &Path, log_name: &str, tokens: &[String]) -> String {
    let mut server = Serve::start(config, log_name);
    let c = server.client();
    until_ready(&c, Duration::from_secs(1)).await;
    for (i, token) in tokens.iter().enumerate() {
        let (st, b) = c.validate(token).await;
        assert_eq!((st, &b["session"]["data"]["i"]), (200, &json!(i)), "{b}");
        let (st, b) = c.get("/v1/session").key(SESSIONS_KEY).token(token).await;
        assert_eq!((st, &b["data"]["seen"]), (200, &json!(true)), "{b}");
    }
    let r = c
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": "bob"}))
        .send()
        .await
        .unwrap();
    let (st, retry, b) = (r.status, r.header("retry-after"), &r.body);
    assert_eq!(
        (st, retry, code(b)),
        (503, Some("1"), Some("store_unavailable")),
        "{b}"
    );
    let writes: [(&str, &str, Option<Value>); 3] = [
        (
            "PATCH",
            "/v1/session",
            Some(json!({"set": {"seen": false}})),
        ),
        ("POST", "/v1/session/increment", Some(json!({"key": "n"}))),
        ("DELETE", "/v1/session", None),
    ];
    for (method, path, body) in writes {
        let started = Instant::now();
        let (st, b) = c
            .request(method, path)
            .key(SESSIONS_KEY)
            .token(&tokens[0])
            .maybe_json(body)
            .await;
        assert_eq!((st, code(&b)), (503, Some("store_unavailable")), "{b}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    server.assert_healthy();
    let log = server.log_text();
    assert!(log.contains("readonly database"), "{log}");
    assert!(server.terminate().success());
    log
}

/// SQLite on a read-only disk, each way it happens:
/// - the whole file system is read-only and the database was closed
///   cleanly (no `-shm` file): SQLite cannot open a WAL database without its
///   shared-memory file, so `serve` refuses to start — exit code 1, saying
///   it cannot open the store and why;
/// - only the database file is read-only (a read-only bind mount over it;
///   its folder stays writable): `serve` starts, reads work, writes get 503
///   `store_unavailable` (see [`reads_work_writes_refused`]);
/// - the file system is read-only with the `-shm` file there (left by a
///   process that ran on it, as when a disk turns read-only under a running
///   server that is then restarted): the same as a read-only file.
///
/// Made writable again, the file passes `PRAGMA integrity_check` and holds
/// every session and change made before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_read_only_disk_serves_reads_and_corrupts_nothing() {
    let Some(disk) = Tmpfs::mount("16m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = disk.path.join("sesame.db");
    let config = write_config(dir.path(), &config_toml(&sqlite_url(&db), &disk.path, ""));
    let server = Serve::start(&config, "serve.log");
    let c = server.client();
    let mut tokens = Vec::new();
    for i in 0..10 {
        let token = create_with(&c, "ann", json!({"i": i})).await;
        let (st, _) = c
            .patch("/v1/session")
            .key(SESSIONS_KEY)
            .token(&token)
            .json(json!({"set": {"seen": true}}))
            .await;
        assert_eq!(st, 200);
        tokens.push(token);
    }
    assert!(server.terminate().success());
    let shm = disk.path.join("sesame.db-shm");
    assert!(!shm.exists(), "a clean stop removes the WAL files");

    disk.set_read_only(true);
    let out = serve_expecting_exit(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let refused = stderr
        .lines()
        .find(|l| l.starts_with("sesame: cannot open the store"))
        .unwrap_or_else(|| panic!("no reason given: {stderr}"))
        .to_owned();
    assert!(
        refused.contains("unable to open database file"),
        "{refused}"
    );
    disk.set_read_only(false);

    {
        let _read_only = ReadOnlyFile::new(&db);
        reads_work_writes_refused(&config, "read-only-file.log", &tokens).await;
    }
    assert!(shm.exists(), "a read-only connection leaves its -shm file");
    disk.set_read_only(true);
    reads_work_writes_refused(&config, "read-only-disk.log", &tokens).await;
    disk.set_read_only(false);

    assert_eq!(integrity_check(&db).await, "ok");
    let server = Serve::start(&config, "after.log");
    let c = server.client();
    for (i, token) in tokens.iter().enumerate() {
        let (st, b) = c.validate(token).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["session"]["data"], json!({"i": i, "seen": true}));
    }
    create_with(&c, "bob", json!({})).await;
    assert!(server.terminate().success());
    eprintln!("figures: read-only start without -shm refused with: {refused}");
}

/// A change the kill -9 test makes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    /// `increment` of `hits`.
    Increment,
    /// `PATCH` setting `last` to this, with `expected_version`.
    Set(u64),
}

/// What a client knows of one of its sessions.
#[derive(Debug, Clone)]
struct Tracked {
    token: String,
    /// Acknowledged changes (each bumps the version by one).
    changes: u64,
    /// Acknowledged increments.
    hits: i64,
    /// The last acknowledged `Set`.
    last: Option<u64>,
    /// The change sent and not answered when the server died.
    in_flight: Option<Op>,
}

/// One client of the kill -9 test: creates a session for `user`, makes ten
/// changes to it one at a time, and again, until the server stops
/// answering. Returns what it knows, and the first answer that was neither
/// a success nor a dead server.
async fn change_until_killed(c: Arc<TestServer>, user: String) -> (Vec<Tracked>, Option<String>) {
    let mut ledger = Vec::new();
    loop {
        let created = c
            .post("/v1/sessions")
            .key(SESSIONS_KEY)
            .json(json!({"user": user}))
            .send()
            .await;
        let token = match created {
            Ok(Reply {
                status: 201, body, ..
            }) => body["token"].as_str().unwrap().to_owned(),
            Ok(r) => return (ledger, Some(format!("create {} {}", r.status, r.body))),
            Err(_) => return (ledger, None), // the server is gone
        };
        ledger.push(Tracked {
            token: token.clone(),
            changes: 0,
            hits: 0,
            last: None,
            in_flight: None,
        });
        let t = ledger.len() - 1;
        for k in 0..10u64 {
            let op = if k % 2 == 0 {
                Op::Increment
            } else {
                Op::Set(k)
            };
            let version = 1 + ledger[t].changes;
            let (method, path, body) = match op {
                Op::Increment => ("POST", "/v1/session/increment", json!({"key": "hits"})),
                Op::Set(k) => (
                    "PATCH",
                    "/v1/session",
                    json!({"set": {"last": k}, "expected_version": version}),
                ),
            };
            ledger[t].in_flight = Some(op);
            let answer = c
                .request(method, path)
                .key(SESSIONS_KEY)
                .token(&token)
                .json(body)
                .send()
                .await;
            let tracked = &mut ledger[t];
            let b = match answer {
                Ok(Reply {
                    status: 200, body, ..
                }) => body,
                Ok(r) => return (ledger, Some(format!("{method} {} {}", r.status, r.body))),
                Err(_) => return (ledger, None),
            };
            tracked.in_flight = None;
            tracked.changes += 1;
            let consistent = match op {
                Op::Increment => {
                    tracked.hits += 1;
                    b["value"] == tracked.hits
                }
                Op::Set(k) => {
                    tracked.last = Some(k);
                    b["version"] == version + 1
                }
            };
            if !consistent {
                return (ledger, Some(format!("{method} answered {b}")));
            }
        }
    }
}

/// kill -9 of `sesame serve` under load on SQLite: four clients create
/// sessions and change them (increments, and patches with
/// `expected_version`), one request at a time each, recording every
/// acknowledged (2xx) change and the one in flight. The server is SIGKILLed
/// mid-load. The file then passes `PRAGMA integrity_check`, and a new
/// process on it has every acknowledged session with every acknowledged
/// change: per session `acked <= hits <= acked + in flight`, and the same
/// bound on its version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_on_sqlite_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data").join("sesame.db");
    let config = config_in(dir.path(), &sqlite_url(&db), "");
    let mut server = Serve::start(&config, "serve.log");
    let c = Arc::new(server.client());
    let workers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(change_until_killed(c.clone(), format!("w{w}"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    let mut ledger = Vec::new();
    for w in workers {
        let (tracked, unexpected) = w.await.unwrap();
        assert_eq!(unexpected, None);
        ledger.extend(tracked);
    }
    let changes: u64 = ledger.iter().map(|t| t.changes).sum();
    let in_flight = ledger.iter().filter(|t| t.in_flight.is_some()).count();
    assert!(
        ledger.len() >= 8 && changes >= 40,
        "too little load: {ledger:?}"
    );

    assert_eq!(integrity_check(&db).await, "ok");
    let server = Serve::start(&config, "after.log");
    let c = server.client();
    let mut applied_in_flight = 0;
    for t in &ledger {
        let (st, b) = c.get("/v1/session").key(SESSIONS_KEY).token(&t.token).await;
        assert_eq!(st, 200, "an acknowledged create was lost: {b}");
        let hits = b["data"]["hits"].as_i64().unwrap_or(0);
        let version = b["version"].as_u64().unwrap();
        let last = b["data"]["last"].as_u64();
        let extra = u64::from(t.in_flight.is_some());
        assert!(
            (1 + t.changes..=1 + t.changes + extra).contains(&version),
            "{t:?}: version {version}"
        );
        let applied = version == 2 + t.changes;
        applied_in_flight += usize::from(applied);
        match (t.in_flight, applied) {
            (Some(Op::Increment), true) => assert_eq!(hits, t.hits + 1, "{t:?}"),
            (Some(Op::Set(k)), true) => assert_eq!(last, Some(k), "{t:?}"),
            _ => {
                assert_eq!(hits, t.hits, "{t:?}");
                assert_eq!(last, t.last, "{t:?}");
            }
        }
    }
    assert!(server.terminate().success());
    eprintln!(
        "figures: {} sessions and {changes} changes acknowledged before SIGKILL, all there; \
         {in_flight} in flight, {applied_in_flight} of them applied",
        ledger.len()
    );
}

/// Slow store: a proxy between `sesame serve` and its Redis stalls (holds
/// every byte) or delays (1 s per chunk) the traffic. Session requests then
/// answer 503 `store_unavailable` within the Redis store's command timeout
/// (250 ms) plus a margin — well before `limits.request_timeout` (2 s here)
/// — while `/healthz` answers in under 200 ms with 20 requests stuck. Back to
/// normal, requests succeed on the same process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_store_times_out_fast_while_health_checks_answer() {
    if !redis_server::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::ephemeral(free_port(), dir.path());
    let proxy = Proxy::start(redis.port).await;
    let config = config_in(
        dir.path(),
        &format!("redis://127.0.0.1:{}", proxy.port),
        "[limits]\nrequest_timeout = \"2s\"\n",
    );
    let mut server = Serve::start(&config, "serve.log");
    let c = Arc::new(server.client());
    let (token, _, _) = c.create(Some("ann")).await;
    assert_eq!(c.validate(&token).await.0, 200);

    proxy.set(Mode::Stall);
    let stuck: Vec<_> = (0..20)
        .map(|_| {
            let (c, token) = (c.clone(), token.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let (st, b) = c.validate(&token).await;
                (st, b, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut slowest_health = Duration::ZERO;
    for _ in 0..5 {
        let (st, took) = health(&c).await;
        assert_eq!(st, 200);
        slowest_health = slowest_health.max(took);
    }
    assert!(
        slowest_health < Duration::from_millis(200),
        "{slowest_health:?}"
    );
    let mut slowest_stuck = Duration::ZERO;
    for s in stuck {
        let (st, b, took) = s.await.unwrap();
        assert_eq!((st, code(&b)), (503, Some("store_unavailable")), "{b}");
        slowest_stuck = slowest_stuck.max(took);
    }
    assert!(slowest_stuck < Duration::from_secs(1), "{slowest_stuck:?}");
    let started = Instant::now();
    let (st, b) = c.get("/readyz").await;
    assert_eq!((st, code(&b)), (503, Some("store_unavailable")));
    assert!(started.elapsed() < Duration::from_secs(1));

    proxy.set(Mode::Delay(Duration::from_secs(1)));
    let started = Instant::now();
    let (st, b) = c.validate(&token).await;
    let delayed = started.elapsed();
    assert_eq!((st, code(&b)), (503, Some("store_unavailable")), "{b}");
    assert!(delayed < Duration::from_secs(1), "{delayed:?}");

    proxy.set(Mode::Normal);
    let recovery = until_validates(&c, &token, Duration::from_secs(5)).await;
    c.create(Some("ann")).await;
    until_ready(&c, Duration::from_secs(1)).await;
    server.assert_healthy();
    assert!(server.terminate().success());
    eprintln!(
        "figures: stuck requests answered 503 in at most {slowest_stuck:?}, delayed in \
         {delayed:?}; /healthz at most {slowest_health:?} meanwhile; recovered in {recovery:?}"
    );
}
