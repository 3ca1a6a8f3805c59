//! Inspection: everything known about one session, for operators and
//! debugging (the classic recipe's `debug_session`). Never touches it.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::data::Data;
use crate::device::DeviceInfo;
use crate::lifecycle::EndReason;
use crate::store::Lookup;
use crate::token::SessionId;
use crate::user::UserId;

/// What [`Manager::inspect`](crate::Manager::inspect) found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Inspection {
    /// The session id (SHA-256 of the token, hex).
    pub id: SessionId,
    /// A live session or a tombstone exists.
    pub exists: bool,
    /// The session is live.
    pub live: bool,
    /// Its user.
    pub user_id: Option<UserId>,
    /// Its data (live sessions only).
    pub data: Option<Data>,
    /// Its data version (live sessions only).
    pub version: Option<u64>,
    /// Creation time (live sessions only).
    pub created_at: Option<Timestamp>,
    /// Last recorded use (live sessions only).
    pub last_accessed: Option<Timestamp>,
    /// Seconds until the idle timeout.
    pub idle_seconds_left: Option<u64>,
    /// Seconds until the absolute timeout.
    pub absolute_seconds_left: Option<u64>,
    /// Device the session is bound to.
    pub device: Option<DeviceInfo>,
    /// Why it ended (ended sessions only).
    pub end_reason: Option<EndReason>,
    /// When it ended (ended sessions only).
    pub ended_at: Option<Timestamp>,
}

impl Inspection {
    pub(super) fn of(id: SessionId, lookup: Lookup, now: Timestamp) -> Self {
        let mut out = Inspection {
            id,
            exists: false,
            live: false,
            user_id: None,
            data: None,
            version: None,
            created_at: None,
            last_accessed: None,
            idle_seconds_left: None,
            absolute_seconds_left: None,
            device: None,
            end_reason: None,
            ended_at: None,
        };
        match lookup {
            Lookup::Missing => {}
            Lookup::Live(r) => {
                out.exists = true;
                out.live = true;
                out.idle_seconds_left = Some(now.until(r.idle_expires_at).as_secs());
                out.absolute_seconds_left = Some(now.until(r.absolute_expires_at).as_secs());
                out.user_id = r.user_id;
                out.data = Some(r.data);
                out.version = Some(r.version);
                out.created_at = Some(r.created_at);
                out.last_accessed = Some(r.last_accessed);
                out.device = Some(r.device);
            }
            Lookup::Ended { tombstone, .. } => {
                out.exists = true;
                out.user_id = tombstone.user_id;
                out.end_reason = Some(tombstone.reason);
                out.ended_at = Some(tombstone.ended_at);
            }
        }
        out
    }
}
