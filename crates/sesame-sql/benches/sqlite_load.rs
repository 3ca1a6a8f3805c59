//! The cost of one `Store::load` (touch not due) on SQLite, per read path,
//! against the memory store: one caller on a current-thread runtime, so the
//! figure is the latency of the call itself. Short enough to run under
//! valgrind's callgrind for instruction counts.
//!
//! `cargo bench -p sesame-sql --bench sqlite_load -- [PATH ...] [--loads N]`
//! with PATH among `inline`, `driver`, `memory` (default: all,
//! N = 200,000). Each path is timed over N loads after 1,000 warm-up loads,
//! on a table of 2,000 sessions.

use std::time::Instant;

use sesame::store::{LoadMode, Lookup};
use sesame::{MemoryStore, SessionId, Store};
use sesame_sql::{SqlConfig, SqlStore, SqliteReads};

mod fixtures;
use fixtures::{BASE, record, timing};

const SESSIONS: u64 = 2_000;

/// Loads `n` sessions round-robin; returns ns per load.
async fn time_loads(store: &dyn Store, ids: &[SessionId], n: usize) -> f64 {
    // Loads at the same instant: the touch is not due, so a load is a read.
    let t = timing(BASE + 1);
    let started = Instant::now();
    for i in 0..n {
        let id = ids[(i * 7919) % ids.len()];
        match store.load(&id, LoadMode::Touch, &t).await {
            Ok(Lookup::Live(_)) => {}
            other => panic!("expected a live session, got {other:?}"),
        }
    }
    started.elapsed().as_nanos() as f64 / n as f64
}

async fn run(path: &str, dir: &std::path::Path, loads: usize) {
    let store: Box<dyn Store> = match path {
        "memory" => Box::new(MemoryStore::new()),
        _ => {
            let reads = match path {
                "inline" => SqliteReads::Inline,
                "driver" => SqliteReads::Driver,
                other => panic!("unknown path {other:?}: inline, driver, memory"),
            };
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{path}.db")).display()
            );
            let config = SqlConfig::new().with_sqlite_reads(reads);
            Box::new(SqlStore::connect_with(&url, config).await.unwrap())
        }
    };
    let mut ids = Vec::new();
    for i in 0..SESSIONS {
        let r = record(i);
        ids.push(r.id);
        store.create(r, None, &timing(BASE)).await.unwrap();
    }
    time_loads(&*store, &ids, 1_000).await;
    let ns = time_loads(&*store, &ids, loads).await;
    println!(
        "| {path} | {loads} | {:.2} µs | {:.0} |",
        ns / 1000.0,
        1e9 / ns
    );
}

fn main() {
    let mut paths = Vec::new();
    let mut loads = 200_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--loads" => loads = args.next().and_then(|n| n.parse().ok()).expect("--loads N"),
            "--bench" => {}
            path => paths.push(path.to_owned()),
        }
    }
    if paths.is_empty() {
        paths = ["inline", "driver", "memory"].map(String::from).to_vec();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!("| read path | loads | per load | loads/s |");
    println!("| --- | --- | --- | --- |");
    for path in &paths {
        runtime.block_on(run(path, dir.path(), loads));
    }
}
