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
    latencies_us: Vec<u32>,
    elapsed_s: f64,
    served: u64,
    errors: u64,
    final_counter: i64,
}

/// `shared`: every connection uses one session (the lost-update test); otherwise each
/// connection has its own session (the throughput test).
fn load(addr: SocketAddr, conns: usize, secs: u64, shared: bool, sessions: bool) -> Outcome {
    runtime().block_on(async move {
        let mut first = connect(addr).await;
        let (status, cookie, first_body) = request(&mut first, "/counter", None).await;
        assert_eq!(status, 200);
        // Bare axum's counter is global and outlives a round: count from where it stood.
        let base: i64 = if sessions {
            0
        } else {
            first_body.trim().parse::<i64>().unwrap() - 1
        };
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
        let (_, _, body) = request(&mut first, "/read", cookie.as_deref()).await;
        let first_counter: i64 = body.trim().parse().unwrap();
        // Bare axum has one global counter whatever the cookie; per-session servers have one per
        // session: the first connection's plus one per load connection.
        let final_counter = if !sessions {
            first_counter - base
        } else if shared {
            first_counter
        } else {
            first_counter + counters.iter().sum::<i64>()
        };
        Outcome {
            latencies_us: all,
            elapsed_s: elapsed,
            served,
            errors,
            final_counter,
        }
    })
}

/// Name, router factory, and whether it keeps per-session counters.
type Server = (&'static str, fn() -> Router, bool);

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let secs = env("BENCH_SECS", 10);
    let conns = env("BENCH_CONNS", 32) as usize;
    let rounds = env("BENCH_ROUNDS", 5).max(1);
    let servers: [Server; 3] = [
        ("bare axum (no session)", bare, false),
        ("axum + sesame-tower (memory store)", sesame, true),
        (
            "axum + tower-sessions 0.14 (MemoryStore)",
            tower_sessions,
            true,
        ),
    ];
    let addrs: Vec<SocketAddr> = servers.iter().map(|(_, make, _)| start(make())).collect();
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
        // Rounds interleave the servers so that load from other processes on the machine
        // hits all three alike.
        let per_round = (secs / rounds).max(1);
        let mut totals: Vec<(Vec<u32>, f64, u64, u64, i64)> = (0..servers.len())
            .map(|_| (Vec::new(), 0.0, 0, 0, 0))
            .collect();
        for _ in 0..rounds {
            for (i, (_, _, sessions)) in servers.iter().enumerate() {
                let o = load(addrs[i], conns, per_round, shared, *sessions);
                let t = &mut totals[i];
                t.0.extend(o.latencies_us);
                t.1 += o.elapsed_s;
                t.2 += o.served;
                t.3 += o.errors;
                t.4 += o.final_counter;
            }
        }
        println!(
            "\n{conns} connections, {mode}; {rounds} interleaved rounds of {per_round} s per server\n"
        );
        println!(
            "| server | requests/s | vs bare | p50 | p99 | served | non-200 | final counter(s) | lost increments |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        let mut bare_rps = 0.0;
        for (i, (name, _, _)) in servers.iter().enumerate() {
            let (lat, elapsed, served, errors, counter) = &mut totals[i];
            lat.sort_unstable();
            let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
            let rps = lat.len() as f64 / *elapsed;
            if i == 0 {
                bare_rps = rps;
            }
            println!(
                "| {name} | {rps:.0} | {:.2}× | {:.2} ms | {:.2} ms | {served} | {errors} | {counter} | {} |",
                rps / bare_rps,
                pct(0.50) as f64 / 1000.0,
                pct(0.99) as f64 / 1000.0,
                *served as i64 - *counter
            );
        }
    }
}
