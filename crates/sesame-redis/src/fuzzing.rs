//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; not a
//! public API, hidden from the docs).
//!
//! Why here: the decoders of a session's hash are private to the store, and
//! the fuzz target must run exactly the code the store runs on what Redis
//! answers (a Redis that was tampered with, or a key written by something
//! else, is the input an attacker with access to Redis controls).

use redis::Value;
use sesame::store::Lookup;
use sesame::{Result, SessionId, SessionRecord};

use crate::codec;
use crate::reply::pairs;

/// A session's `HGETALL` reply, read as `RedisStore::load` reads it.
///
/// # Errors
/// `Error::Corrupt` or `Error::Internal`, as the store returns them.
pub fn decode_hgetall(id: SessionId, reply: Value) -> Result<Lookup> {
    codec::decode_hash(id, &pairs(reply)?)
}

/// The load script's `[status, fields]` reply, read as `RedisStore::load`
/// reads it.
///
/// # Errors
/// `Error::Corrupt` or `Error::Internal`, as the store returns them.
pub fn decode_load_reply(id: SessionId, reply: Value) -> Result<Lookup> {
    crate::store::decode_load_reply(id, reply)
}

/// The hash of a live session as the store writes it (`st` = `L` first,
/// then the fields of `write_live`, the entry count and size included).
///
/// # Errors
/// `Error::Serialization` if the record's device or data do not serialize.
pub fn encode_live(r: &SessionRecord) -> Result<Vec<(String, String)>> {
    let flat = codec::encode(r)?;
    let mut out = Vec::with_capacity(1 + flat.len() / 2);
    out.push(("st".to_owned(), "L".to_owned()));
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}
