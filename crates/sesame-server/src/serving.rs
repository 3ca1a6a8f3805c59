//! Serving connections on worker threads, each with its own single-threaded
//! runtime: thread per core, as actix-web and nginx do.
//!
//! Why not tokio's multi-thread scheduler (what `axum::serve` runs on):
//! hyper's request-body channel wakes the connection's own task while that
//! task is running — when the handler first asks for the body, and again when
//! it takes it. Tokio treats a task woken during its own poll as a yield: it
//! requeues the task and wakes an idle worker, which steals the connection
//! and runs the rest of the request — the whole validate — on the other core,
//! with cold caches and a futex wake on the way. Every request with a body
//! pays that hop. Measured at a fixed 30k validates/s: 25 µs of CPU per
//! validate with two workers against 15 µs with one (docs/BENCHMARKS.md,
//! "Thread per core").
//!
//! So `sesame serve` runs `limits.workers` threads (default: two per CPU),
//! each driving a single-threaded runtime. The accept loop hands each new
//! connection to the next worker in turn, and the connection stays there: a
//! wake within a connection is a local requeue. The trade: no work stealing,
//! so a handler that holds its thread delays the other connections of that
//! worker. None does for long — store calls are asynchronous (a slow database
//! holds no thread) and SQLite's inline reads take microseconds.
//!
//! Why two threads per CPU by default: without work stealing, a worker with
//! nothing ready sleeps while another has a queue, and on a machine the
//! service shares (with the app it serves, or a load generator) the kernel
//! shares the CPU by thread. Measured with the load generator on the same 2
//! cores: 2 workers 0.64×, 4 workers 0.95× and 8 workers 0.87× the bare
//! endpoint's requests/s (docs/BENCHMARKS.md). `limits.workers` sets it.
//!
//! The main runtime keeps the accept loop, the cleanup scheduler, webhook
//! delivery and the stores' own background tasks.
//!
//! **Slow and idle clients** (issue 16): each open connection costs a file
//! descriptor, and a few hundred idle sockets used to exhaust the default
//! limit of 1,024 (`accept failed: Too many open files`). So:
//! - at start the soft `RLIMIT_NOFILE` is raised to the hard limit
//!   ([`raise_fd_limit`]), and `limits.max_connections` is lowered to fit it
//!   ([`connection_cap`]), keeping [`FD_RESERVE`] descriptors for the store,
//!   the runtimes and the log;
//! - the accept loop holds one permit per open connection; a connection
//!   accepted while all are taken is closed at once (counted in
//!   `sesame_connections_refused_total`, logged at most once a second), so
//!   the process never runs out of descriptors and recovers the moment
//!   connections close;
//! - a client must send a request's headers within
//!   `limits.header_read_timeout` (hyper's timer, which also closes a
//!   keep-alive connection idle that long), and hyper's read buffer is
//!   bounded to a little over `limits.max_header_bytes`.
//!
//! What happens once headers have arrived (bodies, permits, timeouts) is
//! [`crate::middleware`]'s and [`crate::api::JsonBody`]'s.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tower::Service;

use crate::metrics::Metrics;

/// The worker threads. Dropping this stops them; connections still open on
/// them are cut.
#[derive(Debug)]
pub struct Workers {
    handles: Vec<Handle>,
    /// Dropping a sender ends its worker's `block_on`.
    _stops: Vec<oneshot::Sender<()>>,
    next: AtomicUsize,
}

impl Workers {
    /// Starts `count` worker threads (0: two per CPU).
    pub fn start(count: usize) -> io::Result<Self> {
        let count = match count {
            0 => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut handles = Vec::with_capacity(count);
        let mut stops = Vec::with_capacity(count);
        for i in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            handles.push(runtime.handle().clone());
            std::thread::Builder::new()
                .name(format!("sesame-worker-{i}"))
                .spawn(move || {
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            stops.push(stop);
        }
        Ok(Self {
            handles,
            _stops: stops,
            next: AtomicUsize::new(0),
        })
    }

    /// How many worker threads there are.
    pub fn count(&self) -> usize {
        self.handles.len()
    }

    /// Runs `task` on the next worker in turn.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(task);
    }
}

/// How connections are served.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// A client must send a request's headers within this time (slow-loris
    /// defence); an idle keep-alive connection is closed after it too.
    pub header_read_timeout: Duration,
    /// hyper's read buffer, bounding what one request's headers may take
    /// before the middleware counts them.
    pub max_buf_size: usize,
    /// Most connections open at once (see [`connection_cap`]).
    pub max_connections: usize,
    /// Where refused connections are counted.
    pub metrics: Arc<Metrics>,
}

/// Whether listening on `addr` exposes plain HTTP beyond this machine: not
/// loopback, and the operator has not said that TLS is terminated in front
/// (`behind_tls_proxy`). `sesame serve` then warns at start.
pub fn exposed_without_tls(addr: SocketAddr, behind_tls_proxy: bool) -> bool {
    !behind_tls_proxy && !addr.ip().to_canonical().is_loopback()
}

/// File descriptors kept for everything but client connections: the store's
/// connections or files, each worker runtime's epoll and wake descriptors,
/// webhook connections, the listener, the log.
pub const FD_RESERVE: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; the soft limit now in
/// force, or `None` where there is no such limit (or it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(e) => {
                tracing::warn!(error = %e, "cannot raise the open-file limit (RLIMIT_NOFILE)");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connection cap in force: `configured`, lowered so that connections
/// leave [`FD_RESERVE`] descriptors (or half of a very small limit) free.
pub fn connection_cap(configured: usize, fd_limit: Option<u64>) -> usize {
    let Some(limit) = fd_limit else {
        return configured;
    };
    let reserve = FD_RESERVE.min(limit / 2);
    let fits = usize::try_from(limit - reserve)
        .unwrap_or(usize::MAX)
        .max(1);
    configured.min(fits)
}

/// Accepts connections on `listener` and serves `router` on them, spread
/// over `workers`, until `stop` resolves; then stops accepting and waits
/// until every open connection has finished its in-flight request.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    workers: std::sync::Arc<Workers>,
    settings: ConnectionSettings,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(
        settings.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let refusals = RefusalLog::default();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            // Dropping the stream closes it: the client sees the connection
            // end at once instead of hanging in the listen backlog.
            drop(stream);
            settings.metrics.connection_refused();
            refusals.note(settings.max_connections);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Leaves the accepting runtime's reactor; the worker registers it
        // with its own.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(error = %e, "accepted connection lost");
                continue;
            }
        };
        workers.spawn(connection(
            stream,
            remote,
            router.clone(),
            settings.clone(),
            graceful.watcher(),
            permit,
        ));
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Logs refused connections at most once a second, with how many.
#[derive(Debug, Default)]
struct RefusalLog {
    /// Refusals since the last line.
    pending: AtomicU64,
    /// When the last line was written (seconds since the Unix epoch).
    last: AtomicU64,
}

impl RefusalLog {
    fn note(&self, cap: usize) {
        let pending = self.pending.fetch_add(1, Ordering::Relaxed) + 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.last.swap(now, Ordering::Relaxed) != now {
            self.pending.store(0, Ordering::Relaxed);
            tracing::warn!(
                refused = pending,
                max_connections = cap,
                "connection cap reached: new connections are closed at once"
            );
        }
    }
}

/// Serves one connection's requests until it closes; the permit is given
/// back when it does.
async fn connection(
    stream: std::net::TcpStream,
    remote: SocketAddr,
    router: Router,
    settings: ConnectionSettings,
    watcher: Watcher,
    _permit: OwnedSemaphorePermit,
) {
    let stream = match TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::debug!(error = %e, "accepted connection lost");
            return;
        }
    };
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        router.clone().call(request.map(Body::new))
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(settings.max_buf_size)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Errors of one connection (the peer gave up before it was accepted) are
/// skipped; others (out of file descriptors, say) are logged and retried
/// after a pause, as `axum::serve` does.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_beyond_loopback_is_warned_about_unless_tls_is_in_front() {
        let at = |a: &str| a.parse::<SocketAddr>().unwrap();
        for loopback in [
            "127.0.0.1:7700",
            "127.9.9.9:1",
            "[::1]:7700",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(!exposed_without_tls(at(loopback), false), "{loopback}");
        }
        for exposed in [
            "0.0.0.0:7700",
            "10.0.0.5:7700",
            "[::]:7700",
            "[2001:db8::1]:1",
        ] {
            assert!(exposed_without_tls(at(exposed), false), "{exposed}");
            assert!(!exposed_without_tls(at(exposed), true), "{exposed}");
        }
    }

    #[test]
    fn the_connection_cap_fits_the_file_descriptor_limit() {
        assert_eq!(connection_cap(10_000, None), 10_000);
        assert_eq!(connection_cap(10_000, Some(1_048_576)), 10_000);
        assert_eq!(connection_cap(10_000, Some(1024)), 1024 - 256);
        assert_eq!(connection_cap(100, Some(1024)), 100);
        // A tiny limit keeps half for the rest of the process.
        assert_eq!(connection_cap(10_000, Some(128)), 64);
        assert_eq!(connection_cap(10_000, Some(1)), 1);
        assert_eq!(connection_cap(10_000, Some(0)), 1);
    }

    #[test]
    fn zero_workers_means_two_per_cpu() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(Workers::start(0).unwrap().count(), 2 * cpus);
        assert_eq!(Workers::start(3).unwrap().count(), 3);
    }

    #[test]
    fn connections_go_to_the_workers_in_turn() {
        let workers = Workers::start(2).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..4 {
            let tx = tx.clone();
            workers.spawn(async move {
                let name = std::thread::current().name().map(str::to_owned);
                tx.send(name).unwrap();
            });
        }
        let mut names: Vec<_> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        names.sort();
        let worker = |i: usize| Some(format!("sesame-worker-{i}"));
        assert_eq!(names, [worker(0), worker(0), worker(1), worker(1)]);
    }

    #[test]
    fn dropping_the_workers_stops_their_threads() {
        let workers = Workers::start(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // The task holds the sender until its runtime drops it.
        workers.spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(workers);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        );
    }
}
