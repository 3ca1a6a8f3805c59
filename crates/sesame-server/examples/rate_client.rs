//! A fixed-rate load generator (the benchmark's wrk2 stand-in): sends
//! `validate` requests at a constant total rate over N keep-alive
//! connections for a duration, and prints p50 / p99 / max latency.
//!
//! When a connection is still waiting for the previous answer at a request's
//! scheduled time, latency is measured from that scheduled time, so a stall
//! delays every request queued behind it and shows in the percentiles (no
//! coordinated omission). When the connection was idle, it is measured from
//! the actual send, so the timer's 1 ms granularity is not counted. The client
//! speaks raw HTTP/1.1 over TCP so that it costs the shared CPUs as little as
//! possible.
//!
//! `rate_client URL RATE_PER_SEC SECONDS CONNECTIONS API_KEY TOKEN`

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one response; returns whether its status was 2xx.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let ok = head.starts_with("HTTP/1.1 2");
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(ok);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: rate_client URL RATE SECONDS CONNECTIONS API_KEY TOKEN");
        std::process::exit(2);
    }
    let url = args[1].trim_start_matches("http://").to_owned();
    let (host, path) = url.split_at(url.find('/').unwrap_or(url.len()));
    let (host, path) = (host.to_owned(), path.to_owned());
    let rate: f64 = args[2].parse().expect("RATE");
    let secs: u64 = args[3].parse().expect("SECONDS");
    let conns: usize = args[4].parse().expect("CONNECTIONS");
    let body = r#"{"device":{"user_agent":"bench"}}"#;
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {}\r\nsesame-token: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        args[5],
        args[6],
        body.len()
    );
    let per_conn = Duration::from_secs_f64(conns as f64 / rate);
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (host, request) = (host.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&host).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut buf = Vec::with_capacity(8192);
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut due = start + per_conn.mul_f64(i as f64 / conns as f64);
            let mut prev_done = start;
            while due < end {
                tokio::time::sleep_until(due.into()).await;
                let base = if prev_done > due { due } else { Instant::now() };
                stream.write_all(request.as_bytes()).await.expect("write");
                let result = read_response(&mut stream, &mut buf).await;
                prev_done = Instant::now();
                match result {
                    Ok(true) => lat.push(prev_done - base),
                    Ok(false) => errors += 1,
                    Err(e) => panic!("connection failed: {e}"),
                }
                due += per_conn;
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("task");
        all.extend(lat);
        errors += e;
    }
    all.sort();
    if all.is_empty() {
        println!("no successful requests ({errors} errors)");
        return;
    }
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "rate {rate:.0}/s for {secs}s over {conns} connections: {} ok, {errors} errors, achieved {:.0}/s, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        all.len(),
        all.len() as f64 / secs as f64,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}
