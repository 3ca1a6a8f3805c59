//! The benchmark's baseline: a bare axum endpoint that returns a constant,
//! on the same server settings as `sesame serve` (axum::serve, TCP_NODELAY,
//! multi-thread runtime), so `sesame`'s validate figures can be read against
//! the physical limit of the HTTP stack on the machine.
//!
//! `bare ADDR` answers a 90-byte constant without reading the request body.
//! `bare ADDR --read-body` reads the JSON body and answers a constant of the
//! size of a real validate response (~440 bytes): the cost of the HTTP
//! mechanics a validate call cannot avoid, for context.

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use axum::serve::ListenerExt;

/// The same allocator as the `sesame` binary, so that the baseline differs
/// from it only in the work a validate does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SMALL: &str =
    r#"{"session":{"id":"constant"},"renewed":null,"device_flagged":false,"via_grace":false}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:7800".into());
    let read_body = args.iter().any(|a| a == "--read-body");
    let large: &'static str = Box::leak(format!("{SMALL:<440}").into_boxed_str());
    let app = if read_body {
        Router::new().route(
            "/v1/session/validate",
            post(move |body: Bytes| async move {
                let parsed: serde_json::Value =
                    serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                let _ = parsed.is_null();
                ([("content-type", "application/json")], large)
            }),
        )
    } else {
        Router::new().route(
            "/v1/session/validate",
            post(|| async { ([("content-type", "application/json")], SMALL) }),
        )
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("bare listening on http://{addr}");
    axum::serve(listener, app).await
}
