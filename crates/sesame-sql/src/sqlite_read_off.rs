//! Built without the `sqlite` feature: there are no inline readers, and
//! every read goes through sqlx. The type exists so the store's code is the
//! same with and without SQLite; it has no values.

use sesame::{Error, SessionId, Timestamp, UserId};

use crate::row::Stored;

/// Why an inline read gave no answer (never built here).
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The file is locked.
    #[allow(dead_code)]
    Busy,
    /// A typed answer.
    #[allow(dead_code)]
    Store(Error),
}

/// No readers: this enum has no values.
#[derive(Debug)]
pub(crate) enum Readers {}

impl Readers {
    pub fn session(&self, _: &str, _: &SessionId) -> Result<Option<Stored>, ReadError> {
        match *self {}
    }
    pub fn owner(&self, _: &str, _: &SessionId) -> Result<Option<Option<String>>, ReadError> {
        match *self {}
    }
    pub fn list(&self, _: &str, _: &UserId, _: Timestamp) -> Result<Vec<Stored>, ReadError> {
        match *self {}
    }
    pub fn close(&self) {
        match *self {}
    }
}
