//! A fixed-rate load generator (the benchmark's wrk2 stand-in): sends
//! `validate` requests at a constant total rate over N connections for a
//! duration, and prints p50 / p99 / max latency.
//!
//! Latency is measured from each request's *scheduled* send time, not from
//! when it was actually sent, so a stall delays every request queued behind
//! it and shows in the percentiles (no coordinated omission).
//!
//! `rate_client URL RATE_PER_SEC SECONDS CONNECTIONS API_KEY TOKEN`

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: rate_client URL RATE SECONDS CONNECTIONS API_KEY TOKEN");
        std::process::exit(2);
    }
    let url = args[1].clone();
    let rate: f64 = args[2].parse().expect("RATE");
    let secs: u64 = args[3].parse().expect("SECONDS");
    let conns: usize = args[4].parse().expect("CONNECTIONS");
    let key = args[5].clone();
    let token = args[6].clone();
    let per_conn = Duration::from_secs_f64(conns as f64 / rate);
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (url, key, token) = (url.clone(), key.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .tcp_nodelay(true)
                .build()
                .unwrap();
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut due = start + per_conn.mul_f64(i as f64 / conns as f64);
            while due < end {
                tokio::time::sleep_until(due.into()).await;
                let ok = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("sesame-token", &token)
                    .header("content-type", "application/json")
                    .body(r#"{"device":{"user_agent":"bench"}}"#)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    lat.push(due.elapsed());
                } else {
                    errors += 1;
                }
                due += per_conn;
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    all.sort();
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
