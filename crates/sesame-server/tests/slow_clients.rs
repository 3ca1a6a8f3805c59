//! Slow and idle clients cannot exhaust the server (issue 16 item 3):
//! clients trickling bodies hold a permit at most `limits.body_timeout`,
//! others wait at most `limits.queue_timeout` for one, health checks need
//! none; connections beyond `limits.max_connections` are closed at accept,
//! so idle sockets never run the process out of file descriptors; an answer
//! given before the body was read says `Connection: close`.

mod common;

use std::time::{Duration, Instant};

use common::process::{Serve, config_in};
use common::*;
use sesame_server::config::Dur;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one HTTP response head (and whatever body follows in the same
/// reads) until the server closes or `limit` passes; the text read.
async fn read_answer(stream: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> Option<u16> {
    answer.split(' ').nth(1)?.parse().ok()
}

/// A client that sends a create's headers and then its body one byte every
/// 100 ms; returns what the server answered and when.
async fn trickle(addr: std::net::SocketAddr) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nhost: sesame\r\nauthorization: Bearer {SESSIONS_KEY}\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        for _ in 0..150 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(8), read.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    writer.abort();
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// A `/v1` request with no body (an admin listing).
async fn list_sessions(s: &TestServer) -> (u16, serde_json::Value) {
    s.get("/v1/users/alice/sessions").key(ADMIN_KEY).await
}

#[tokio::test]
async fn clients_trickling_bodies_do_not_block_health_checks_and_are_cut_off() {
    let mut config = test_config();
    config.limits.max_concurrency = 16;
    config.limits.queue_timeout = Dur(Duration::from_millis(300));
    config.limits.body_timeout = Dur(Duration::from_secs(1));
    let s = TestServer::start(config).await;
    let addr = s.running().addr;
    let clients: Vec<_> = (0..64).map(|_| tokio::spawn(trickle(addr))).collect();
    // Let them connect and take every permit.
    tokio::time::sleep(Duration::from_millis(150)).await;

    // Health checks need no permit: they answer at once, every time.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let started = Instant::now();
        let (st, _) = s.get(path).await;
        assert_eq!(st, 200, "{path}");
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "{path}: {:?}",
            started.elapsed()
        );
    }
    // A /v1 request waits a bounded time for a permit: 503 overloaded.
    let started = Instant::now();
    let (st, b) = list_sessions(&s).await;
    let waited = started.elapsed();
    assert_eq!((st, b["code"].as_str()), (503, Some("overloaded")), "{b}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );

    let mut timed_out = 0;
    let mut overloaded = 0;
    for client in clients {
        let (answer, took) = client.await.unwrap();
        let lower = answer.to_lowercase();
        // Every answer was given with the body unread: the server says so.
        assert!(lower.contains("connection: close"), "{answer}");
        match status_of(&answer) {
            // Held a permit: cut off at the body deadline.
            Some(408) => {
                assert!(answer.contains("body_timeout"), "{answer}");
                assert!(took < Duration::from_secs(3), "{took:?}");
                timed_out += 1;
            }
            // Found none free within queue_timeout.
            Some(503) => {
                assert!(answer.contains("overloaded"), "{answer}");
                assert!(lower.contains("retry-after: 1"), "{answer}");
                overloaded += 1;
            }
            other => panic!("unexpected answer {other:?}: {answer}"),
        }
    }
    assert_eq!(timed_out + overloaded, 64);
    assert!((1..=16).contains(&timed_out), "{timed_out} held a permit");
    // The permits are free again.
    let (st, _) = list_sessions(&s).await;
    assert_eq!(st, 200);
    let (_, text) = s.get("/metrics").await;
    assert!(
        text.as_str()
            .unwrap()
            .lines()
            .any(|l| l.starts_with("sesame_overloaded_total ") && l != "sesame_overloaded_total 0"),
        "{text}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn idle_sockets_beyond_the_connection_cap_are_closed_at_once() {
    let mut config = test_config();
    config.limits.max_connections = 8;
    config.limits.header_read_timeout = Dur(Duration::from_millis(1500));
    let s = TestServer::start(config).await;
    let addr = s.running().addr;
    let mut sockets = Vec::new();
    for _ in 0..20 {
        sockets.push(TcpStream::connect(addr).await.unwrap());
        // In order: the first eight take the cap.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Read every socket at once: closed (0 bytes or reset) or still open.
    let reads: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                let mut buf = [0u8; 16];
                let read =
                    tokio::time::timeout(Duration::from_millis(300), socket.read(&mut buf)).await;
                (matches!(read, Ok(Ok(0) | Err(_))), socket)
            })
        })
        .collect();
    let mut closed = 0;
    let mut sockets = Vec::new();
    for read in reads {
        let (was_closed, socket) = read.await.unwrap();
        closed += usize::from(was_closed);
        sockets.push(socket);
    }
    assert_eq!(closed, 12, "the twelve over the cap are closed at once");
    // Idle ones are closed after the header-read timeout, which frees the
    // cap: a new client is served.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (st, _) = s.get("/healthz").await;
    assert_eq!(st, 200);
    let (_, text) = s.get("/metrics").await;
    assert!(
        text.as_str()
            .unwrap()
            .contains("sesame_connections_refused_total 12"),
        "{text}"
    );
    s.shutdown().await;
}

/// The header-read timeout is its own setting, far shorter than the
/// request timeout.
#[tokio::test]
async fn a_client_that_sends_headers_too_slowly_is_cut_off() {
    let mut config = test_config();
    config.limits.header_read_timeout = Dur(Duration::from_millis(200));
    config.limits.request_timeout = Dur(Duration::from_secs(30));
    let s = TestServer::start(config).await;
    let mut slow = TcpStream::connect(s.running().addr).await.unwrap();
    // Half a request head, and then nothing (slow loris).
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: sesame\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_answer(&mut slow, Duration::from_secs(5)).await;
    let took = started.elapsed();
    // Closed (hyper may say 408 first): no request was served.
    assert!(!answer.contains("200 OK"), "{answer}");
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The server goes on serving others.
    let (st, _) = s.get("/healthz").await;
    assert_eq!(st, 200);
    s.shutdown().await;
}

/// The binary under a low open-file limit: the soft limit is raised to the
/// hard one at start, the connection cap is lowered to fit it, and 400 idle
/// sockets never make `accept` fail with "Too many open files".
#[tokio::test]
async fn a_low_open_file_limit_is_raised_and_never_runs_out() {
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_err()
    {
        missing("the prlimit command (util-linux)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(
        dir.path(),
        "memory://",
        "[limits]\nheader_read_timeout = \"30s\"\n",
    );
    let serve = Serve::start_via(&["prlimit", "--nofile=256:512", "--"], &config, "log.jsonl");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", serve.pid())).unwrap();
    let files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(
        numbers,
        ["512", "512"],
        "soft limit raised to the hard one: {files}"
    );

    let addr: std::net::SocketAddr = serve.base.trim_start_matches("http://").parse().unwrap();
    let mut sockets = Vec::new();
    for _ in 0..400 {
        match TcpStream::connect(addr).await {
            Ok(socket) => sockets.push(socket),
            Err(e) => panic!("connect: {e}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Health checks work again as soon as idle sockets go.
    drop(sockets);
    let http = reqwest::Client::new();
    let mut ok = false;
    for _ in 0..50 {
        if let Ok(r) = http.get(format!("{}/healthz", serve.base)).send().await {
            ok = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "{}", serve.log_text());
    let log = serve.log_text();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(!log.contains("accept failed"), "{log}");
    assert!(log.contains("limits.max_connections lowered"), "{log}");
    assert!(log.contains("connection cap reached"), "{log}");
}
