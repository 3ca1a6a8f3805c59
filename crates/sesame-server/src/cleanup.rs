//! The cleanup scheduler: the recipe's sequence — find expired sessions,
//! delete them (the store does both in batches, leaving tombstones and
//! purging old ones), report — every `cleanup.interval` (default an hour).
//!
//! Each run's stats go to the log and to the metrics; a failed run is logged
//! and counted, and the next one runs on schedule. `POST /v1/cleanup` and
//! `sesame cleanup` run the same [`run_once`].

use std::sync::Arc;
use std::time::Duration;

use sesame::{CleanupReport, Manager};

use crate::metrics::Metrics;

/// Runs one cleanup pass, reporting it to the log and the metrics.
pub async fn run_once(manager: &Manager, metrics: &Metrics) -> sesame::Result<CleanupReport> {
    match manager.cleanup().await {
        Ok(report) => {
            metrics.cleanup(&report);
            tracing::info!(
                scanned = report.scanned,
                deleted = report.deleted,
                expired = report.expired.len(),
                duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
                "cleanup run"
            );
            Ok(report)
        }
        Err(e) => {
            metrics.cleanup_failed();
            metrics.store_error();
            tracing::warn!(error = %e, "cleanup run failed");
            Err(e)
        }
    }
}

/// Starts the scheduler; `interval` zero starts nothing. The task ends when
/// the returned handle is aborted or dropped with the runtime.
pub fn start(
    manager: Manager,
    metrics: Arc<Metrics>,
    interval: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    if interval.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let _ = run_once(&manager, &metrics).await;
        }
    }))
}
