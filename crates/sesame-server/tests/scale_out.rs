//! Scale-out: two `sesame serve` processes on one shared store (Redis, and
//! Memcached). A session created through one validates through the other; a
//! revoke through one is refused by the other on its very next request; data
//! changes through either are seen by both. Needs SESAME_TEST_REDIS_URL and
//! SESAME_TEST_MEMCACHED_URL (each test skips with a note if its is unset).

mod common;

use common::process::{Serve, config_in};
use common::*;
use serde_json::json;

#[tokio::test]
async fn two_servers_on_one_redis_agree_at_once() {
    let Some(url) = sesame::testing::service_url("SESAME_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("sesame-server-test-{}:", sesame::testing::unique_suffix());
    two_servers_agree(&url, &prefix, "redis").await;
    drop_prefix(&url, &prefix).await;
}

#[tokio::test]
async fn two_servers_on_one_memcached_agree_at_once() {
    let Some(url) = sesame::testing::service_url("SESAME_TEST_MEMCACHED_URL") else {
        return;
    };
    // Memcached cannot list keys; a unique prefix and the records' TTLs
    // keep this test's keys apart and make them go away.
    let prefix = format!("sst{}:", sesame::testing::unique_suffix());
    two_servers_agree(&url, &prefix, "memcached").await;
}

async fn two_servers_agree(url: &str, prefix: &str, kind: &str) {
    let sep = if url.contains('?') { '&' } else { '?' };
    let dir = tempfile::tempdir().unwrap();
    let store = format!("{url}{sep}prefix={prefix}");
    let config = config_in(dir.path(), &store, "");
    let (server_a, server_b) = (
        Serve::start(&config, "a.log"),
        Serve::start(&config, "b.log"),
    );
    let a = server_a.client();
    let b = server_b.client();

    // Created through A, validated through B (by token and by cookie).
    let (st, created) = a
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": "alice", "device": {"user_agent": UA}}))
        .await;
    assert_eq!(st, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let cookie = created["cookie"].as_str().unwrap().to_owned();
    let (st, v) = b.validate(&token).await;
    assert_eq!((st, &v["session"]["user"]), (200, &json!("alice")), "{v}");
    let (st, _) = b
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .cookie(&cookie)
        .json(json!({"device": {"user_agent": UA}}))
        .await;
    assert_eq!(st, 200);

    // Changes through either are seen by both; increments are not lost.
    for server in [&a, &b, &a, &b] {
        let (st, _) = server
            .post("/v1/session/increment")
            .key(SESSIONS_KEY)
            .token(&token)
            .json(json!({"key": "hits"}))
            .await;
        assert_eq!(st, 200);
    }
    let (_, got) = a.get("/v1/session").key(SESSIONS_KEY).token(&token).await;
    assert_eq!(got["data"]["hits"], 4);

    // A revoke through B is refused by A on its very next request.
    let (st, r) = b
        .post("/v1/users/alice/revoke")
        .key(ADMIN_KEY)
        .json(json!({}))
        .await;
    assert_eq!((st, r["revoked"].as_array().map(Vec::len)), (200, Some(1)));
    a.validate(&token).refused(401, "revoked").await;

    // Logout through A is refused by B at once, too.
    let (_, created) = a
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": "bob"}))
        .await;
    let t2 = created["token"].as_str().unwrap().to_owned();
    let (st, _) = a.delete("/v1/session").key(SESSIONS_KEY).token(&t2).await;
    assert_eq!(st, 200);
    b.post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .token(&t2)
        .json(json!({}))
        .refused(401, "logged_out")
        .await;
    let (st, ready) = b.get("/readyz").await;
    assert_eq!((st, ready["store"].as_str()), (200, Some(kind)));
}

/// Deletes this test's keys from the shared Redis.
async fn drop_prefix(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut con)
        .await
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut con)
            .await
            .unwrap();
    }
}
