//! How a session ends.
//!
//! A session ends exactly once, and the reason is kept in a short-lived
//! tombstone so that a request carrying an ended session learns why.

use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::clock::Timestamp;
use crate::token::SessionId;
use crate::user::UserId;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndReason {
    /// Not used within the idle timeout.
    IdleTimeout,
    /// Past its absolute lifetime.
    AbsoluteTimeout,
    /// The user logged out.
    LoggedOut,
    /// Ended by an admin, by the user ("log out other devices"), a password
    /// change or a disabled account.
    Revoked,
    /// The per-user cap made room for a newer session.
    Evicted,
    /// Replaced by a new token (login, privilege change, renewal).
    Rotated,
    /// Security event: the client's device did not match the session's.
    DeviceMismatch,
    /// Security event: a rotated token was presented after its grace period.
    TokenReuse,
    /// Security event raised by the application.
    SecurityEvent,
    /// Security event: a DBSC refresh proof did not verify against the key
    /// the session registered (or, with that policy, an in-scope request
    /// came without a valid bound cookie). The holder of the session cookie
    /// is not the holder of the browser's key.
    DbscFailed,
}

/// The coarse class of an [`EndReason`], as the session model names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCategory {
    /// Idle or absolute timeout.
    Expired,
    /// Logout.
    LoggedOut,
    /// Revocation.
    Revoked,
    /// Eviction by the per-user cap.
    Evicted,
    /// Rotation.
    Rotated,
    /// Device mismatch, token reuse, a failed DBSC proof, or an application's
    /// security event.
    SecurityEvent,
}

impl EndReason {
    /// Every reason, for exhaustive tests and metrics.
    pub const ALL: [EndReason; 10] = [
        EndReason::IdleTimeout,
        EndReason::AbsoluteTimeout,
        EndReason::LoggedOut,
        EndReason::Revoked,
        EndReason::Evicted,
        EndReason::Rotated,
        EndReason::DeviceMismatch,
        EndReason::TokenReuse,
        EndReason::SecurityEvent,
        EndReason::DbscFailed,
    ];

    /// A stable snake_case name, used in stores, APIs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::IdleTimeout => "expired_idle",
            EndReason::AbsoluteTimeout => "expired_absolute",
            EndReason::LoggedOut => "logged_out",
            EndReason::Revoked => "revoked",
            EndReason::Evicted => "evicted",
            EndReason::Rotated => "rotated",
            EndReason::DeviceMismatch => "device_mismatch",
            EndReason::TokenReuse => "token_reuse",
            EndReason::SecurityEvent => "security_event",
            EndReason::DbscFailed => "dbsc_failed",
        }
    }

    /// The model's coarse class of this reason.
    pub fn category(self) -> EndCategory {
        match self {
            EndReason::IdleTimeout | EndReason::AbsoluteTimeout => EndCategory::Expired,
            EndReason::LoggedOut => EndCategory::LoggedOut,
            EndReason::Revoked => EndCategory::Revoked,
            EndReason::Evicted => EndCategory::Evicted,
            EndReason::Rotated => EndCategory::Rotated,
            EndReason::DeviceMismatch
            | EndReason::TokenReuse
            | EndReason::SecurityEvent
            | EndReason::DbscFailed => EndCategory::SecurityEvent,
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EndReason {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        EndReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::Internal(format!("unknown end reason {s:?}")))
    }
}

impl serde::Serialize for EndReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EndReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What remains of an ended session until `purge_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// The ended session.
    pub id: SessionId,
    /// Its user, if it had one.
    pub user_id: Option<UserId>,
    /// Why it ended.
    pub reason: EndReason,
    /// When it ended.
    pub ended_at: Timestamp,
    /// For a rotated session: the session that replaced it, and until when the
    /// old token may still be used to reach it.
    pub successor: Option<Successor>,
}

/// The session a rotated one was replaced by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Successor {
    /// The new session's id.
    pub id: SessionId,
    /// The old token resolves to the new session until this instant.
    pub grace_until: Timestamp,
}

/// A session that ended, as reported to event subscribers and by cleanup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    /// Its id.
    pub id: SessionId,
    /// Its user, if any.
    pub user_id: Option<UserId>,
    /// Why it ended.
    pub reason: EndReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for reason in EndReason::ALL {
            assert_eq!(reason.as_str().parse::<EndReason>().unwrap(), reason);
        }
        assert!("nope".parse::<EndReason>().is_err());
        assert_eq!(EndReason::TokenReuse.category(), EndCategory::SecurityEvent);
    }
}
