//! Prometheus metrics, served at `/metrics`.
//!
//! Built on `prometheus-client` (the Prometheus project's own Rust client)
//! rather than the `metrics` facade: every metric is a typed field of one
//! struct with its own registry, so two servers in one test process never
//! share a global recorder, and the exposition is exactly what is registered.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sesame::{CleanupReport, EventSink, SessionEvent};

use crate::histogram::StripedHistogram;

/// A label naming an end reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// `expired_idle`, `logged_out`, ...
    pub reason: String,
}

/// A label naming a validation outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `ok` or the error code.
    pub outcome: String,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    active: Gauge,
    created: Counter,
    ended: Family<ReasonLabel, Counter>,
    validate_seconds: Family<OutcomeLabel, StripedHistogram>,
    /// The `outcome="ok"` series, resolved once: the hot path takes no lock
    /// on the family and allocates no label.
    validate_ok: StripedHistogram,
    store_errors: Counter,
    cleanup_runs: Counter,
    cleanup_failures: Counter,
    cleanup_scanned: Counter,
    cleanup_deleted: Counter,
    cleanup_seconds: Histogram,
    webhook_delivered: Counter,
    webhook_failed: Counter,
    webhook_dropped: Counter,
    invalid_tokens: Counter,
    invalid_token_blocks: Counter,
    overloaded: Counter,
    connections_refused: Counter,
    live_count: Option<Arc<dyn Fn() -> i64 + Send + Sync>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh set; `live_count` counts live sessions exactly when the store
    /// can (otherwise the gauge follows this process's events).
    pub fn new(live_count: Option<Arc<dyn Fn() -> i64 + Send + Sync>>) -> Self {
        let mut registry = Registry::with_prefix("sesame");
        let active = Gauge::default();
        let created = Counter::default();
        let ended = Family::<ReasonLabel, Counter>::default();
        let validate_seconds = Family::<OutcomeLabel, StripedHistogram>::new_with_constructor(
            (|| StripedHistogram::new(exponential_buckets(0.000_05, 2.0, 16)))
                as fn() -> StripedHistogram,
        );
        let store_errors = Counter::default();
        let cleanup_runs = Counter::default();
        let cleanup_failures = Counter::default();
        let cleanup_scanned = Counter::default();
        let cleanup_deleted = Counter::default();
        let cleanup_seconds = Histogram::new(exponential_buckets(0.001, 4.0, 10));
        let webhook_delivered = Counter::default();
        let webhook_failed = Counter::default();
        let webhook_dropped = Counter::default();
        let invalid_tokens = Counter::default();
        let invalid_token_blocks = Counter::default();
        let overloaded = Counter::default();
        let connections_refused = Counter::default();
        registry.register(
            "sessions_active",
            "Live sessions (exact for the memory store; otherwise created minus ended as seen by this process)",
            active.clone(),
        );
        registry.register("sessions_created", "Sessions created", created.clone());
        registry.register("sessions_ended", "Sessions ended, by reason", ended.clone());
        registry.register(
            "validate_duration_seconds",
            "Latency of session validation, by outcome",
            validate_seconds.clone(),
        );
        registry.register(
            "store_errors",
            "Store operations that failed (unavailable, corrupt, internal)",
            store_errors.clone(),
        );
        registry.register("cleanup_runs", "Cleanup runs", cleanup_runs.clone());
        registry.register(
            "cleanup_failures",
            "Cleanup runs that failed",
            cleanup_failures.clone(),
        );
        registry.register(
            "cleanup_scanned",
            "Records examined by cleanup",
            cleanup_scanned.clone(),
        );
        registry.register(
            "cleanup_deleted",
            "Records deleted by cleanup",
            cleanup_deleted.clone(),
        );
        registry.register(
            "cleanup_duration_seconds",
            "Duration of cleanup runs",
            cleanup_seconds.clone(),
        );
        registry.register(
            "webhook_delivered",
            "Lifecycle events delivered to the webhook",
            webhook_delivered.clone(),
        );
        registry.register(
            "webhook_failed",
            "Lifecycle events dropped after every delivery attempt failed",
            webhook_failed.clone(),
        );
        registry.register(
            "webhook_dropped",
            "Lifecycle events dropped because the delivery queue was full",
            webhook_dropped.clone(),
        );
        registry.register(
            "invalid_tokens",
            "Requests whose session token or cookie named no session (401 invalid)",
            invalid_tokens.clone(),
        );
        registry.register(
            "invalid_token_blocks",
            "Callers (API key and end-user address) blocked (429) for presenting too many invalid session credentials",
            invalid_token_blocks.clone(),
        );
        registry.register(
            "overloaded",
            "Requests answered 503 overloaded: no concurrency permit within limits.queue_timeout",
            overloaded.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed at accept because limits.max_connections were open",
            connections_refused.clone(),
        );
        let validate_ok = validate_seconds
            .get_or_create(&OutcomeLabel {
                outcome: "ok".to_owned(),
            })
            .clone();
        Self {
            registry,
            active,
            created,
            ended,
            validate_seconds,
            validate_ok,
            store_errors,
            cleanup_runs,
            cleanup_failures,
            cleanup_scanned,
            cleanup_deleted,
            cleanup_seconds,
            webhook_delivered,
            webhook_failed,
            webhook_dropped,
            invalid_tokens,
            invalid_token_blocks,
            overloaded,
            connections_refused,
            live_count,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        if let Some(count) = &self.live_count {
            self.active.set(count());
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Records one validation.
    pub fn observe_validate(&self, outcome: &str, took: Duration) {
        if outcome == "ok" {
            self.validate_ok.observe(took);
            return;
        }
        self.validate_seconds
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .observe(took);
    }

    /// Counts a failed store operation.
    pub fn store_error(&self) {
        self.store_errors.inc();
    }

    /// Counts a request with an invalid session credential.
    pub fn invalid_token(&self) {
        self.invalid_tokens.inc();
    }

    /// Counts a caller blocked for guessing.
    pub fn invalid_token_block(&self) {
        self.invalid_token_blocks.inc();
    }

    /// Counts a request refused for want of a concurrency permit.
    pub fn overloaded(&self) {
        self.overloaded.inc();
    }

    /// Counts a connection closed at accept (the connection cap).
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// Records a cleanup run.
    pub fn cleanup(&self, report: &CleanupReport) {
        self.cleanup_runs.inc();
        self.cleanup_scanned.inc_by(report.scanned);
        self.cleanup_deleted.inc_by(report.deleted);
        self.cleanup_seconds.observe(report.duration.as_secs_f64());
    }

    /// Records a failed cleanup run.
    pub fn cleanup_failed(&self) {
        self.cleanup_runs.inc();
        self.cleanup_failures.inc();
    }

    /// Webhook outcomes.
    pub fn webhook(&self, outcome: WebhookOutcome) {
        match outcome {
            WebhookOutcome::Delivered => self.webhook_delivered.inc(),
            WebhookOutcome::Failed => self.webhook_failed.inc(),
            WebhookOutcome::Dropped => self.webhook_dropped.inc(),
        };
    }
}

/// What became of a lifecycle event sent to the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// The queue was full.
    Dropped,
}

impl EventSink for MetricsSink {
    fn on_event(&self, event: &SessionEvent) {
        let m = &self.0;
        match event {
            SessionEvent::Created { .. } => {
                m.created.inc();
                if m.live_count.is_none() {
                    m.active.inc();
                }
            }
            SessionEvent::Ended { reason, .. } => {
                m.ended
                    .get_or_create(&ReasonLabel {
                        reason: reason.as_str().to_owned(),
                    })
                    .inc();
                if m.live_count.is_none() {
                    m.active.dec();
                }
            }
            SessionEvent::Rotated { .. } => {
                m.ended
                    .get_or_create(&ReasonLabel {
                        reason: "rotated".to_owned(),
                    })
                    .inc();
            }
            _ => {}
        }
    }
}

/// The event subscriber that feeds [`Metrics`].
pub struct MetricsSink(pub Arc<Metrics>);
