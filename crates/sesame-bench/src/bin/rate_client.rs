//! A fixed-rate load generator (the benchmark's wrk2 stand-in): sends
//! `validate` requests at a constant total rate over N keep-alive
//! connections for a duration, and prints p50 / p99 / max latency.
//!
//! A pacer thread releases each request at its scheduled time, round-robin
//! over the connections, sleeping on the OS's high-resolution timer between
//! releases (tokio's timer ticks in whole milliseconds, which released ~40
//! requests at once at 40k/s and measured those bursts, not the rate).
//! Latency always counts from the scheduled time: a release that comes late
//! (the sleep overshoots by tens of microseconds) counts against the server,
//! and a request that waits for its connection's previous answer shows the
//! wait (no coordinated omission). The client speaks raw HTTP/1.1 over TCP
//! so that it costs the shared CPUs as little as possible.
//!
//! `rate_client URL RATE_PER_SEC SECONDS CONNECTIONS API_KEY TOKEN`

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use sesame_bench::raw_http::{Conn, percentile_ms};

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
    let headers = format!(
        "authorization: Bearer {}\r\nsesame-token: {}\r\n",
        args[5], args[6]
    );
    let mut releases = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (release, mut scheduled) = mpsc::unbounded_channel::<Instant>();
        releases.push(release);
        let mut conn = Conn::open(&host).await.expect("connect");
        let request = conn.request(
            "POST",
            &path,
            &headers,
            r#"{"device":{"user_agent":"bench"}}"#,
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while let Some(due) = scheduled.recv().await {
                let result = conn.send(request.as_bytes()).await;
                match result {
                    Ok(answer) if (200..300).contains(&answer.status) => {
                        lat.push(Instant::now().saturating_duration_since(due))
                    }
                    Ok(_) => errors += 1,
                    Err(e) => panic!("connection failed: {e}"),
                }
            }
            (lat, errors)
        }));
    }
    let interval = Duration::from_secs_f64(1.0 / rate);
    std::thread::spawn(move || {
        let start = Instant::now() + Duration::from_millis(200);
        let end = start + Duration::from_secs(secs);
        let mut due = start;
        for connection in releases.iter().cycle() {
            if due >= end {
                break;
            }
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let _ = connection.send(due);
            due += interval;
        }
    });
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
    println!(
        "rate {rate:.0}/s for {secs}s over {conns} connections: {} ok, {errors} errors, achieved {:.0}/s, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        all.len(),
        all.len() as f64 / secs as f64,
        percentile_ms(&all, 0.50),
        percentile_ms(&all, 0.99),
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}
