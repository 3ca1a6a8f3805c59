//! The server's own cost per validate, without sockets: the full router and
//! middleware of `sesame serve` (memory store) called through
//! `tower::ServiceExt::oneshot`, against a bare axum router answering a
//! constant. `cargo bench -p sesame-server --bench validate_in_process`.
//!
//! Instruction counts: with `SESAME_BENCH_ITERATIONS=N` in the environment
//! the binary skips criterion and runs N validates, for
//! `valgrind --tool=callgrind`; run it with two values of N and divide the
//! difference by theirs to get the cost of one validate without the set-up
//! (docs/BENCHMARKS.md, "Middleware").

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::post;
use criterion::{Criterion, criterion_main};
use sesame_server::config::{ApiKeyConfig, Config};
use tower::ServiceExt;

/// The `sesame` binary's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEY: &str = "sk_bench_key_not_secret";
const BODY: &str = r#"{"device":{"user_agent":"bench"}}"#;

fn request(token: &str) -> Request<Body> {
    Request::post("/v1/session/validate")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {KEY}"))
        .header("sesame-token", token)
        .header("content-type", "application/json")
        .header("content-length", BODY.len())
        .body(Body::from(BODY))
        .expect("request")
}

/// One validate through the full router, its body read.
async fn validate(router: &Router, token: &str) -> axum::body::Bytes {
    let response = router
        .clone()
        .oneshot(request(token))
        .await
        .expect("validate");
    assert!(response.status().is_success());
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
}

fn config() -> Config {
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
    config.cookie.keys = vec![
        sesame_server::cookies::generate_key()
            .expect("key")
            .to_string(),
    ];
    config.policy.renewal_interval = sesame_server::config::Dur(std::time::Duration::ZERO);
    config
}

fn validate_in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let built = rt
        .block_on(sesame_server::server::build(
            &config(),
            Arc::new(sesame::SystemClock),
        ))
        .expect("server builds");
    let router = built.router;
    let token = rt
        .block_on(built.state.manager.create(
            None,
            sesame::Data::new(),
            sesame::DeviceInfo::default().with_user_agent("bench"),
        ))
        .expect("session")
        .token
        .expose()
        .to_owned();
    if let Some(n) = std::env::var("SESAME_BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        rt.block_on(async {
            for _ in 0..n {
                validate(&router, &token).await;
            }
        });
        std::process::exit(0);
    }
    let bare = Router::new().route(
        "/v1/session/validate",
        post(|| async { ([("content-type", "application/json")], "{}") }),
    );

    let mut group = c.benchmark_group("validate_in_process");
    group.bench_function("bare_axum", |b| {
        b.to_async(&rt)
            .iter(|| async { bare.clone().oneshot(request(&token)).await.expect("bare") })
    });
    group.bench_function("sesame_validate_memory", |b| {
        b.to_async(&rt).iter(|| validate(&router, &token))
    });
    group.finish();
}

mod group {
    // A private module: the function the macro generates is not public API.
    criterion::criterion_group!(benches, super::validate_in_process);
}
criterion_main!(group::benches);
