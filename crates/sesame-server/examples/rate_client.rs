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

#[path = "support/raw_http.rs"]
#[allow(dead_code)] // the answer body is not read here
mod raw_http;
use raw_http::{Conn, percentile_ms};

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
    let per_conn = Duration::from_secs_f64(conns as f64 / rate);
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (host, path, headers) = (host.clone(), path.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&host).await.expect("connect");
            let request = conn.request(
                "POST",
                &path,
                &headers,
                r#"{"device":{"user_agent":"bench"}}"#,
            );
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut due = start + per_conn.mul_f64(i as f64 / conns as f64);
            let mut prev_done = start;
            while due < end {
                tokio::time::sleep_until(due.into()).await;
                let base = if prev_done > due { due } else { Instant::now() };
                let result = conn.send(request.as_bytes()).await;
                prev_done = Instant::now();
                match result {
                    Ok(answer) if (200..300).contains(&answer.status) => lat.push(prev_done - base),
                    Ok(_) => errors += 1,
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
    println!(
        "rate {rate:.0}/s for {secs}s over {conns} connections: {} ok, {errors} errors, achieved {:.0}/s, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        all.len(),
        all.len() as f64 / secs as f64,
        percentile_ms(&all, 0.50),
        percentile_ms(&all, 0.99),
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}
