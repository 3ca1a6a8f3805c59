//! The store conformance suite against a Redis Cluster
//! (`SESAME_TEST_REDIS_CLUSTER_URL`, e.g. from `scripts/redis-cluster.sh`),
//! each case under a key prefix of its own. It exercises the cluster's
//! multi-step orders for create, rotate, end, list and end-all, including
//! the concurrent cases (200 creates against a cap, racing rotations).
//!
//! The command timeout is raised to 10 s for the same reason as in
//! `standalone.rs` (stress cases on a debug build, shared machine).

use std::time::Duration;

use sesame_redis::{RedisConfig, RedisStore};

sesame::store_conformance_tests!(|| async {
    let url = sesame::testing::service_url("SESAME_TEST_REDIS_CLUSTER_URL")?;
    let prefix = format!("sesame-test:{}:", sesame::testing::unique_suffix());
    let store = RedisStore::connect_with(
        RedisConfig::new(url)
            .with_prefix(prefix)
            .with_command_timeout(Duration::from_secs(10)),
    )
    .await
    .expect("connect to SESAME_TEST_REDIS_CLUSTER_URL");
    assert!(store.is_cluster());
    Some(store)
});
