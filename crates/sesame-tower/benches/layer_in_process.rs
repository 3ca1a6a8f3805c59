//! The layer's own cost per request, without sockets: the counter route called
//! through `tower::ServiceExt::oneshot`: bare axum, axum + sesame-tower (memory store, cookie
//! opened, session loaded, atomic increment) and axum + tower-sessions 0.14 (its `MemoryStore`,
//! get then insert, as in `http_counter`).
//! `cargo bench -p sesame-tower --bench layer_in_process`.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::{Criterion, criterion_main};
use sesame::cookie::{FernetKey, KeyRing};
use sesame_tower::{Session, SessionError, SessionLayer};
use tower::ServiceExt;

fn request(cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get("/counter")
        .header("host", "localhost")
        .header("user-agent", "bench/1.0");
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::empty()).expect("request")
}

/// The `name=value` part of the response's `Set-Cookie`.
fn session_cookie(response: &axum::http::Response<Body>) -> String {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

fn layer_in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let manager = sesame::Manager::new(sesame::MemoryStore::new(), sesame::Policy::default())
        .expect("policy");
    let layer = SessionLayer::new(manager, KeyRing::new(FernetKey::generate().expect("key")));
    let sesame = Router::new()
        .route(
            "/counter",
            get(|s: Session| async move {
                Ok::<_, SessionError>(s.increment("counter", 1).await?.to_string())
            }),
        )
        .layer(layer);
    let bare = Router::new().route("/counter", get(|| async { "1".to_string() }));
    let tower_sessions = Router::new()
        .route(
            "/counter",
            get(|s: tower_sessions::Session| async move {
                let n: i64 = s.get("counter").await.expect("get").unwrap_or(0);
                s.insert("counter", n + 1).await.expect("insert");
                (n + 1).to_string()
            }),
        )
        .layer(
            tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
                .with_secure(false),
        );
    let first = rt
        .block_on(sesame.clone().oneshot(request(None)))
        .expect("first request");
    let cookie = session_cookie(&first);
    let ts_cookie = session_cookie(
        &rt.block_on(tower_sessions.clone().oneshot(request(None)))
            .expect("first tower-sessions request"),
    );

    let mut group = c.benchmark_group("layer_in_process");
    group.bench_function("bare_axum", |b| {
        b.to_async(&rt)
            .iter(|| async { bare.clone().oneshot(request(None)).await.expect("bare") })
    });
    group.bench_function("sesame_tower_counter", |b| {
        b.to_async(&rt).iter(|| async {
            let response = sesame
                .clone()
                .oneshot(request(Some(&cookie)))
                .await
                .expect("sesame");
            assert!(response.status().is_success());
            response
        })
    });
    group.bench_function("tower_sessions_counter", |b| {
        b.to_async(&rt).iter(|| async {
            let response = tower_sessions
                .clone()
                .oneshot(request(Some(&ts_cookie)))
                .await
                .expect("tower-sessions");
            assert!(response.status().is_success());
            response
        })
    });
    group.finish();
}

mod group {
    // A private module: the function the macro generates is not public API.
    criterion::criterion_group!(benches, super::layer_in_process);
}
criterion_main!(group::benches);
