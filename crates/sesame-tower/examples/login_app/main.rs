//! A small login app on sesame-tower: `cargo run -p sesame-tower --example login_app`, then open
//! http://localhost:3000/login (alice / wonderland, bob / builder).
//!
//! It runs in development mode (plain HTTP, localhost only): the cookie is `sesame` without
//! `Secure`, and any other `Host` is refused. Behind TLS, drop `CookiePolicy::development()` to
//! get `__Host-sesame; Secure`.

mod app;

use std::net::SocketAddr;

use sesame::cookie::{FernetKey, KeyRing};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keys from SESAME_COOKIE_KEYS if set, else a fresh key (sessions end at restart).
    let keys = match KeyRing::from_env_var("SESAME_COOKIE_KEYS") {
        Ok(keys) => keys,
        Err(_) => KeyRing::new(FernetKey::generate()?),
    };
    let addr: SocketAddr = std::env::var("LOGIN_APP_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://localhost:{}/login", addr.port());
    axum::serve(
        listener,
        app::router(keys).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
