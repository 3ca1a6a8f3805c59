//! What every table of the configuration does: check itself, and name the
//! field that is wrong relative to the table.
//!
//! [`Config::validate`](super::Config::validate) puts the table's own name in
//! front (`limits` + `max_body_bytes` → `limits.max_body_bytes`), so a section
//! never spells its own name and a rule can only name a field of its table.

use super::ConfigError;

/// A refused field of one section: its name within the section, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field, relative to the section (`max_body_bytes`, `keys[0]`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Invalid {
    /// `field` is wrong because of `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The error for this field inside the table `section`.
    pub fn within(self, section: &str) -> ConfigError {
        ConfigError::new(format!("{section}.{}", self.field), self.message)
    }
}

/// One table of the configuration (`[limits]`, `[policy]`, ...).
pub trait Section {
    /// Checks every setting of the table that has a form beyond its type
    /// (a range, a relation to another setting of the table).
    ///
    /// # Errors
    /// The first field found wrong.
    fn validate(&self) -> Result<(), Invalid>;
}

/// `Ok` when `ok`, else [`Invalid`] naming `field`.
pub fn ensure(ok: bool, field: &str, message: impl Into<String>) -> Result<(), Invalid> {
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(field, message))
    }
}
