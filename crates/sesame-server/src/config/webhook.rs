//! `[webhook]`: where lifecycle events are delivered (see [`crate::webhook`]).
//!
//! The table is optional; when present, `url` and `secret` are required.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::durations::Dur;
use super::section::{Invalid, Section, ensure};

/// Lifecycle webhook.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where events are POSTed: `https://`, or `http://` to a loopback
    /// host (`localhost`, 127.0.0.0/8, `::1`). Redirects are not followed.
    pub url: String,
    /// The HMAC-SHA256 secret for the `Sesame-Signature` header.
    pub secret: String,
    /// Delivery attempts per event before it is dropped.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry; doubles on each.
    #[serde(default = "default_backoff")]
    pub initial_backoff: Dur,
    /// Timeout of one delivery attempt.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: Dur,
    /// Events waiting for delivery; more are dropped (and counted).
    #[serde(default = "default_queue")]
    pub queue_size: usize,
}

/// The secret is never shown; the URL's password and secret query
/// parameters neither.
impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let WebhookConfig {
            url,
            secret: _,
            max_attempts,
            initial_backoff,
            timeout,
            queue_size,
        } = self;
        f.debug_struct("WebhookConfig")
            .field("url", &crate::redact::url(url))
            .field("secret", &"***")
            .field("max_attempts", max_attempts)
            .field("initial_backoff", initial_backoff)
            .field("timeout", timeout)
            .field("queue_size", queue_size)
            .finish()
    }
}

/// Whether `url` may receive events: `https://`, or `http://` to a loopback
/// host, where the traffic never leaves the machine.
fn allowed_url(url: &str) -> Result<(), &'static str> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "is not a URL")?;
    let host = parsed.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(
            "must be https:// (http:// only to localhost, 127.0.0.0/8 or ::1): events carry user ids and session ids",
        ),
        _ => Err("must be an https:// URL"),
    }
}

impl WebhookConfig {
    /// A webhook to `url` signed with `secret`, every other field at its
    /// default.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            secret: secret.into(),
            max_attempts: default_attempts(),
            initial_backoff: default_backoff(),
            timeout: default_webhook_timeout(),
            queue_size: default_queue(),
        }
    }
}

fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> Dur {
    Dur(Duration::from_millis(500))
}
fn default_webhook_timeout() -> Dur {
    Dur(Duration::from_secs(5))
}
fn default_queue() -> usize {
    10_000
}

impl Section for WebhookConfig {
    fn validate(&self) -> Result<(), Invalid> {
        allowed_url(&self.url).map_err(|message| Invalid::new("url", message))?;
        ensure(
            self.secret.len() >= 16,
            "secret",
            "must be at least 16 characters",
        )?;
        ensure(self.max_attempts > 0, "max_attempts", "must be at least 1")?;
        // A zero queue holds one event (the channel needs room for one).
        ensure(
            !self.timeout.0.is_zero(),
            "timeout",
            "must be greater than zero",
        )
    }
}
