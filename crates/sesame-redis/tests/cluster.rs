//! The store conformance suite against a Redis Cluster
//! (`SESAME_TEST_REDIS_CLUSTER_URL`, e.g. from `scripts/redis-cluster.sh`),
//! each case under a key prefix of its own. It exercises the cluster's
//! multi-step orders for create, rotate, end, list and end-all, including
//! the concurrent cases (200 creates against a cap, racing rotations).
//!
//! The command timeout is raised to 10 s for the same reason as in
//! `standalone.rs` (stress cases on a debug build, shared machine).
//!
//! For a TLS cluster (`rediss+cluster://…`) whose certificates come from a
//! private CA, `SESAME_TEST_REDIS_CA` names the CA's PEM file.

use std::time::Duration;

use sesame_redis::{RedisConfig, RedisStore};

sesame::store_conformance_tests!(|| async {
    let url = sesame::testing::service_url("SESAME_TEST_REDIS_CLUSTER_URL")?;
    let prefix = format!("sesame-test:{}:", sesame::testing::unique_suffix());
    let config = RedisConfig::new(url)
        .with_prefix(prefix)
        .with_command_timeout(Duration::from_secs(10));
    #[cfg(feature = "tls")]
    let config = match std::env::var("SESAME_TEST_REDIS_CA") {
        Ok(ca) => {
            config.with_root_certificates(std::fs::read(&ca).expect("read SESAME_TEST_REDIS_CA"))
        }
        Err(_) => config,
    };
    let store = RedisStore::connect_with(config)
        .await
        .expect("connect to SESAME_TEST_REDIS_CLUSTER_URL");
    assert!(store.is_cluster());
    Some(store)
});
