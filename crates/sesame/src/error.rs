//! The crate's one error type, and its one classification.
//!
//! Variants are typed so callers can match on them. [`Error::kind`] sorts
//! every variant into an [`ErrorKind`] — who is at fault and whether a retry
//! can help — and each transport maps a kind to its status in one place
//! (`sesame-tower`'s `SessionError`, `sesame serve`'s `ApiError`), so the two
//! cannot disagree about what a failure means. `Display` texts name no
//! secret.

use crate::lifecycle::EndReason;

/// A boxed error from a store's client library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong in sesame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is not 43 characters of canonical base64url. No store was asked.
    #[error("invalid session token")]
    InvalidToken,
    /// A session id is not 64 hex characters.
    #[error("invalid session id")]
    InvalidSessionId,
    /// No session (live or ended) is known under this token.
    #[error("session not found")]
    NotFound,
    /// The session has ended; the reason comes from its tombstone.
    #[error("session ended: {reason}")]
    Ended {
        /// Why it ended.
        reason: EndReason,
    },
    /// A compare-and-set named a version that is no longer current.
    #[error("version conflict: the session is at version {current_version}")]
    Conflict {
        /// The version the session is at now.
        current_version: u64,
    },
    /// The user's session cap is reached and the policy is `RejectNew`.
    #[error("the user already has the maximum number of sessions")]
    LimitReached,
    /// The store has no room for another session: its bound on the number
    /// of sessions is reached, or its disk is full.
    #[error("the session store is full")]
    StoreFull,
    /// The session's data would exceed the policy's size limit.
    #[error("session data is {size} bytes, over the limit of {limit}")]
    DataTooLarge {
        /// Serialized size the data would have.
        size: usize,
        /// The policy's limit.
        limit: usize,
    },
    /// A user id is empty or over 256 bytes.
    #[error("invalid user id: {0}")]
    InvalidUserId(&'static str),
    /// A data key is empty or over 256 bytes.
    #[error("invalid data key: {0}")]
    InvalidKey(&'static str),
    /// A value could not be turned into JSON.
    #[error("value cannot be serialized: {0}")]
    Serialization(String),
    /// An atomic increment met a value that is not an integer, or overflowed.
    #[error("the value at key {key:?} is not an integer that can be incremented")]
    NotAnInteger {
        /// The data key.
        key: String,
    },
    /// A configuration value is out of range; the text names the setting.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The [`Policy`](crate::Policy) given to a manager is inconsistent;
    /// [`PolicyError::setting`](crate::PolicyError::setting) says which
    /// setting.
    #[error("invalid configuration: {0}")]
    Policy(#[from] crate::policy::PolicyError),
    /// The store cannot be reached or did not answer in time. Retry later.
    #[error("session store unavailable")]
    StoreUnavailable(#[source] BoxError),
    /// A stored record could not be read back (corrupt JSON, unknown reason).
    #[error("corrupt session record {id}: {detail}")]
    Corrupt {
        /// Short id of the record.
        id: String,
        /// What was wrong.
        detail: String,
    },
    /// A cookie could not be read, opened or written.
    #[error(transparent)]
    Cookie(#[from] crate::cookie::CookieError),
    /// Any other failure inside a store or the engine.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What kind of failure an [`Error`] is: the classification transports turn
/// into a status. Each kind names the HTTP status both transports answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The credential reaches no live session: malformed, unknown, or
    /// ended. Authenticate again (HTTP 401).
    Unauthenticated,
    /// The request lost a race or hit a limit of the user's sessions: a
    /// stale version, or the per-user cap with `RejectNew` (HTTP 409).
    Conflict,
    /// The session's data would be too large (HTTP 413).
    TooLarge,
    /// The caller sent a malformed value: a session id, user id, data key,
    /// or a value that is not JSON (HTTP 400).
    InvalidInput,
    /// Well-formed, but it cannot be applied to what is stored: an
    /// increment of a value that is not an integer (HTTP 422).
    Unprocessable,
    /// The store cannot take the request now: unreachable, or full. Retry
    /// later (HTTP 503).
    Unavailable,
    /// A fault of the server: its configuration, a corrupt record, a bug.
    /// The details are for the log, not the client (HTTP 500).
    Internal,
}

impl ErrorKind {
    /// Every kind, for tests that check a transport maps each of them.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Unauthenticated,
        ErrorKind::Conflict,
        ErrorKind::TooLarge,
        ErrorKind::InvalidInput,
        ErrorKind::Unprocessable,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];
}

impl Error {
    /// The kind of failure: the one classification every transport maps to
    /// a status.
    ///
    /// # Examples
    /// ```
    /// use sesame::{Error, ErrorKind};
    ///
    /// assert_eq!(Error::NotFound.kind(), ErrorKind::Unauthenticated);
    /// assert_eq!(Error::LimitReached.kind(), ErrorKind::Conflict);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        // No `_` arm: a new variant must be classified here.
        match self {
            Error::InvalidToken | Error::NotFound | Error::Ended { .. } => {
                ErrorKind::Unauthenticated
            }
            Error::Conflict { .. } | Error::LimitReached => ErrorKind::Conflict,
            Error::DataTooLarge { .. } => ErrorKind::TooLarge,
            Error::InvalidSessionId
            | Error::InvalidUserId(_)
            | Error::InvalidKey(_)
            | Error::Serialization(_) => ErrorKind::InvalidInput,
            Error::NotAnInteger { .. } => ErrorKind::Unprocessable,
            Error::StoreUnavailable(_) | Error::StoreFull => ErrorKind::Unavailable,
            Error::Config(_)
            | Error::Policy(_)
            | Error::Corrupt { .. }
            | Error::Cookie(_)
            | Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Wraps a client library's error as [`Error::StoreUnavailable`].
    pub fn unavailable(e: impl Into<BoxError>) -> Self {
        Self::StoreUnavailable(e.into())
    }

    /// A short, stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidToken => "invalid_token",
            Error::InvalidSessionId => "invalid_session_id",
            Error::NotFound => "not_found",
            Error::Ended { reason } => reason.as_str(),
            Error::Conflict { .. } => "conflict",
            Error::LimitReached => "limit_reached",
            Error::StoreFull => "store_full",
            Error::DataTooLarge { .. } => "data_too_large",
            Error::InvalidUserId(_) => "invalid_user_id",
            Error::InvalidKey(_) => "invalid_key",
            Error::Serialization(_) => "serialization",
            Error::NotAnInteger { .. } => "not_an_integer",
            Error::Config(_) | Error::Policy(_) => "invalid_config",
            Error::StoreUnavailable(_) => "store_unavailable",
            Error::Corrupt { .. } => "corrupt_record",
            Error::Cookie(_) => "invalid_cookie",
            Error::Internal(_) => "internal",
        }
    }
}

/// Results in sesame.
pub type Result<T, E = Error> = std::result::Result<T, E>;
