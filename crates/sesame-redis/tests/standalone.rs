//! The store conformance suite against a standalone Redis
//! (`SESAME_TEST_REDIS_URL`), each case under a key prefix of its own.
//!
//! The command timeout is raised from 250 ms to 10 s here: the suite's stress
//! cases (50 callers patching one 5000-key session, each reply carrying the
//! whole record) run on a debug build on a shared 2-core machine. The fault
//! test keeps the default.

use std::time::Duration;

use sesame_redis::{RedisConfig, RedisStore};

async fn store() -> Option<RedisStore> {
    let url = sesame::testing::service_url("SESAME_TEST_REDIS_URL")?;
    let prefix = format!("sesame-test:{}:", sesame::testing::unique_suffix());
    let store = RedisStore::connect_with(
        RedisConfig::new(url)
            .with_prefix(prefix)
            .with_command_timeout(Duration::from_secs(10)),
    )
    .await
    .expect("connect to SESAME_TEST_REDIS_URL");
    assert!(!store.is_cluster());
    Some(store)
}

sesame::store_conformance_tests!(store);
sesame::store_history_tests!(store);
