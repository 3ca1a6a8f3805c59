//! What the store keeps under each key, as compact JSON.
//!
//! A session key holds either a live record or its tombstone, so ending a
//! session is one `cas` from one to the other, and of two concurrent enders
//! exactly one wins. A user key holds the user's index.

use serde::{Deserialize, Serialize};
use sesame::lifecycle::{EndReason, Successor, Tombstone};
use sesame::store::{SessionRecord, Timing};
use sesame::{Data, DeviceInfo, Error, SessionId, Timestamp, UserId};

/// The value under a session key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "k")]
pub(crate) enum Stored {
    /// A live session (its id is the key).
    #[serde(rename = "l")]
    Live(Live),
    /// An ended session.
    #[serde(rename = "e")]
    Ended(Ended),
}

/// A live session without its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Live {
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(rename = "d")]
    pub data: Data,
    #[serde(rename = "v")]
    pub version: u64,
    #[serde(rename = "c")]
    pub created_at: Timestamp,
    #[serde(rename = "i")]
    pub token_issued_at: Timestamp,
    #[serde(rename = "a")]
    pub last_accessed: Timestamp,
    #[serde(rename = "ie")]
    pub idle_expires_at: Timestamp,
    #[serde(rename = "ae")]
    pub absolute_expires_at: Timestamp,
    #[serde(rename = "dv", default, skip_serializing_if = "DeviceInfo::is_empty")]
    pub device: DeviceInfo,
}

/// A tombstone and when it may be purged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Ended {
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(rename = "r")]
    pub reason: EndReason,
    #[serde(rename = "at")]
    pub ended_at: Timestamp,
    #[serde(rename = "p")]
    pub purge_at: Timestamp,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<(SessionId, Timestamp)>,
}

impl Live {
    pub fn from_record(r: SessionRecord) -> Self {
        Self {
            user_id: r.user_id,
            data: r.data,
            version: r.version,
            created_at: r.created_at,
            token_issued_at: r.token_issued_at,
            last_accessed: r.last_accessed,
            idle_expires_at: r.idle_expires_at,
            absolute_expires_at: r.absolute_expires_at,
            device: r.device,
        }
    }

    pub fn to_record(&self, id: SessionId) -> SessionRecord {
        SessionRecord {
            id,
            user_id: self.user_id.clone(),
            data: self.data.clone(),
            version: self.version,
            created_at: self.created_at,
            token_issued_at: self.token_issued_at,
            last_accessed: self.last_accessed,
            idle_expires_at: self.idle_expires_at,
            absolute_expires_at: self.absolute_expires_at,
            device: self.device.clone(),
            dbsc: None,
        }
    }

    /// Records a use now: the last access and the idle expiry move.
    pub fn touch(&mut self, t: &Timing) {
        self.last_accessed = t.now;
        self.idle_expires_at = t.idle_expiry(self.absolute_expires_at);
    }

    pub fn expires_at(&self) -> Timestamp {
        self.idle_expires_at.min(self.absolute_expires_at)
    }

    pub fn expired_reason(&self, now: Timestamp) -> Option<EndReason> {
        sesame::store::expired_reason(self.idle_expires_at, self.absolute_expires_at, now)
    }

    /// The instant it ended, if it expired by `now`.
    pub fn expiry(&self, now: Timestamp) -> Option<(EndReason, Timestamp)> {
        let reason = self.expired_reason(now)?;
        let at = match reason {
            EndReason::AbsoluteTimeout => self.absolute_expires_at,
            _ => self.idle_expires_at,
        };
        Some((reason, at))
    }
}

impl Ended {
    pub fn tombstone(&self, id: SessionId) -> Tombstone {
        Tombstone {
            id,
            user_id: self.user_id.clone(),
            reason: self.reason,
            ended_at: self.ended_at,
            successor: self
                .successor
                .map(|(id, grace_until)| Successor { id, grace_until }),
        }
    }
}

impl Stored {
    pub fn encode(&self) -> Vec<u8> {
        // Serializing these plain structs cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(id: &SessionId, bytes: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
            id: id.short(),
            detail: e.to_string(),
        })
    }
}

/// The value under a user key: the user's sessions and the evictions decided
/// but perhaps not yet carried out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Index {
    /// `(created_at, id)` of each session, as last written.
    #[serde(rename = "s", default)]
    pub sessions: Vec<(Timestamp, SessionId)>,
    /// Sessions removed from `sessions` by the cap whose tombstone may not be
    /// written yet; whoever writes the index next finishes them.
    #[serde(rename = "p", default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<SessionId>,
    /// Until when the item must live (the latest absolute expiry of its
    /// sessions plus the tombstone time); rewrites keep it.
    #[serde(rename = "x", default)]
    pub until: Timestamp,
}

impl Index {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A corrupt index is treated as empty: it only ever loses the cap's
    /// knowledge of sessions, never grants access.
    pub fn decode(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_default()
    }
}
