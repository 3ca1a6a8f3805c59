//! Reading rows back: a live session or a tombstone.
//!
//! A row that cannot be read (data that is not a JSON object, an unknown end
//! reason, an id of the wrong length) is `Error::Corrupt` for that session
//! only; the store goes on serving every other row.

use std::borrow::Cow;

use sesame::lifecycle::{EndReason, Successor, Tombstone};
use sesame::{Data, DeviceInfo, Error, SessionId, SessionRecord, Timestamp, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// What a row holds.
#[derive(Debug)]
pub(crate) enum Stored {
    Live(SessionRecord),
    Ended(Tombstone),
}

/// Milliseconds as stored (BIGINT) from a timestamp.
pub(crate) fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

fn ts(v: i64) -> Timestamp {
    Timestamp::from_millis(u64::try_from(v).unwrap_or(0))
}

pub(crate) fn corrupt(id: &[u8], detail: impl Into<String>) -> Error {
    let short = match <[u8; 32]>::try_from(id) {
        Ok(bytes) => SessionId::from_bytes(bytes).short(),
        Err(_) => "?".into(),
    };
    Error::Corrupt {
        id: short,
        detail: detail.into(),
    }
}

pub(crate) fn session_id(bytes: &[u8]) -> Result<SessionId, Error> {
    <[u8; 32]>::try_from(bytes)
        .map(SessionId::from_bytes)
        .map_err(|_| corrupt(bytes, "id is not 32 bytes"))
}

pub(crate) fn user_id(id: &[u8], user: Option<String>) -> Result<Option<UserId>, Error> {
    user.map(|u| UserId::new(u).map_err(|e| corrupt(id, format!("user id: {e}"))))
        .transpose()
}

pub(crate) fn reason(id: &[u8], text: &str) -> Result<EndReason, Error> {
    text.parse()
        .map_err(|_| corrupt(id, format!("unknown end reason {text:?}")))
}

/// Typed access to a result row's columns, so one [`decode`] serves both
/// drivers: sqlx's `AnyRow` and, for SQLite's inline reads, rusqlite's `Row`.
/// A value of the wrong type is `Error::Internal` (a schema the store did not
/// create), like any other unreadable column. Values may be borrowed from the
/// row (rusqlite) or owned (sqlx).
pub(crate) trait Columns {
    fn bytes(&self, i: usize) -> Result<Option<Cow<'_, [u8]>>, Error>;
    fn text(&self, i: usize) -> Result<Option<Cow<'_, str>>, Error>;
    fn int(&self, i: usize) -> Result<Option<i64>, Error>;
}

pub(crate) fn unreadable(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("reading a session row: {e}"))
}

fn required<T>(v: Option<T>, i: usize) -> Result<T, Error> {
    v.ok_or_else(|| unreadable(format!("column {i} is NULL")))
}

impl Columns for AnyRow {
    fn bytes(&self, i: usize) -> Result<Option<Cow<'_, [u8]>>, Error> {
        let v: Option<Vec<u8>> = self.try_get(i).map_err(unreadable)?;
        Ok(v.map(Cow::Owned))
    }
    fn text(&self, i: usize) -> Result<Option<Cow<'_, str>>, Error> {
        let v: Option<String> = self.try_get(i).map_err(unreadable)?;
        Ok(v.map(Cow::Owned))
    }
    fn int(&self, i: usize) -> Result<Option<i64>, Error> {
        self.try_get(i).map_err(unreadable)
    }
}

/// Decodes a row selected with [`crate::sql::COLUMNS`].
pub(crate) fn decode<R: Columns + ?Sized>(row: &R) -> Result<Stored, Error> {
    let raw_id = required(row.bytes(0)?, 0)?;
    let id = session_id(&raw_id)?;
    let user_id = user_id(&raw_id, row.text(1)?.map(Cow::into_owned))?;
    if let Some(text) = row.text(10)? {
        let reason = reason(&raw_id, &text)?;
        let ended_at = row.int(11)?;
        let successor = match row.bytes(12)? {
            Some(bytes) => Some(Successor {
                id: session_id(&bytes)?,
                grace_until: ts(row.int(13)?.unwrap_or(0)),
            }),
            None => None,
        };
        return Ok(Stored::Ended(Tombstone {
            id,
            user_id,
            reason,
            ended_at: ts(ended_at.unwrap_or(0)),
            successor,
        }));
    }
    let data = required(row.text(2)?, 2)?;
    let data: Data = serde_json::from_str(&data)
        .map_err(|e| corrupt(&raw_id, format!("data is not a JSON object: {e}")))?;
    let device: DeviceInfo = match row.text(9)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| corrupt(&raw_id, format!("device is not valid: {e}")))?,
        None => DeviceInfo::default(),
    };
    let int = |i: usize| -> Result<i64, Error> { required(row.int(i)?, i) };
    Ok(Stored::Live(SessionRecord {
        id,
        user_id,
        data,
        version: u64::try_from(int(3)?).unwrap_or(0),
        created_at: ts(int(4)?),
        token_issued_at: ts(int(5)?),
        last_accessed: ts(int(6)?),
        idle_expires_at: ts(int(7)?),
        absolute_expires_at: ts(int(8)?),
        device,
        dbsc: None,
    }))
}

/// The device as stored: `NULL` when empty.
pub(crate) fn device_json(device: &DeviceInfo) -> Result<Option<String>, Error> {
    if device.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(device)
        .map(Some)
        .map_err(|e| Error::Serialization(e.to_string()))
}

pub(crate) fn data_json(data: &Data) -> Result<String, Error> {
    serde_json::to_string(data).map_err(|e| Error::Serialization(e.to_string()))
}
