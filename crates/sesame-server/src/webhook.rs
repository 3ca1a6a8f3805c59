//! Lifecycle webhooks: `session.created`, `session.rotated` and
//! `session.ended` (with the reason) POSTed as JSON to one URL.
//!
//! The manager calls event sinks synchronously, so the sink here only puts
//! the event on a bounded queue (`try_send`: a full queue drops and counts,
//! never blocks a request). One background task delivers in order, retrying
//! failures with exponential backoff.
//!
//! Each request carries `Sesame-Signature: t=<unix seconds>,v1=<hex>`, where
//! `v1` is HMAC-SHA256 of `"<t>.<body>"` under the configured secret; the
//! receiver recomputes it and rejects old `t` to stop replays.
//! `Sesame-Event-Id` is stable across retries, for de-duplication.
//!
//! The URL must be `https://` unless its host is loopback (the config
//! refuses others, naming `webhook.url`): events carry user ids and session
//! ids. Redirects are not followed: a 3xx answer is a failed attempt.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sesame::{EventSink, SessionEvent};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::config::WebhookConfig;
use crate::metrics::{Metrics, WebhookOutcome};

/// The JSON body of one event.
#[derive(Debug, Clone, Serialize)]
pub struct EventBody {
    /// Unique id of this event.
    pub event_id: String,
    /// `session.created`, `session.rotated` or `session.ended`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The session id (SHA-256 of the token, hex); never the token.
    pub session_id: String,
    /// For rotations: the new session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_session_id: Option<String>,
    /// The user, if any.
    pub user: Option<String>,
    /// For `session.ended`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// When the server saw the event (unix seconds).
    pub at: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn event_id() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

impl EventBody {
    fn of(event: &SessionEvent) -> Option<Self> {
        let (kind, id, new_id, user, reason) = match event {
            SessionEvent::Created { id, user_id } => ("session.created", id, None, user_id, None),
            SessionEvent::Rotated { from, to, user_id } => {
                ("session.rotated", from, Some(to.to_hex()), user_id, None)
            }
            SessionEvent::Ended {
                id,
                user_id,
                reason,
            } => ("session.ended", id, None, user_id, Some(reason.as_str())),
            _ => return None,
        };
        Some(Self {
            event_id: event_id(),
            kind,
            session_id: id.to_hex(),
            new_session_id: new_id,
            user: user.as_ref().map(|u| u.as_str().to_owned()),
            reason,
            at: unix_now(),
        })
    }
}

/// The `Sesame-Signature` header value for `body` at time `t`.
pub fn signature(secret: &str, t: u64, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The event sink that queues events for delivery.
pub struct WebhookSink {
    tx: mpsc::Sender<EventBody>,
    metrics: Arc<Metrics>,
}

impl EventSink for WebhookSink {
    fn on_event(&self, event: &SessionEvent) {
        if let Some(body) = EventBody::of(event)
            && self.tx.try_send(body).is_err()
        {
            self.metrics.webhook(WebhookOutcome::Dropped);
        }
    }
}

/// Starts the delivery task; returns the sink to subscribe to the manager.
pub fn start(config: WebhookConfig, metrics: Arc<Metrics>) -> WebhookSink {
    let (tx, rx) = mpsc::channel(config.queue_size.max(1));
    tokio::spawn(deliver(config, rx, Arc::clone(&metrics)));
    WebhookSink { tx, metrics }
}

async fn deliver(config: WebhookConfig, mut rx: mpsc::Receiver<EventBody>, metrics: Arc<Metrics>) {
    // No redirects: a receiver that answers 3xx has not taken the event, and
    // following it could hand the signed body to another host.
    let client = match reqwest::Client::builder()
        .timeout(config.timeout.0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client failed to start; events are not delivered");
            return;
        }
    };
    while let Some(event) = rx.recv().await {
        let Ok(body) = serde_json::to_vec(&event) else {
            continue;
        };
        let mut backoff = config.initial_backoff.0;
        let mut delivered = false;
        for attempt in 1..=config.max_attempts {
            let t = unix_now();
            let result = client
                .post(&config.url)
                .header("content-type", "application/json")
                .header("sesame-signature", signature(&config.secret, t, &body))
                .header("sesame-event-id", &event.event_id)
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(resp) if resp.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(resp) => tracing::warn!(
                    status = resp.status().as_u16(),
                    attempt,
                    event = event.kind,
                    "webhook refused the event"
                ),
                Err(e) => tracing::warn!(
                    error = %e.without_url(),
                    attempt,
                    event = event.kind,
                    "webhook delivery failed"
                ),
            }
            if attempt < config.max_attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
        metrics.webhook(if delivered {
            WebhookOutcome::Delivered
        } else {
            WebhookOutcome::Failed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_time_dot_body() {
        // Recomputed independently: HMAC-SHA256("secret", "1700000000.{}").
        let sig = signature("secret", 1_700_000_000, b"{}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"1700000000.{}");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sig, format!("t=1700000000,v1={expected}"));
    }
}
