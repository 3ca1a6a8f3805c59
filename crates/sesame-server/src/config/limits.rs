//! `[limits]`: bounds on what one request, and the server as a whole, may
//! take.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::durations::Dur;
use super::section::{Invalid, Section, ensure};

/// Most worker threads `limits.workers` may ask for: a typo of a few zeros
/// should be a config error, not a failure to start threads.
pub const MAX_WORKERS: usize = 1024;

/// HTTP limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted total size of request headers, in bytes.
    pub max_header_bytes: usize,
    /// A request that takes longer (from the moment it holds a concurrency
    /// permit) is answered 503 `timeout`.
    pub request_timeout: Dur,
    /// A client must send a request's headers within this time of the
    /// connection being ready for them, else it is disconnected (slow-loris
    /// defence); an idle keep-alive connection is closed after it too.
    pub header_read_timeout: Dur,
    /// A request's body must arrive in full within this time, else 408
    /// `body_timeout` (a client trickling its body holds a permit at most
    /// this long).
    pub body_timeout: Dur,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout: Dur,
    /// Most `/v1` requests handled at once, all routes together.
    pub max_concurrency: usize,
    /// How long a `/v1` request waits for one of the `max_concurrency`
    /// permits before it is answered 503 `overloaded` (`0`: not at all).
    pub queue_timeout: Dur,
    /// Most connections open at once; more are closed as soon as they are
    /// accepted. Lowered at start to fit the file-descriptor limit
    /// ([`crate::serving::connection_cap`]).
    pub max_connections: usize,
    /// Worker threads serving connections (0: two per CPU); see
    /// [`crate::serving`].
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            max_header_bytes: 16 * 1024,
            request_timeout: Dur(Duration::from_secs(10)),
            header_read_timeout: Dur(Duration::from_secs(5)),
            body_timeout: Dur(Duration::from_secs(5)),
            shutdown_timeout: Dur(Duration::from_secs(30)),
            max_concurrency: 4096,
            queue_timeout: Dur(Duration::from_secs(1)),
            max_connections: 10_000,
            workers: 0,
        }
    }
}

impl Section for Limits {
    fn validate(&self) -> Result<(), Invalid> {
        ensure(
            self.max_body_bytes > 0,
            "max_body_bytes",
            "must be at least 1",
        )?;
        ensure(
            self.max_header_bytes >= 1024,
            "max_header_bytes",
            "must be at least 1024",
        )?;
        ensure(
            !self.request_timeout.0.is_zero(),
            "request_timeout",
            "must be greater than zero",
        )?;
        ensure(
            !self.header_read_timeout.0.is_zero(),
            "header_read_timeout",
            "must be greater than zero",
        )?;
        ensure(
            !self.body_timeout.0.is_zero(),
            "body_timeout",
            "must be greater than zero",
        )?;
        ensure(
            self.max_connections > 0,
            "max_connections",
            "must be at least 1",
        )?;
        ensure(
            self.max_concurrency > 0,
            "max_concurrency",
            "must be at least 1",
        )?;
        ensure(
            self.workers <= MAX_WORKERS,
            "workers",
            format!("must be at most {MAX_WORKERS} (0: two per CPU)"),
        )
    }
}
