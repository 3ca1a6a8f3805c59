//! Shared by the tests that start their own `redis-server` (ACL, TLS, fault): a
//! free port, the server process, and a round trip through the manager.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use sesame::{DeviceInfo, EndReason, Error, Manager, Patch};
use tokio::process::{Child, Command};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

/// Starts `redis-server` without persistence with `args`, and waits until
/// `port` accepts TCP connections. Killed when dropped.
pub async fn redis_server(port: u16, args: &[&str]) -> Child {
    let mut child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn redis-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("redis-server exited at startup ({status}); args {args:?}");
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

/// Create, load, update, load, end, load: every step against the store,
/// with the data checked at each.
pub async fn round_trip(manager: &Manager) {
    let device = DeviceInfo::default();
    let mut data = sesame::Data::new();
    data.insert("n".into(), 1.into());
    let created = manager
        .create(Some("alice"), data, device.clone())
        .await
        .unwrap();
    let token = created.token.expose().to_owned();

    let loaded = manager.load(&token, &device).await.unwrap();
    assert_eq!(loaded.session.id, created.token.id());
    assert_eq!(loaded.session.data["n"], 1);

    let patch = Patch::new()
        .set("n", 2)
        .unwrap()
        .set("who", "alice")
        .unwrap();
    let updated = manager.update(&token, &patch, Some(1)).await.unwrap();
    assert_eq!(updated.version, 2);
    let loaded = manager.load(&token, &device).await.unwrap();
    assert_eq!(loaded.session.data["n"], 2);
    assert_eq!(loaded.session.data["who"], "alice");
    assert_eq!(manager.list_user("alice").await.unwrap().len(), 1);

    assert!(manager.destroy(&token, EndReason::LoggedOut).await.unwrap());
    match manager.load(&token, &device).await {
        Err(Error::Ended { reason }) => assert_eq!(reason, EndReason::LoggedOut),
        other => panic!("an ended session loaded as {other:?}"),
    }
    assert!(manager.list_user("alice").await.unwrap().is_empty());
}
