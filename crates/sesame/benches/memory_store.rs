//! Memory store speed: load-with-touch, create, and cleanup cost against the
//! number of live sessions. `cargo bench -p sesame --bench memory_store`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_main};
use sesame::store::{LoadMode, Timing};
use sesame::{DeviceInfo, Manager, ManualClock, MemoryStore, Policy, Store};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn manager(store: Arc<MemoryStore>, clock: &ManualClock) -> Manager {
    Manager::with_clock(store, Policy::default(), Arc::new(clock.clone())).expect("policy")
}

fn device() -> DeviceInfo {
    DeviceInfo::default().with_user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
}

fn load_and_create(c: &mut Criterion) {
    let rt = runtime();
    let clock = ManualClock::starting_now();
    let store = Arc::new(MemoryStore::new());
    let m = manager(store.clone(), &clock);
    let device = device();
    // A realistic background: 100,000 other sessions.
    rt.block_on(async {
        for i in 0..100_000 {
            m.create(Some(&format!("u{i}")), Default::default(), device.clone())
                .await
                .unwrap();
        }
    });
    let mut data = sesame::Data::new();
    data.insert("user_name".into(), "alice".into());
    data.insert("csrf".into(), "x".repeat(43).into());
    let created = rt
        .block_on(m.create(Some("alice"), data, device.clone()))
        .unwrap();
    let token = created.token.expose().to_owned();
    let id = created.token.id();

    let mut group = c.benchmark_group("memory");
    group.bench_function("manager_load_with_touch", |b| {
        b.to_async(&rt)
            .iter(|| async { m.load(&token, &device).await.unwrap() })
    });
    group.bench_function("store_load_with_touch", |b| {
        let t = Timing {
            now: clock.now_for_tests(),
            idle_timeout: Duration::from_secs(1800),
            touch_interval: Duration::from_secs(60),
            tombstone_ttl: Duration::from_secs(600),
        };
        b.to_async(&rt)
            .iter(|| async { store.load(&id, LoadMode::Touch, &t).await.unwrap() })
    });
    group.bench_function("manager_create_anonymous", |b| {
        b.to_async(&rt).iter(|| async {
            m.create(None, Default::default(), device.clone())
                .await
                .unwrap()
        })
    });
    let mut n = 0u64;
    group.bench_function("manager_create_for_user_with_cap", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let user = format!("bench-{}", n % 50_000);
            let m = &m;
            let device = device.clone();
            async move {
                m.create(Some(&user), Default::default(), device)
                    .await
                    .unwrap()
            }
        })
    });
    group.finish();
}

/// Cleanup of 10,000 expired sessions among `live` live ones.
fn cleanup(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("cleanup_10k_expired");
    group.sample_size(10);
    for live in [0usize, 1_000_000] {
        let clock = ManualClock::starting_now();
        let store = Arc::new(MemoryStore::new());
        // The live sessions outlast every iteration's clock moves.
        let month = Duration::from_secs(30 * 24 * 3600);
        let m = Manager::with_clock(
            store.clone(),
            Policy::default()
                .with_idle_timeout(month)
                .with_absolute_lifetime(month),
            Arc::new(clock.clone()),
        )
        .unwrap();
        rt.block_on(async {
            for _ in 0..live {
                m.create(None, Default::default(), DeviceInfo::default())
                    .await
                    .unwrap();
            }
        });
        group.bench_with_input(BenchmarkId::from_parameter(live), &live, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // 10,000 short-lived sessions, then move past their expiry
                    // but not past the live ones' (they were made earlier, so
                    // move the clock back afterwards).
                    let expired = Manager::with_clock(
                        store.clone(),
                        Policy::default()
                            .with_idle_timeout(Duration::from_secs(2))
                            .with_touch_interval(Duration::from_secs(1))
                            .with_absolute_lifetime(Duration::from_secs(2))
                            .with_tombstone_ttl(Duration::ZERO),
                        Arc::new(clock.clone()),
                    )
                    .unwrap();
                    rt.block_on(async {
                        for _ in 0..10_000 {
                            expired
                                .create(None, Default::default(), DeviceInfo::default())
                                .await
                                .unwrap();
                        }
                    });
                    clock.advance(Duration::from_secs(3));
                    let started = Instant::now();
                    let report = rt.block_on(expired.cleanup()).unwrap();
                    total += started.elapsed();
                    assert_eq!(report.expired.len(), 10_000);
                }
                total
            })
        });
    }
    group.finish();
}

mod group {
    // A private module: the function the macro generates is not public API.
    criterion::criterion_group!(benches, super::load_and_create, super::cleanup);
}
criterion_main!(group::benches);
