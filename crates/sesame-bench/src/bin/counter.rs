//! The counter workload's servers (docs/BENCHMARKS.md, "Counter on one shared session"):
//! `GET /counter` adds one to a number kept in the caller's session and answers the new
//! value; `GET /stats` answers how many increments the handler made, so the harness can count
//! lost increments exactly (made − the counter's growth).
//!
//! ```text
//! counter bare          127.0.0.1:7901               # no session: a process-wide atomic
//! counter sesame-memory 127.0.0.1:7902               # axum + sesame-tower, memory store
//! counter sesame-redis  127.0.0.1:7903 redis://…     # axum + sesame-tower, Redis store
//! ```
//!
//! sesame-tower's handler is `Session::increment` (atomic in the store; with a session the
//! load and the increment are one store step). Renewal is off, so the token the harness
//! presents stays the same for the whole run; everything else is the default policy (device
//! binding on the user agent, touch interval 60 s). The Redis store uses a key prefix of its
//! own per process. The peers' servers (tower-sessions, actix-session) are in `peers/`, a
//! crate outside the workspace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::get;
use sesame::cookie::{FernetKey, KeyRing};
use sesame::{Manager, MemoryStore, Policy};
use sesame_redis::{RedisConfig, RedisStore};
use sesame_tower::{Session, SessionError, SessionLayer};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn sesame_app(manager: Manager, made: Arc<AtomicU64>) -> Result<Router, Error> {
    let layer = SessionLayer::new(manager, KeyRing::new(FernetKey::generate()?));
    Ok(Router::new()
        .route(
            "/counter",
            get(move |s: Session| async move {
                let n = s.increment("counter", 1).await?;
                made.fetch_add(1, Ordering::Relaxed);
                Ok::<_, SessionError>(n.to_string())
            }),
        )
        .layer(layer))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: counter <bare|sesame-memory|sesame-redis> <listen addr> [redis url]";
    let (Some(target), Some(listen)) = (args.first(), args.get(1)) else {
        return Err(usage.into());
    };
    let listen: SocketAddr = listen.parse()?;
    let made = Arc::new(AtomicU64::new(0));
    let policy = Policy::default().with_renewal(None);
    let app = match target.as_str() {
        "bare" => {
            let (counter, made) = (Arc::new(AtomicU64::new(0)), made.clone());
            Router::new().route(
                "/counter",
                get(move || async move {
                    made.fetch_add(1, Ordering::Relaxed);
                    (counter.fetch_add(1, Ordering::Relaxed) + 1).to_string()
                }),
            )
        }
        "sesame-memory" => sesame_app(Manager::new(MemoryStore::new(), policy)?, made.clone())?,
        "sesame-redis" => {
            let url = args.get(2).ok_or(usage)?;
            let prefix = format!("sesame-bench:{}:", std::process::id());
            let store = RedisStore::connect_with(RedisConfig::new(url).with_prefix(prefix)).await?;
            sesame_app(Manager::new(store, policy)?, made.clone())?
        }
        _ => return Err(usage.into()),
    };
    let app = app.route(
        "/stats",
        get(move || async move { made.load(Ordering::Relaxed).to_string() }),
    );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
