//! A latency histogram without a lock on the hot path.
//!
//! `prometheus-client`'s `Histogram` takes a write lock on every
//! observation: one lock that every worker thread takes on every validate.
//! This one keeps a few stripes of atomic counters, each on its own cache
//! line; a thread always adds to the same stripe, and `/metrics` sums the
//! stripes. The sum is kept in whole nanoseconds (an integer add, no
//! compare-and-swap loop on an `f64`). It encodes as an ordinary Prometheus
//! histogram.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

const STRIPES: usize = 8;

/// Bounds kept at most (plus `+Inf`): the counters live inline in the
/// stripe, so that the stripe's alignment keeps them off its neighbours'
/// cache lines (separately allocated arrays could sit side by side).
const MAX_BOUNDS: usize = 31;

/// One stripe's counters, aligned so that two stripes never share a cache
/// line.
#[derive(Debug)]
#[repr(align(128))]
struct Stripe {
    /// Observations per bucket (not cumulative); bucket `bounds.len()` is
    /// `+Inf`, the ones after it stay unused.
    buckets: [AtomicU64; MAX_BOUNDS + 1],
    sum_nanos: AtomicU64,
}

/// A histogram of durations with fixed upper bounds. Cheap to clone (the
/// clones share their counters).
#[derive(Debug, Clone)]
pub struct StripedHistogram {
    bounds: Arc<[f64]>,
    stripes: Arc<[Stripe]>,
}

impl StripedHistogram {
    /// Buckets with these upper bounds in seconds (ascending; the first 31
    /// are kept), plus `+Inf`.
    pub fn new(bounds: impl IntoIterator<Item = f64>) -> Self {
        let bounds: Arc<[f64]> = bounds.into_iter().take(MAX_BOUNDS).collect();
        let stripes = (0..STRIPES)
            .map(|_| Stripe {
                buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                sum_nanos: AtomicU64::new(0),
            })
            .collect();
        Self { bounds, stripes }
    }

    /// Records one duration.
    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(self.bounds.len());
        let stripe = &self.stripes[stripe_of_this_thread()];
        stripe.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        stripe.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Sum in seconds, count, and (upper bound, observations) per bucket.
    pub fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain([f64::MAX])
            .map(|bound| (bound, 0))
            .collect();
        let mut sum_nanos = 0u64;
        for stripe in self.stripes.iter() {
            for (total, n) in buckets.iter_mut().zip(stripe.buckets.iter()) {
                total.1 += n.load(Ordering::Relaxed);
            }
            sum_nanos = sum_nanos.wrapping_add(stripe.sum_nanos.load(Ordering::Relaxed));
        }
        let count = buckets.iter().map(|(_, n)| n).sum();
        (sum_nanos as f64 / 1e9, count, buckets)
    }
}

/// The stripe this thread adds to: threads are dealt stripes in turn.
fn stripe_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

impl TypedMetric for StripedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for StripedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    use super::*;

    #[test]
    fn observations_from_many_threads_land_in_their_buckets() {
        let h = StripedHistogram::new([0.001, 0.01]);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        h.observe(Duration::from_micros(500)); // ≤ 1 ms
                        h.observe(Duration::from_millis(5)); // ≤ 10 ms
                        h.observe(Duration::from_secs(1)); // +Inf
                    }
                });
            }
        });
        let (sum, count, buckets) = h.snapshot();
        assert_eq!(count, 12_000);
        assert_eq!(buckets, vec![(0.001, 4000), (0.01, 4000), (f64::MAX, 4000)]);
        assert!((sum - 4000.0 * 1.0055).abs() < 1e-6, "{sum}");
    }

    #[test]
    fn encodes_as_a_cumulative_prometheus_histogram() {
        let h = StripedHistogram::new([0.001, 0.01]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(5));
        let mut registry = Registry::default();
        registry.register("lat", "Latency", h.clone());
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(text.contains("# TYPE lat histogram"), "{text}");
        assert!(text.contains("lat_count 2"), "{text}");
        assert!(text.contains("lat_bucket{le=\"0.001\"} 1"), "{text}");
        assert!(text.contains("lat_bucket{le=\"0.01\"} 2"), "{text}");
        assert!(text.contains("lat_bucket{le=\"+Inf\"} 2"), "{text}");
        assert!(text.contains("lat_sum 0.0055"), "{text}");
    }
}
