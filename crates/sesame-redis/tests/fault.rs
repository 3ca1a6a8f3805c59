//! Fault test: a private `redis-server` on a free port is killed under load
//! and restarted on the same port. While it is down every operation fails
//! fast with `StoreUnavailable` (no panic, no hang past ~1 s, with the
//! default 250 ms command timeout); once it is back, the same store object
//! works again without reconnecting by hand. Runs when
//! `SESAME_TEST_REDIS_URL` is set (Redis, and so `redis-server`, is there).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sesame::{DeviceInfo, Error, Manager, Policy};
use sesame_redis::RedisStore;

mod support;
use support::free_port;

/// This test's server: `redis-server` on `port`, no persistence.
async fn start(port: u16) -> tokio::process::Child {
    support::redis_server(port, &["--port", &port.to_string()]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_fails_fast_and_recovers_without_restart() {
    if sesame::testing::service_url("SESAME_TEST_REDIS_URL").is_none() {
        return;
    }
    let port = free_port();
    let mut server = start(port).await;
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap();
    let manager = Manager::new(store, Policy::default()).unwrap();
    let device = DeviceInfo::default();
    let token = manager
        .create(Some("fault-user"), Default::default(), device.clone())
        .await
        .unwrap()
        .token;

    // Load from 8 callers while the server dies under them.
    let stop = Arc::new(AtomicBool::new(false));
    let slowest_ms = Arc::new(AtomicU64::new(0));
    let loaders: Vec<_> = (0..8)
        .map(|_| {
            let (manager, token, device) = (manager.clone(), token.clone(), device.clone());
            let (stop, slowest_ms) = (stop.clone(), slowest_ms.clone());
            tokio::spawn(async move {
                let mut failures = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let r = manager.load(token.expose(), &device).await;
                    let ms = started.elapsed().as_millis() as u64;
                    slowest_ms.fetch_max(ms, Ordering::Relaxed);
                    match r {
                        Ok(_) => {}
                        Err(Error::StoreUnavailable(_)) => failures += 1,
                        Err(e) => panic!("unexpected error while Redis dies: {e:?}"),
                    }
                }
                failures
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = 0;
    for l in loaders {
        failures += l.await.unwrap();
    }
    assert!(failures > 0, "operations against a dead server must fail");
    let slowest = slowest_ms.load(Ordering::Relaxed);
    assert!(slowest < 1000, "an operation hung for {slowest} ms");

    // Down: each kind of operation fails fast with StoreUnavailable.
    for _ in 0..3 {
        let started = Instant::now();
        let r = manager.load(token.expose(), &device).await;
        assert!(matches!(r, Err(Error::StoreUnavailable(_))), "{r:?}");
        let r = manager
            .create(Some("fault-user"), Default::default(), device.clone())
            .await;
        assert!(matches!(r, Err(Error::StoreUnavailable(_))), "{r:?}");
        assert!(matches!(
            manager.store().ping().await,
            Err(Error::StoreUnavailable(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    // Back on the same port: the same store works again.
    let _server = start(port).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match manager
            .create(Some("fault-user"), Default::default(), device.clone())
            .await
        {
            Ok(created) => {
                let loaded = manager.load(created.token.expose(), &device).await.unwrap();
                assert_eq!(loaded.session.id, created.token.id());
                break;
            }
            Err(Error::StoreUnavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the store did not recover: {e:?}"),
        }
    }
    // The old session died with the unpersisted server.
    assert!(matches!(
        manager.load(token.expose(), &device).await,
        Err(Error::NotFound)
    ));
}
