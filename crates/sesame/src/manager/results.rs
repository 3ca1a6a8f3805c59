//! What the manager's operations return.

use crate::store::SessionRecord;
use crate::token::{SessionId, SessionToken};

/// A new session.
#[derive(Debug)]
#[non_exhaustive]
pub struct Created {
    /// The token to send to the client. Sesame keeps only its hash.
    pub token: SessionToken,
    /// The session.
    pub session: SessionRecord,
    /// Sessions of the same user that the cap evicted.
    pub evicted: Vec<SessionId>,
}

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

/// A session that continues under a new token.
#[derive(Debug)]
#[non_exhaustive]
pub struct Rotated {
    /// The new token to send to the client.
    pub token: SessionToken,
    /// The session under its new id.
    pub session: SessionRecord,
    /// Sessions the cap evicted (login into a user at the cap).
    pub evicted: Vec<SessionId>,
}
