//! Throughput of the memcached store: load-with-touch (touch not due: one
//! `gets`; touch due: `gets` + `cas`) and patches, at 1 and 50 concurrent
//! callers, each on its own sessions. Needs `SESAME_TEST_MEMCACHED_URL`.
//!
//! `cargo bench -p sesame-memcached --bench memcached_store`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sesame::store::{LoadMode, Lookup, SessionRecord, Store, Timing};
use sesame::{Clock, Patch, SessionToken, SystemClock, UserId};
use sesame_memcached::{MemcachedConfig, MemcachedStore};

const SESSIONS_PER_CALLER: usize = 20;
const RUN: Duration = Duration::from_secs(2);
const ROUNDS: usize = 3;

fn timing(touch_interval: Duration) -> Timing {
    Timing {
        now: SystemClock.now(),
        idle_timeout: Duration::from_secs(1800),
        touch_interval,
        tombstone_ttl: Duration::from_secs(600),
    }
}

#[derive(Clone, Copy)]
enum Op {
    LoadTouchNotDue,
    LoadTouchDue,
    Patch,
}

async fn run(store: Arc<MemcachedStore>, callers: usize, op: Op) -> f64 {
    let t = timing(Duration::from_secs(60));
    let mut ids = Vec::new();
    for c in 0..callers * SESSIONS_PER_CALLER {
        let id = SessionToken::generate().unwrap().id();
        let absolute = t.now.plus(Duration::from_secs(12 * 3600));
        let mut data = sesame::Data::new();
        data.insert("user_name".into(), serde_json::json!("someone"));
        data.insert("cart".into(), serde_json::json!([1, 2, 3]));
        let record = SessionRecord {
            id,
            user_id: Some(UserId::new(format!("bench-user-{c}")).unwrap()),
            data,
            version: 1,
            created_at: t.now,
            token_issued_at: t.now,
            last_accessed: t.now,
            idle_expires_at: t.idle_expiry(absolute),
            absolute_expires_at: absolute,
            device: Default::default(),
            dbsc: None,
        };
        store.create(record, None, &t).await.unwrap();
        ids.push(id);
    }
    let ids = Arc::new(ids);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let (store, ids, done) = (store.clone(), ids.clone(), done.clone());
            tokio::spawn(async move {
                let mine = &ids[c * SESSIONS_PER_CALLER..(c + 1) * SESSIONS_PER_CALLER];
                let mut n = 0u64;
                let mut i = 0;
                while started.elapsed() < RUN {
                    let id = &mine[i % mine.len()];
                    i += 1;
                    match op {
                        Op::LoadTouchNotDue | Op::LoadTouchDue => {
                            let interval = match op {
                                Op::LoadTouchDue => Duration::ZERO,
                                _ => Duration::from_secs(60),
                            };
                            let found = store
                                .load(id, LoadMode::Touch, &timing(interval))
                                .await
                                .unwrap();
                            assert!(matches!(found, Lookup::Live(_)));
                        }
                        Op::Patch => {
                            let patch = Patch::new().set("n", i).unwrap();
                            store
                                .update(id, &patch, None, 4096, &timing(Duration::from_secs(60)))
                                .await
                                .unwrap();
                        }
                    }
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let Ok(url) = std::env::var("SESAME_TEST_MEMCACHED_URL") else {
        eprintln!("SKIPPED: set SESAME_TEST_MEMCACHED_URL to run the memcached benchmark");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("| operation | callers | ops/s (median of {ROUNDS}) | min – max |");
        println!("| --- | ---: | ---: | ---: |");
        for (name, op) in [
            ("load, touch not due (1 gets)", Op::LoadTouchNotDue),
            ("load, touch due (gets + cas)", Op::LoadTouchDue),
            ("patch (gets + cas)", Op::Patch),
        ] {
            for callers in [1, 50] {
                let mut rounds = Vec::new();
                for _ in 0..ROUNDS {
                    let prefix = format!("sesame-bench-{}:", sesame::testing::unique_suffix());
                    let config = MemcachedConfig::from_url(&url)
                        .unwrap()
                        .with_prefix(prefix)
                        .unwrap();
                    rounds.push(run(Arc::new(MemcachedStore::new(config)), callers, op).await);
                }
                rounds.sort_by(f64::total_cmp);
                let (min, median, max) = (rounds[0], rounds[ROUNDS / 2], rounds[ROUNDS - 1]);
                println!("| {name} | {callers} | {median:.0} | {min:.0} – {max:.0} |");
            }
        }
    });
}
