//! Cluster-order check: after a storm of concurrent creates (cap 3), logouts
//! and rotations of one user, the raw user index in Redis holds exactly the
//! user's live sessions — no stale entry — and no more than the cap. Runs on
//! the standalone server and on the cluster (each when its URL is set).

use std::sync::Arc;
use std::time::Duration;

use sesame::policy::{CapAction, UserCap};
use sesame::testing::{Harness, service_url, unique_suffix};
use sesame::{EndReason, Policy};
use sesame_redis::{RedisConfig, RedisStore};

async fn storm(url: String) {
    let prefix = format!("sesame-test:{}:", unique_suffix());
    let store = RedisStore::connect_with(
        RedisConfig::new(url.clone())
            .with_prefix(prefix.clone())
            .with_command_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let cap = UserCap {
        max: 3,
        on_limit: CapAction::EvictOldest,
    };
    let policy = Policy::default()
        .with_renewal(None)
        .with_user_cap(Some(cap));
    let h = Arc::new(Harness::new(Arc::new(store), policy));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                let created = h.create(Some(&h.user)).await;
                match i % 3 {
                    0 => {
                        let _ = h
                            .manager
                            .destroy(created.token.expose(), EndReason::LoggedOut)
                            .await;
                    }
                    1 => {
                        let _ = h.manager.rotate(created.token.expose()).await;
                    }
                    _ => {
                        let _ = h.manager.list_user(&h.user).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let user = sesame::UserId::new(&h.user).unwrap();
    // The raw index, read straight from Redis.
    let index_key = format!("{prefix}{{u{}}}idx", hex::encode(user.as_str()));
    let mut raw: Vec<String> = raw_zrange(&url, &index_key).await;
    raw.sort();
    let live = h.manager.list_user(&h.user).await.unwrap();
    let mut live_ids: Vec<String> = live.iter().map(|s| s.id.to_hex()).collect();
    live_ids.sort();
    assert!(
        live.len() <= 3,
        "{} live sessions over a cap of 3",
        live.len()
    );
    assert_eq!(raw, live_ids, "the index holds exactly the live sessions");
    // And nothing beyond them is live: every other session loads as ended.
    assert_eq!(
        h.manager.revoke_user(&h.user, None).await.unwrap().len(),
        live.len()
    );
}

async fn raw_zrange(url: &str, key: &str) -> Vec<String> {
    let mut cmd = redis::cmd("ZRANGE");
    cmd.arg(key).arg(0).arg(-1);
    if let Some(nodes) = url.strip_prefix("redis+cluster://") {
        let nodes: Vec<String> = nodes.split(',').map(|n| format!("redis://{n}")).collect();
        let client = redis::cluster::ClusterClient::new(nodes).unwrap();
        let mut c = client.get_async_connection().await.unwrap();
        cmd.query_async(&mut c).await.unwrap()
    } else {
        let client = redis::Client::open(url).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        cmd.query_async(&mut c).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn index_matches_live_sessions_standalone() {
    if let Some(url) = service_url("SESAME_TEST_REDIS_URL") {
        storm(url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn index_matches_live_sessions_cluster() {
    if let Some(url) = service_url("SESAME_TEST_REDIS_CLUSTER_URL") {
        storm(url).await;
    }
}
