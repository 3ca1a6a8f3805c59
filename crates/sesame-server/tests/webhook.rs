//! Lifecycle webhooks end to end: events arrive signed, a failed delivery is
//! retried, and a dead receiver never slows a request down.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::*;
use parking_lot::Mutex;
use serde_json::Value;
use sesame_server::config::{Dur, WebhookConfig};

const SECRET: &str = "a-webhook-secret-of-some-length";

type Seen = Arc<Mutex<Vec<(String, String, Value, String)>>>;

async fn receiver(fail_first: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let attempts = Arc::new(Mutex::new(0usize));
    let app = Router::new().route(
        "/hook",
        post({
            let seen = Arc::clone(&seen);
            move |headers: HeaderMap, body: String| {
                let seen = Arc::clone(&seen);
                let attempts = Arc::clone(&attempts);
                async move {
                    let mut n = attempts.lock();
                    *n += 1;
                    if *n <= fail_first {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let sig = headers["sesame-signature"].to_str().unwrap().to_owned();
                    let id = headers["sesame-event-id"].to_str().unwrap().to_owned();
                    let parsed = serde_json::from_str(&body).unwrap_or(Value::Null);
                    seen.lock().push((sig, id, parsed, body));
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn hook(url: String) -> WebhookConfig {
    WebhookConfig {
        url,
        secret: SECRET.into(),
        max_attempts: 4,
        initial_backoff: Dur(Duration::from_millis(10)),
        timeout: Dur(Duration::from_secs(2)),
        queue_size: 100,
    }
}

async fn wait_for(seen: &Seen, n: usize) {
    let start = Instant::now();
    while seen.lock().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "only {} events arrived",
            seen.lock().len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn events_arrive_signed_and_failures_are_retried() {
    let (url, seen) = receiver(1).await;
    let mut config = test_config();
    config.webhook = Some(hook(url));
    let s = TestServer::start(config).await;
    let (token, _, id) = s.create(Some("alice")).await;
    s.delete("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .await;
    wait_for(&seen, 2).await;
    let events = seen.lock().clone();
    let kinds: Vec<_> = events
        .iter()
        .map(|(_, _, b, _)| b["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["session.created", "session.ended"]);
    let ended = &events[1].2;
    assert_eq!(ended["session_id"], id.as_str());
    assert_eq!(ended["user"], "alice");
    assert_eq!(ended["reason"], "logged_out");
    for (sig, event_id, body, raw) in &events {
        assert_eq!(body["event_id"], event_id.as_str());
        // The receiver's check: HMAC-SHA256 of "<t>.<body as sent>".
        let t: u64 = sig
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("t=")
            .parse()
            .unwrap();
        assert_eq!(
            *sig,
            sesame_server::webhook::signature(SECRET, t, raw.as_bytes())
        );
        assert_ne!(
            *sig,
            sesame_server::webhook::signature("another-secret-entirely", t, raw.as_bytes())
        );
        assert!(!body.to_string().contains(&token));
    }
    let (_, m) = s.get("/metrics").await;
    assert!(
        m.as_str()
            .unwrap()
            .contains("sesame_webhook_delivered_total 2")
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_dead_receiver_never_blocks_requests() {
    // Nothing listens on this port: every delivery fails after retries.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let mut config = test_config();
    let mut h = hook(url);
    h.max_attempts = 2;
    config.webhook = Some(h);
    let s = TestServer::start(config).await;
    let start = Instant::now();
    for _ in 0..20 {
        s.create(None).await;
    }
    assert!(start.elapsed() < Duration::from_secs(2));
    let deadline = Instant::now();
    loop {
        let (_, m) = s.get("/metrics").await;
        if m.as_str()
            .unwrap()
            .contains("sesame_webhook_failed_total 20")
        {
            break;
        }
        assert!(deadline.elapsed() < Duration::from_secs(10), "{m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.shutdown().await;
}

/// A receiver that answers with a redirect has not taken the event, and the
/// redirect is not followed (it could hand the signed body to another host).
#[tokio::test]
async fn redirects_are_not_followed() {
    let (target, seen) = receiver(0).await;
    let app = Router::new().route(
        "/hook",
        post(move || {
            let target = target.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", target)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = test_config();
    let mut h = hook(url);
    h.max_attempts = 2;
    config.webhook = Some(h);
    let s = TestServer::start(config).await;
    s.create(None).await;
    let deadline = Instant::now();
    loop {
        let (_, m) = s.get("/metrics").await;
        if m.as_str()
            .unwrap()
            .contains("sesame_webhook_failed_total 1")
        {
            break;
        }
        assert!(deadline.elapsed() < Duration::from_secs(10), "{m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen.lock().is_empty(), "the redirect was followed");
    s.shutdown().await;
}
