//! Requests in process, no sockets, for instruction counts under callgrind
//! (`scripts/bench-instructions.sh`): N requests through `tower::ServiceExt::oneshot` on a
//! current-thread runtime, after one warm-up request. Counting at two values of N and taking
//! the difference per request cancels start-up, so the figure is a request's instructions
//! alone — repeatable to a fraction of a percent where wall-clock figures on a shared VM move
//! by ±20 %.
//!
//! ```text
//! instructions bare            N   # axum, the counter route answering a constant
//! instructions sesame-tower    N   # + sesame-tower, memory store: cookie, load, increment
//! instructions tower-sessions  N   # + tower-sessions 0.14, MemoryStore: get + insert
//! instructions validate-bare   N   # axum, POST /v1/session/validate answering "{}"
//! instructions sesame-validate N   # sesame serve's router and middleware, memory store
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use axum::routing::{get, post};
use sesame::cookie::{FernetKey, KeyRing};
use sesame_server::config::{ApiKeyConfig, Config};
use sesame_tower::{Session, SessionError, SessionLayer};
use tower::ServiceExt;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error + Send + Sync>;

const UA: &str = "bench/1.0";
const KEY: &str = "sk_bench_key_not_secret";
const BODY: &str = r#"{"device":{"user_agent":"bench"}}"#;

fn counter_request(cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get("/counter")
        .header("host", "localhost")
        .header("user-agent", UA);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::empty()).expect("a valid request")
}

fn validate_request(token: &str) -> Request<Body> {
    Request::post("/v1/session/validate")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {KEY}"))
        .header("sesame-token", token)
        .header("content-type", "application/json")
        .header("content-length", BODY.len())
        .body(Body::from(BODY))
        .expect("a valid request")
}

/// The `name=value` part of the response's `Set-Cookie`.
fn cookie_of(response: &Response<Body>) -> Result<String, Error> {
    let value = response
        .headers()
        .get("set-cookie")
        .ok_or("no Set-Cookie")?
        .to_str()?;
    Ok(value.split(';').next().unwrap_or_default().to_owned())
}

/// Sends `n` requests made by `request` and checks each answer's status.
async fn drive(router: Router, n: u64, request: impl Fn() -> Request<Body>) -> Result<(), Error> {
    for _ in 0..n {
        let response = router.clone().oneshot(request()).await?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()).into());
        }
        axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    }
    Ok(())
}

async fn counter(router: Router, n: u64) -> Result<(), Error> {
    let first = router.clone().oneshot(counter_request(None)).await?;
    let cookie = cookie_of(&first)?;
    drive(router, n, || counter_request(Some(&cookie))).await
}

fn server_config() -> Result<Config, Error> {
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        store: Some("memory://".into()),
        api_keys: vec![ApiKeyConfig {
            name: "bench".into(),
            hash: sesame_server::auth::hash_line(KEY),
            scopes: vec!["admin".into()],
        }],
        ..Config::default()
    };
    config.cookie.keys = vec![sesame_server::cookies::generate_key()?.to_string()];
    config.policy.renewal_interval = sesame_server::config::Dur(std::time::Duration::ZERO);
    Ok(config)
}

async fn run(target: &str, n: u64) -> Result<(), Error> {
    match target {
        "bare" => {
            let router = Router::new().route("/counter", get(|| async { "1".to_owned() }));
            drive(router, n, || counter_request(None)).await
        }
        "sesame-tower" => {
            let manager =
                sesame::Manager::new(sesame::MemoryStore::new(), sesame::Policy::default())?;
            let layer = SessionLayer::new(manager, KeyRing::new(FernetKey::generate()?));
            let router = Router::new()
                .route(
                    "/counter",
                    get(|s: Session| async move {
                        Ok::<_, SessionError>(s.increment("counter", 1).await?.to_string())
                    }),
                )
                .layer(layer);
            counter(router, n).await
        }
        "tower-sessions" => {
            let layer =
                tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
                    .with_secure(false);
            let router = Router::new()
                .route(
                    "/counter",
                    get(|s: tower_sessions::Session| async move {
                        let n: i64 = s.get("counter").await.ok().flatten().unwrap_or(0);
                        let _ = s.insert("counter", n + 1).await;
                        (n + 1).to_string()
                    }),
                )
                .layer(layer);
            counter(router, n).await
        }
        "validate-bare" => {
            let router = Router::new().route(
                "/v1/session/validate",
                post(|| async { ([("content-type", "application/json")], "{}") }),
            );
            drive(router, n, || validate_request("none")).await
        }
        "sesame-validate" => {
            let built =
                sesame_server::server::build(&server_config()?, Arc::new(sesame::SystemClock))
                    .await?;
            let device = sesame::DeviceInfo::default().with_user_agent("bench");
            let created = built
                .state
                .manager
                .create(None, sesame::Data::new(), device)
                .await?;
            let token = created.token.expose().to_owned();
            drive(built.router, n, || validate_request(&token)).await
        }
        other => Err(format!("unknown target {other}").into()),
    }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, n] = args.as_slice() else {
        return Err("usage: instructions <target> <requests>".into());
    };
    let n: u64 = n.parse()?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(target, n))
}
