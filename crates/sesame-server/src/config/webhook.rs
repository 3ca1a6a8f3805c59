//! `[webhook]`: where lifecycle events are delivered (see [`crate::webhook`]).
//!
//! The table is optional; when present, `url` and `secret` are required.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::durations::Dur;
use super::section::{Invalid, Section, ensure};

/// Lifecycle webhook.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where events are POSTed (http or https).
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
        ensure(
            self.url.starts_with("http://") || self.url.starts_with("https://"),
            "url",
            "must be an http:// or https:// URL",
        )?;
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
