//! A memcached of the test's own goes down and comes back: operations fail
//! fast with `StoreUnavailable`, and the same store object works again.

mod common;

use std::time::{Duration, Instant};

use sesame::{Error, Manager, Policy};
use sesame_memcached::{MemcachedConfig, MemcachedStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_is_unavailable_fast_and_recovers() {
    if common::url().is_none() {
        return;
    }
    let mut own = common::OwnMemcached::start().await;
    let config = MemcachedConfig::from_url(&own.url())
        .unwrap()
        .with_timeout(Duration::from_millis(300))
        .unwrap();
    let m = Manager::new(MemcachedStore::new(config), Policy::default()).unwrap();
    let device = sesame::DeviceInfo::default();
    let before = m
        .create(Some("fay"), Default::default(), device.clone())
        .await
        .unwrap();
    m.load(before.token.expose(), &device).await.unwrap();
    // Fill the pool with connections that the crash will kill.
    let loads: Vec<_> = (0..20)
        .map(|_| {
            let (m, token, device) = (m.clone(), before.token.clone(), device.clone());
            tokio::spawn(async move { m.load(token.expose(), &device).await.map(drop) })
        })
        .collect();
    for l in loads {
        l.await.unwrap().unwrap();
    }

    own.kill().await;
    for _ in 0..3 {
        let started = Instant::now();
        let result = m.load(before.token.expose(), &device).await;
        assert!(
            matches!(result, Err(Error::StoreUnavailable(_))),
            "{result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert!(matches!(
        m.create(Some("fay"), Default::default(), device.clone())
            .await,
        Err(Error::StoreUnavailable(_))
    ));
    assert!(matches!(
        m.store().ping().await,
        Err(Error::StoreUnavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(1));

    own.restart().await;
    // No request after the restart trips over a connection from before it.
    let loads: Vec<_> = (0..20)
        .map(|_| {
            let (m, token, device) = (m.clone(), before.token.clone(), device.clone());
            tokio::spawn(async move { m.load(token.expose(), &device).await.map(drop) })
        })
        .collect();
    for l in loads {
        assert!(matches!(l.await.unwrap(), Err(Error::NotFound)));
    }
    m.store().ping().await.unwrap();
    // A restarted memcached is empty: the old session is gone, not an error.
    assert!(matches!(
        m.load(before.token.expose(), &device).await,
        Err(Error::NotFound)
    ));
    let after = m
        .create(Some("fay"), Default::default(), device.clone())
        .await
        .unwrap();
    assert!(m.load(after.token.expose(), &device).await.is_ok());
    assert_eq!(m.list_user("fay").await.unwrap().len(), 1);
}

/// A server that accepts connections but never answers costs one timeout,
/// not a hang.
#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = MemcachedConfig::new([addr.to_string()])
        .unwrap()
        .with_timeout(Duration::from_millis(200))
        .unwrap();
    let store = MemcachedStore::new(config);
    let started = Instant::now();
    let result = sesame::Store::ping(&store).await;
    assert!(
        matches!(result, Err(Error::StoreUnavailable(_))),
        "{result:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(1),
        "{took:?}"
    );
    drop(listener);
}
