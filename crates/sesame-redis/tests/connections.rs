//! The standalone connection pool: `with_connections(n)` opens n connections
//! and commands take them in turn. Checked on a private `redis-server` (its
//! `CLIENT LIST` shows only this test's clients). Runs when
//! `SESAME_TEST_REDIS_URL` is set (Redis, and so `redis-server`, is there).

mod support;

use sesame::{DeviceInfo, Manager, Policy};
use sesame_redis::{RedisConfig, RedisStore};

/// The `CLIENT LIST` lines whose last command was `cmd`.
async fn clients_whose_last_command_was(port: u16, cmd: &str) -> usize {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut c)
        .await
        .unwrap();
    list.lines()
        .filter(|l| l.split(' ').any(|f| f == format!("cmd={cmd}")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_take_the_connections_in_turn() {
    if sesame::testing::service_url("SESAME_TEST_REDIS_URL").is_none() {
        return;
    }
    let port = support::free_port();
    let _server = support::redis_server(port, &["--port", &port.to_string()]).await;
    for n in [1, 3] {
        let config = RedisConfig::new(format!("redis://127.0.0.1:{port}"))
            .with_prefix(format!("pool-{n}-{}:", sesame::testing::unique_suffix()))
            .with_connections(n);
        let store = RedisStore::connect_with(config).await.unwrap();
        let manager = Manager::new(store, Policy::default()).unwrap();
        let device = DeviceInfo::default();
        let created = manager
            .create(Some("alice"), sesame::Data::new(), device.clone())
            .await
            .unwrap();
        // Two rounds of loads: each connection's last command is a load.
        for _ in 0..2 * n {
            manager.load(created.token.expose(), &device).await.unwrap();
        }
        assert_eq!(clients_whose_last_command_was(port, "hgetall").await, n);
        drop(manager);
        // The pool closes with the store (the next round counts its own).
        let mut open = n;
        for _ in 0..100 {
            open = clients_whose_last_command_was(port, "hgetall").await;
            if open == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(open, 0, "the pool's connections outlived the store");
    }
}

#[test]
fn zero_connections_means_one() {
    // `with_connections(0)` would leave no connection to take.
    let config = RedisConfig::new("redis://127.0.0.1:1").with_connections(0);
    assert!(format!("{config:?}").contains("connections: 1"));
}
