//! What the manager's operations return.

use crate::Result;
use crate::store::{SessionRecord, Written};
use crate::token::{SessionId, SessionToken};

/// A session with a newly issued token: created, or rotated (login,
/// privilege change).
#[derive(Debug)]
#[non_exhaustive]
pub struct Issued {
    /// The token to send to the client. Sesame keeps only its hash.
    pub token: SessionToken,
    /// The session under its (new) id.
    pub session: SessionRecord,
    /// Sessions of the same user that the cap evicted to make room.
    pub evicted: Vec<SessionId>,
}

/// What [`Manager::create`](crate::Manager::create) returns.
pub type Created = Issued;

/// What [`Manager::login`](crate::Manager::login) and
/// [`Manager::rotate`](crate::Manager::rotate) return.
pub type Rotated = Issued;

/// A resumed session.
#[derive(Debug)]
#[non_exhaustive]
pub struct Loaded {
    /// The session (after touch and renewal).
    pub session: SessionRecord,
    /// A new token, when renewal replaced the presented one: send it.
    pub renewed: Option<SessionToken>,
    /// The device did not match and the policy says `Flag`.
    pub device_flagged: bool,
    /// The presented token was rotated and is still within its grace.
    pub via_grace: bool,
}

/// What [`Manager::load_and_write`](crate::Manager::load_and_write) returns:
/// the resumed session and what the write did.
#[derive(Debug)]
#[non_exhaustive]
pub struct LoadedWrite {
    /// The session, as [`Manager::load`](crate::Manager::load) gives it, with
    /// the write applied when it succeeded (for an increment made as a second
    /// call, only the key's value is refreshed, not the version).
    pub loaded: Loaded,
    /// The write's outcome; a refusal (`Conflict`, `DataTooLarge`,
    /// `NotAnInteger`) leaves the session as loaded.
    pub written: Result<Written>,
}
