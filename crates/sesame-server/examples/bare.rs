//! The benchmark's baseline: a bare axum endpoint that returns a constant,
//! on the same runtime settings as `sesame serve`, so `sesame`'s validate
//! figures can be read against the physical limit of the HTTP stack.
//!
//! `cargo run --release -p sesame-server --example bare -- 127.0.0.1:7800`

use axum::Router;
use axum::routing::post;
use axum::serve::ListenerExt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7800".into());
    let app = Router::new().route(
        "/v1/session/validate",
        post(|| async {
            (
                [("content-type", "application/json")],
                r#"{"session":{"id":"constant"},"renewed":null,"device_flagged":false,"via_grace":false}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("bare listening on http://{addr}");
    axum::serve(listener, app).await
}
