//! `[guard]`: detecting session-token guessing (see [`crate::probing`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::durations::Dur;
use super::section::{Invalid, Section, ensure};

/// Detecting session-token guessing (see [`crate::probing`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Invalid session credentials one caller (API key and end-user
    /// address) may present within `window`; one more blocks it. `0` turns
    /// the guard off.
    pub max_invalid: u32,
    /// The counting window.
    pub window: Dur,
    /// How long a blocked caller's invalid credentials are answered 429.
    pub block: Dur,
    /// Most callers tracked at once (bounds memory).
    pub max_tracked: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_invalid: 100,
            window: Dur(Duration::from_secs(60)),
            block: Dur(Duration::from_secs(300)),
            max_tracked: 10_000,
        }
    }
}

impl Section for GuardConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.max_invalid == 0 {
            return Ok(());
        }
        ensure(self.window.0.as_secs() > 0, "window", "must be at least 1s")?;
        ensure(self.block.0.as_secs() > 0, "block", "must be at least 1s")
    }
}
