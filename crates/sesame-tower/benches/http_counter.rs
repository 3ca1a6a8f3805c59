//! HTTP counter benchmark: the same counter handler (read a number from the session, add one,
//! store it) on bare axum (a process-wide atomic, no session), axum + sesame-tower (memory
//! store, `Session::increment`), and axum + tower-sessions (its MemoryStore, get + insert).
//!
//! All connections share ONE session, so concurrent requests of one session race: the lost
//! increments column (requests served minus the final counter) shows which library keeps every
//! update. Run: `cargo bench -p sesame-tower --bench http_counter` (BENCH_SECS, BENCH_CONNS to
//! change the 10 s and 32 connections). Server and load client each get their own 2-thread
//! runtime; on a 2-core machine they compete for the same cores, equally for all three.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts `router` on its own runtime; returns the address.
fn start(router: Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        })
    });
    rx.recv().unwrap()
}

fn bare() -> Router {
    let counter = Arc::new(AtomicI64::new(0));
    Router::new()
        .route(
            "/counter",
            get(|State(c): State<Arc<AtomicI64>>| async move {
                (c.fetch_add(1, Ordering::SeqCst) + 1).to_string()
            }),
        )
        .route(
            "/read",
            get(|State(c): State<Arc<AtomicI64>>| async move { c.load(Ordering::SeqCst).to_string() }),
        )
        .with_state(counter)
}

fn sesame() -> Router {
    use sesame::cookie::{FernetKey, KeyRing};
    use sesame_tower::{Session, SessionError, SessionLayer};
    let manager =
        sesame::Manager::new(sesame::MemoryStore::new(), sesame::Policy::default()).unwrap();
    let layer = SessionLayer::new(manager, KeyRing::new(FernetKey::generate().unwrap()));
    Router::new()
        .route(
            "/counter",
            get(|s: Session| async move {
                Ok::<_, SessionError>(s.increment("counter", 1).await?.to_string())
            }),
        )
        .route(
            "/read",
            get(|s: Session| async move {
                Ok::<_, SessionError>(s.get::<i64>("counter").await?.unwrap_or(0).to_string())
            }),
        )
        .layer(layer)
}

fn tower_sessions() -> Router {
    use tower_sessions::{MemoryStore, Session, SessionManagerLayer};
    let layer = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    Router::new()
        .route(
            "/counter",
            get(|s: Session| async move {
                let n: i64 = s.get("counter").await.unwrap().unwrap_or(0);
                s.insert("counter", n + 1).await.unwrap();
                (n + 1).to_string()
            }),
        )
        .route(
            "/read",
            get(|s: Session| async move {
                s.get::<i64>("counter")
                    .await
                    .unwrap()
                    .unwrap_or(0)
                    .to_string()
            }),
        )
        .layer(layer)
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// One GET; returns status, Set-Cookie's name=value part, body.
async fn request(
    s: &mut Sender,
    path: &str,
    cookie: Option<&str>,
) -> (u16, Option<String>, String) {
    s.ready().await.unwrap();
    let mut req = Request::get(path)
        .header("host", "localhost")
        .header("user-agent", "bench");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = s
        .send_request(req.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, cookie, String::from_utf8_lossy(&body).into_owned())
}

struct Outcome {
    rps: f64,
    p50_us: u32,
    p99_us: u32,
    served: u64,
    errors: u64,
    final_counter: i64,
}

/// `shared`: every connection uses one session (the lost-update test); otherwise each
/// connection has its own session (the throughput test).
fn load(addr: SocketAddr, conns: usize, secs: u64, shared: bool) -> Outcome {
    runtime().block_on(async move {
        let mut first = connect(addr).await;
        let (status, cookie, _) = request(&mut first, "/counter", None).await;
        assert_eq!(status, 200);
        let cookie: Option<Arc<str>> = cookie.map(Into::into);
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let cookie = cookie.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = connect(addr).await;
                let mut lat = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                let mut served = 0u64;
                let mut cookie = cookie;
                if !shared {
                    // The session-creating request counts as served (it increments too).
                    let (status, c, _) = request(&mut s, "/counter", None).await;
                    assert_eq!(status, 200);
                    served += 1;
                    cookie = c.map(Into::into);
                }
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let (status, _, _) = request(&mut s, "/counter", cookie.as_deref()).await;
                    lat.push(t.elapsed().as_micros() as u32);
                    if status == 200 {
                        served += 1;
                    } else {
                        errors += 1;
                    }
                }
                let (_, _, body) = request(&mut s, "/read", cookie.as_deref()).await;
                let counter: i64 = body.trim().parse().unwrap();
                (lat, errors, served, counter)
            }));
        }
        let mut all = Vec::new();
        let (mut errors, mut served, mut counters) = (0, 1, Vec::new());
        for t in tasks {
            let (lat, e, n, c) = t.await.unwrap();
            all.extend(lat);
            errors += e;
            served += n;
            counters.push(c);
        }
        let elapsed = start.elapsed().as_secs_f64();
        all.sort_unstable();
        let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
        let (_, _, body) = request(&mut first, "/read", cookie.as_deref()).await;
        let first_counter: i64 = body.trim().parse().unwrap();
        // Bare axum has one global counter whatever the cookie; per-session servers have one per
        // session: the first connection's plus one per load connection.
        let final_counter = if shared || counters.iter().all(|c| *c == first_counter) {
            first_counter
        } else {
            first_counter + counters.iter().sum::<i64>()
        };
        Outcome {
            rps: all.len() as f64 / elapsed,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            served,
            errors,
            final_counter,
        }
    })
}

fn main() {
    // `cargo test --benches` passes --bench-less args; only run when benchmarking.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let conns: usize = std::env::var("BENCH_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let servers: [(&str, fn() -> Router); 3] = [
        ("bare axum (no session)", bare),
        ("axum + sesame-tower (memory store)", sesame),
        ("axum + tower-sessions 0.14 (MemoryStore)", tower_sessions),
    ];
    let modes: &[bool] = match std::env::var("BENCH_MODE").as_deref() {
        Ok("shared") => &[true],
        Ok("per-connection") => &[false],
        _ => &[false, true],
    };
    for &shared in modes {
        let mode = if shared {
            "one session shared by all connections"
        } else {
            "one session per connection"
        };
        println!("\n{conns} connections, {secs} s each, {mode}\n");
        println!(
            "| server | requests/s | p50 | p99 | served | non-200 | final counter | lost increments |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        let mut bare_rps = 0.0;
        for (name, make) in servers {
            let addr = start(make());
            let o = load(addr, conns, secs, shared);
            if bare_rps == 0.0 {
                bare_rps = o.rps;
            }
            println!(
                "| {name} | {:.0} ({:.2}× bare) | {:.2} ms | {:.2} ms | {} | {} | {} | {} |",
                o.rps,
                o.rps / bare_rps,
                o.p50_us as f64 / 1000.0,
                o.p99_us as f64 / 1000.0,
                o.served,
                o.errors,
                o.final_counter,
                o.served as i64 - o.final_counter
            );
        }
    }
}
