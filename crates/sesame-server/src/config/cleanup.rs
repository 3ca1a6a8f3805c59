//! `[cleanup]`: the scheduler that ends expired sessions (see
//! [`crate::cleanup`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::durations::Dur;
use super::section::{Invalid, Section};

/// The cleanup scheduler.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CleanupConfig {
    /// Time between runs; `0` turns the scheduler off.
    pub interval: Dur,
}

impl Default for CleanupConfig {
    fn default() -> Self {
        Self {
            interval: Dur(Duration::from_secs(3600)),
        }
    }
}

impl Section for CleanupConfig {
    fn validate(&self) -> Result<(), Invalid> {
        // Every duration is valid: 0 turns the scheduler off.
        Ok(())
    }
}
