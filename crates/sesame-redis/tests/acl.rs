//! ACL users: a private `redis-server` whose default user is off and whose
//! only user is `alice` with password `secret`. The store works through
//! `redis://alice:secret@…`; a wrong password, or none, fails at connect
//! with `Error::Config` (no retry fixes it), fast, and the message names
//! the cause without quoting the password. Runs when
//! `SESAME_TEST_REDIS_URL` is set (Redis, and so `redis-server`, is there).

mod support;

use std::time::{Duration, Instant};

use sesame::{Error, Manager, Policy};
use sesame_redis::{RedisConfig, RedisStore};

async fn acl_server() -> (tokio::process::Child, u16) {
    let port = free_port();
    let server = support::redis_server(
        port,
        &[
            "--port",
            &port.to_string(),
            "--user",
            "default",
            "off",
            "--user",
            "alice",
            "on",
            ">secret",
            "~*",
            "&*",
            "+@all",
        ],
    )
    .await;
    (server, port)
}

use support::free_port;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_runs_the_manager_round_trip() {
    if sesame::testing::service_url("SESAME_TEST_REDIS_URL").is_none() {
        return;
    }
    let (_server, port) = acl_server().await;
    let config = RedisConfig::new(format!("redis://alice:secret@127.0.0.1:{port}"))
        .with_prefix(format!("acl-{}:", sesame::testing::unique_suffix()));
    let store = RedisStore::connect_with(config).await.unwrap();
    let manager = Manager::new(store, Policy::default()).unwrap();
    support::round_trip(&manager).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_password_is_a_config_error() {
    if sesame::testing::service_url("SESAME_TEST_REDIS_URL").is_none() {
        return;
    }
    let (_server, port) = acl_server().await;
    for (url, secret) in [
        (
            format!("redis://alice:hunter2wrong@127.0.0.1:{port}"),
            "hunter2wrong",
        ),
        (format!("redis://bob:secret@127.0.0.1:{port}"), "secret"),
        // No credentials: the default user is off, so `NOAUTH`.
        (format!("redis://127.0.0.1:{port}"), "secret"),
    ] {
        let started = Instant::now();
        let err = match RedisStore::connect(&url).await {
            Ok(_) => panic!("{url} connected"),
            Err(e) => e,
        };
        let elapsed = started.elapsed();
        let Error::Config(message) = &err else {
            panic!("{url}: expected Error::Config, got {err:?}");
        };
        assert!(
            message.contains("authentication failed"),
            "{url}: unclear message {message:?}"
        );
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(secret), "{url}: the password leaks: {text}");
        }
        // Within the 250 ms connect timeout, not after the reconnect backoff.
        assert!(
            elapsed < Duration::from_millis(500),
            "{url}: took {elapsed:?}"
        );
    }
}
