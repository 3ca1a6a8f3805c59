//! The memory store's compact form of a session record.
//!
//! The device and the DBSC state (often absent) are boxed, so a live
//! session's record is 136 bytes plus its data (the same 144-byte
//! allocation as the 128 bytes before the DBSC field): see
//! docs/BENCHMARKS.md.

use crate::clock::Timestamp;
use crate::data::Data;
use crate::dbsc::DbscState;
use crate::device::DeviceInfo;
use crate::lifecycle::{EndReason, Tombstone};
use crate::store::{SessionRecord, Timing, expired_reason};
use crate::token::SessionId;
use crate::user::UserId;

/// A live session.
#[derive(Debug)]
pub(super) struct Live {
    pub id: SessionId,
    pub user_id: Option<UserId>,
    pub data: Data,
    pub version: u64,
    pub created_at: Timestamp,
    pub token_issued_at: Timestamp,
    pub last_accessed: Timestamp,
    pub idle_expires_at: Timestamp,
    pub absolute_expires_at: Timestamp,
    pub device: Option<Box<DeviceInfo>>,
    pub dbsc: Option<Box<DbscState>>,
}

impl Live {
    pub fn from_record(r: SessionRecord) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            data: r.data,
            version: r.version,
            created_at: r.created_at,
            token_issued_at: r.token_issued_at,
            last_accessed: r.last_accessed,
            idle_expires_at: r.idle_expires_at,
            absolute_expires_at: r.absolute_expires_at,
            device: (!r.device.is_empty()).then(|| Box::new(r.device)),
            dbsc: r.dbsc,
        }
    }

    pub fn to_record(&self) -> SessionRecord {
        SessionRecord {
            id: self.id,
            user_id: self.user_id.clone(),
            data: self.data.clone(),
            version: self.version,
            created_at: self.created_at,
            token_issued_at: self.token_issued_at,
            last_accessed: self.last_accessed,
            idle_expires_at: self.idle_expires_at,
            absolute_expires_at: self.absolute_expires_at,
            device: self.device.as_deref().cloned().unwrap_or_default(),
            dbsc: self.dbsc.clone(),
        }
    }

    pub fn expired_reason(&self, now: Timestamp) -> Option<EndReason> {
        expired_reason(self.idle_expires_at, self.absolute_expires_at, now)
    }

    /// The tombstone this session leaves if it has expired at `now`; it ended
    /// at its expiry instant.
    pub fn expiry_tombstone(&self, now: Timestamp) -> Option<Tombstone> {
        let reason = self.expired_reason(now)?;
        let ended_at = match reason {
            EndReason::AbsoluteTimeout => self.absolute_expires_at,
            _ => self.idle_expires_at,
        };
        Some(Tombstone {
            id: self.id,
            user_id: self.user_id.clone(),
            reason,
            ended_at,
            successor: None,
        })
    }

    /// Records a use now.
    pub fn touch(&mut self, t: &Timing) {
        self.last_accessed = t.now;
        self.idle_expires_at = t.idle_expiry(self.absolute_expires_at);
    }

    pub fn expires_at(&self) -> Timestamp {
        self.idle_expires_at.min(self.absolute_expires_at)
    }
}

/// One slot of the map: a live session or a tombstone.
#[derive(Debug)]
pub(super) enum Entry {
    Live(Box<Live>),
    Ended(Box<Ended>),
}

/// A tombstone and the instant it may be purged.
#[derive(Debug)]
pub(super) struct Ended {
    pub tombstone: Tombstone,
    pub purge_at: Timestamp,
}

impl Entry {
    /// The session id this entry is filed under.
    pub fn id(&self) -> &SessionId {
        match self {
            Entry::Live(live) => &live.id,
            Entry::Ended(ended) => &ended.tombstone.id,
        }
    }

    /// The instant the cleanup sweep must next look at this entry.
    pub fn deadline(&self) -> Timestamp {
        match self {
            Entry::Live(live) => live.expires_at(),
            Entry::Ended(ended) => ended.purge_at,
        }
    }
}
