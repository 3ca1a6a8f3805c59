//! Scale-out: two `sesame serve` processes on one shared store (Redis, and
//! Memcached). A session created through one validates through the other; a
//! revoke through one is refused by the other on its very next request; data
//! changes through either are seen by both. Needs SESAME_TEST_REDIS_URL and
//! SESAME_TEST_MEMCACHED_URL (each test skips with a note if its is unset).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

const KEY: &str = "sk_scale_out_test_key";
const UA: &str = "Firefox/1";

struct Proc {
    child: Child,
    base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(config: &Path) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("SESAME_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let base = first.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://"), "{first}");
    std::thread::spawn(move || for _ in out.lines() {});
    Proc { child, base }
}

async fn call(
    http: &reqwest::Client,
    p: &Proc,
    method: &str,
    path: &str,
    token: Option<(&str, &str)>,
    body: Value,
) -> (u16, Value) {
    let mut req = http
        .request(method.parse().unwrap(), format!("{}{path}", p.base))
        .bearer_auth(KEY)
        .json(&body);
    if let Some((h, v)) = token {
        req = req.header(h, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

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
    let config = dir.path().join("sesame.toml");
    let cookie_key = sesame_server::cookies::generate_key().unwrap().to_string();
    std::fs::write(
        &config,
        format!(
            "store = \"{url}{sep}prefix={prefix}\"\ndata_dir = \"{data}\"\n[log]\nlevel = \"warn\"\n[cookie]\nkeys = [\"{cookie_key}\"]\n[[api_keys]]\nname = \"t\"\nhash = \"{hash}\"\nscopes = [\"admin\"]\n",
            data = dir.path().join("data").display(),
            hash = sesame_server::auth::hash_line(KEY),
        ),
    )
    .unwrap();
    let a = serve(&config);
    let b = serve(&config);
    let http = reqwest::Client::new();
    let device = json!({"device": {"user_agent": UA}});

    // Created through A, validated through B (by token and by cookie).
    let (st, created) = call(
        &http,
        &a,
        "POST",
        "/v1/sessions",
        None,
        json!({"user": "alice", "device": {"user_agent": UA}}),
    )
    .await;
    assert_eq!(st, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let cookie = created["cookie"].as_str().unwrap().to_owned();
    let (st, v) = call(
        &http,
        &b,
        "POST",
        "/v1/session/validate",
        Some(("sesame-token", &token)),
        device.clone(),
    )
    .await;
    assert_eq!((st, &v["session"]["user"]), (200, &json!("alice")), "{v}");
    let (st, _) = call(
        &http,
        &b,
        "POST",
        "/v1/session/validate",
        Some(("sesame-cookie", &cookie)),
        device.clone(),
    )
    .await;
    assert_eq!(st, 200);

    // Changes through either are seen by both; increments are not lost.
    for p in [&a, &b, &a, &b] {
        let (st, _) = call(
            &http,
            p,
            "POST",
            "/v1/session/increment",
            Some(("sesame-token", &token)),
            json!({"key": "hits"}),
        )
        .await;
        assert_eq!(st, 200);
    }
    let (_, got) = call(
        &http,
        &a,
        "GET",
        "/v1/session",
        Some(("sesame-token", &token)),
        json!({}),
    )
    .await;
    assert_eq!(got["data"]["hits"], 4);

    // A revoke through B is refused by A on its very next request.
    let (st, r) = call(&http, &b, "POST", "/v1/users/alice/revoke", None, json!({})).await;
    assert_eq!((st, r["revoked"].as_array().map(Vec::len)), (200, Some(1)));
    let (st, v) = call(
        &http,
        &a,
        "POST",
        "/v1/session/validate",
        Some(("sesame-token", &token)),
        device.clone(),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (401, Some("revoked")), "{v}");

    // Logout through A is refused by B at once, too.
    let (_, created) = call(
        &http,
        &a,
        "POST",
        "/v1/sessions",
        None,
        json!({"user": "bob"}),
    )
    .await;
    let t2 = created["token"].as_str().unwrap().to_owned();
    let (st, _) = call(
        &http,
        &a,
        "DELETE",
        "/v1/session",
        Some(("sesame-token", &t2)),
        json!({}),
    )
    .await;
    assert_eq!(st, 200);
    let (st, v) = call(
        &http,
        &b,
        "POST",
        "/v1/session/validate",
        Some(("sesame-token", &t2)),
        json!({}),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (401, Some("logged_out")));
    let (st, ready) = call(&http, &b, "GET", "/readyz", None, json!({})).await;
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
