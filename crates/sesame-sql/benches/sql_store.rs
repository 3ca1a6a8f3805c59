//! SQL store throughput: create and load-with-touch ops/s at 1 and 16
//! concurrent callers on SQLite (once per read path: inline, through sqlx),
//! PostgreSQL and MariaDB, and one cleanup of
//! 100,000 expired sessions among 1,000,000.
//!
//! `cargo bench -p sesame-sql --bench sql_store` (PostgreSQL and MySQL from
//! `SESAME_TEST_POSTGRES_URL` / `SESAME_TEST_MYSQL_URL`; skipped when unset).
//! `SESAME_BENCH_SECS` sets each measurement's length (default 3),
//! `SESAME_BENCH_ROWS` the cleanup table size (default 1,000,000).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sesame::store::LoadMode;
use sesame::{SessionId, SessionToken, Store};
use sesame_sql::{SqlConfig, SqlStore, SqliteReads};
use sqlx::{AssertSqlSafe, Connection, Executor};

mod fixtures;
use fixtures::{BASE, record, timing};

async fn measure<F, Fut>(callers: usize, secs: f64, op: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let op = op.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    op(n).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    counter.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn throughput(name: &str, store: SqlStore, secs: f64) {
    let ids: Vec<SessionId> = {
        let mut ids = Vec::new();
        for i in 0..2_000 {
            let r = record(i);
            ids.push(r.id);
            store.create(r, None, &timing(BASE)).await.unwrap();
        }
        ids
    };
    let ids = Arc::new(ids);
    for callers in [1, 16] {
        let s = store.clone();
        let create = measure(callers, secs, move |i| {
            let s = s.clone();
            async move {
                s.create(record(i), None, &timing(BASE)).await.unwrap();
            }
        })
        .await;
        // Loads at the same instant: the touch is not due, so a load is a read.
        let (s, ids2) = (store.clone(), ids.clone());
        let load = measure(callers, secs, move |i| {
            let (s, ids) = (s.clone(), ids2.clone());
            async move {
                let id = ids[(i as usize * 7919) % ids.len()];
                s.load(&id, LoadMode::Touch, &timing(BASE + 1))
                    .await
                    .unwrap();
            }
        })
        .await;
        // Each load a minute after the last: every load writes its touch.
        let (s, ids2) = (store.clone(), ids.clone());
        let clock = Arc::new(AtomicU64::new(1));
        let touch = measure(callers, secs, move |i| {
            let (s, ids, clock) = (s.clone(), ids2.clone(), clock.clone());
            async move {
                let id = ids[(i as usize * 7919) % ids.len()];
                let minute = clock.fetch_add(1, Ordering::Relaxed);
                let t = timing(BASE + minute * 60_000);
                s.load(&id, LoadMode::Touch, &t).await.unwrap();
            }
        })
        .await;
        println!("| {name} | {callers} | {create:.0} | {load:.0} | {touch:.0} |");
    }
}

/// Fills the table with `rows` sessions by bulk INSERT, `expired` of them
/// past their idle expiry at BASE + 1 h (their tombstones kept 10 min); then times one cleanup pass and the
/// purge of the tombstones it left.
async fn cleanup(name: &str, url: &str, store: SqlStore, rows: u64, expired: u64) {
    let table = store.sessions_table().to_owned();
    let pg = url.starts_with("postgres");
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    if url.starts_with("sqlite") {
        conn.execute("PRAGMA synchronous = OFF").await.unwrap();
    }
    let fill = Instant::now();
    let per = 500u64;
    let mut i = 0u64;
    while i < rows {
        let n = per.min(rows - i);
        let mut sql = format!(
            "INSERT INTO {table} (id, user_id, data, version, created_at, token_issued_at, \
             last_accessed, idle_expires_at, absolute_expires_at, deadline, device) VALUES "
        );
        for k in 0..n {
            let j = i + k;
            let idle = if j.is_multiple_of(rows / expired) {
                BASE + 3_500_000
            } else {
                BASE + 86_400_000
            };
            let id = hex(SessionToken::generate().unwrap().id().as_bytes());
            let id = if pg {
                format!("'\\x{id}'::bytea")
            } else {
                format!("X'{id}'")
            };
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "({id}, 'user-{}', '{{\"n\":{j}}}', 1, {BASE}, {BASE}, {BASE}, {idle}, {}, {idle}, NULL)",
                j % 10_000,
                BASE + 86_400_000
            ));
        }
        conn.execute(AssertSqlSafe(sql)).await.unwrap();
        i += n;
    }
    let filled = fill.elapsed();
    let t = timing(BASE + 3_600_000);
    let report = store.cleanup(&t, 1_000).await.unwrap();
    let t2 = timing(BASE + 4_200_000);
    let purge = store.cleanup(&t2, 1_000).await.unwrap();
    println!(
        "| {name} | {rows} | {} ({} scanned, {} deleted) | {:.2} s | {} | {:.2} s | ({} rows filled in {:.0} s)",
        report.expired.len(),
        report.scanned,
        report.deleted,
        report.duration.as_secs_f64(),
        purge.deleted,
        purge.duration.as_secs_f64(),
        rows,
        filled.as_secs_f64()
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs: f64 = std::env::var("SESAME_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let rows: u64 = std::env::var("SESAME_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |file: &str| format!("sqlite://{}?mode=rwc", dir.path().join(file).display());
    // SQLite once per read path (the first, the default, also runs cleanup).
    let mut targets = vec![
        (
            "SQLite (FULL)",
            sqlite("bench.db"),
            None,
            SqliteReads::Inline,
        ),
        (
            "SQLite (FULL), reads through sqlx",
            sqlite("driver.db"),
            None,
            SqliteReads::Driver,
        ),
    ];
    for (name, var) in [
        ("PostgreSQL", "SESAME_TEST_POSTGRES_URL"),
        ("MariaDB", "SESAME_TEST_MYSQL_URL"),
    ] {
        match std::env::var(var) {
            Ok(url) if !url.is_empty() => targets.push((
                name,
                url,
                Some(format!("b{}_", sesame::testing::unique_suffix())),
                SqliteReads::Inline,
            )),
            _ => eprintln!("{name}: {var} not set, skipped"),
        }
    }
    println!(
        "| store | callers | create ops/s | load ops/s (no touch due) | load ops/s (touch every call) |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let mut stores = Vec::new();
    for (name, url, prefix, reads) in &targets {
        let mut config = SqlConfig::new()
            .with_max_connections(16)
            .with_sqlite_reads(*reads);
        if let Some(p) = prefix {
            config = config.with_table_prefix(p);
        }
        let store = SqlStore::connect_with(url, config).await.unwrap();
        throughput(name, store.clone(), secs).await;
        if !name.contains(", reads") {
            stores.push((name, url, prefix, store));
        }
    }
    println!();
    println!("| store | rows | expired ended | duration | tombstones purged | duration |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, url, prefix, store) in &stores {
        // A fresh table per store for the cleanup run.
        let fresh = format!("c{}_", sesame::testing::unique_suffix());
        let cstore = SqlStore::connect_with(url, SqlConfig::new().with_table_prefix(&fresh))
            .await
            .unwrap();
        cleanup(name, url, cstore.clone(), rows, rows / 10).await;
        let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
        for p in [Some(fresh.clone()), (*prefix).clone()]
            .into_iter()
            .flatten()
        {
            for t in ["sessions", "users", "schema_migrations"] {
                conn.execute(AssertSqlSafe(format!("DROP TABLE {p}{t}")))
                    .await
                    .ok();
            }
        }
        let _ = store;
    }
}
