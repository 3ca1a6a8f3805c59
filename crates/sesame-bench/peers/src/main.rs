//! The peers' counter servers of the counter benchmark (docs/BENCHMARKS.md, "Counter on one
//! shared session"), with the same routes as `sesame-bench`'s `counter`: `GET /counter` reads a
//! number from the session, adds one, stores it and answers it (the read-modify-write these
//! libraries offer); `GET /stats` answers how many increments the handler made.
//!
//! ```text
//! peer-counter tower-sessions-redis 127.0.0.1:7904 redis://127.0.0.1:6379
//! peer-counter actix-redis          127.0.0.1:7905 redis://127.0.0.1:6379
//! ```
//!
//! tower-sessions 0.14 with tower-sessions-redis-store 0.16 (fred, a pool of 6 connections as in
//! its example), cookie not Secure; actix-session 0.11 with its `RedisSessionStore` (redis-rs
//! connection manager), cookie not Secure. Both on their frameworks' default worker counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: peer-counter <tower-sessions-redis|actix-redis> <listen addr> <redis url>";
    let [target, listen, url] = args.as_slice() else {
        return Err(usage.into());
    };
    let made = Arc::new(AtomicU64::new(0));
    match target.as_str() {
        "tower-sessions-redis" => tower_sessions_server(listen, url, made),
        "actix-redis" => actix_server(listen, url, made),
        _ => Err(usage.into()),
    }
}

fn tower_sessions_server(listen: &str, url: &str, made: Arc<AtomicU64>) -> Result<(), Error> {
    use axum::Router;
    use axum::routing::get;
    use tower_sessions::{Session, SessionManagerLayer};
    use tower_sessions_redis_store::RedisStore;
    use tower_sessions_redis_store::fred::prelude::*;

    tokio::runtime::Runtime::new()?.block_on(async move {
        let pool = Pool::new(Config::from_url(url)?, None, None, None, 6)?;
        let _connection = pool.connect();
        pool.wait_for_connect().await?;
        let layer = SessionManagerLayer::new(RedisStore::new(pool)).with_secure(false);
        let counted = made.clone();
        let app = Router::new()
            .route(
                "/counter",
                get(move |s: Session| async move {
                    let n: i64 = s.get("counter").await.ok().flatten().unwrap_or(0);
                    if s.insert("counter", n + 1).await.is_err() {
                        return "error".to_owned();
                    }
                    counted.fetch_add(1, Ordering::Relaxed);
                    (n + 1).to_string()
                }),
            )
            .layer(layer)
            .route(
                "/stats",
                get(move || async move { made.load(Ordering::Relaxed).to_string() }),
            );
        let listener = tokio::net::TcpListener::bind(listen).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

fn actix_server(listen: &str, url: &str, made: Arc<AtomicU64>) -> Result<(), Error> {
    use actix_session::storage::RedisSessionStore;
    use actix_session::{Session, SessionMiddleware};
    use actix_web::cookie::Key;
    use actix_web::{App, HttpServer, web};

    actix_web::rt::System::new().block_on(async move {
        let store = RedisSessionStore::new(url).await?;
        let key = Key::generate();
        let made = web::Data::new(made);
        HttpServer::new(move || {
            App::new()
                .app_data(made.clone())
                .wrap(
                    SessionMiddleware::builder(store.clone(), key.clone())
                        .cookie_secure(false)
                        .build(),
                )
                .route(
                    "/counter",
                    web::get().to(|s: Session, made: web::Data<Arc<AtomicU64>>| async move {
                        let n: i64 = s.get("counter").ok().flatten().unwrap_or(0);
                        if s.insert("counter", n + 1).is_err() {
                            return "error".to_owned();
                        }
                        made.fetch_add(1, Ordering::Relaxed);
                        (n + 1).to_string()
                    }),
                )
                .route(
                    "/stats",
                    web::get().to(|made: web::Data<Arc<AtomicU64>>| async move {
                        made.load(Ordering::Relaxed).to_string()
                    }),
                )
        })
        .bind(listen)?
        .run()
        .await?;
        Ok(())
    })
}
