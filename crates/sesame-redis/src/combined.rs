//! The reply of `lua/load_write.lua` (`Store::load_and_write`) as a
//! [`LoadWrite`].
//!
//! The script answers with the session's fields as they were *before* its
//! write, plus the write's own answer, and this module applies the write and
//! the use to the decoded record exactly as the script did (the data change,
//! version + 1, last access now, idle expiry extended; or the touch alone when
//! it was due). One `HGETALL` inside the script thus serves both the load and
//! the record after the write, instead of a second read of the whole hash.

use redis::Value;
use sesame::store::{LoadWrite, Lookup, Timing, Write, Written};
use sesame::{Error, Result, SessionId};

use crate::codec;
use crate::reply::{array, pairs, status, take, text};
use crate::store::op_error;

/// Reads the script's reply for the session `id` and the `write` it was given.
pub(crate) fn load_write_reply(
    id: SessionId,
    reply: Value,
    write: Write<'_>,
    max_data_size: usize,
    t: &Timing,
) -> Result<LoadWrite> {
    let (st, mut rest) = status(reply)?;
    let lookup = |lookup| {
        Ok(LoadWrite {
            lookup,
            write: None,
        })
    };
    match st.as_str() {
        "MISSING" => lookup(Lookup::Missing),
        "E" | "X" => lookup(Lookup::Ended {
            tombstone: codec::decode_tomb(id, &pairs(take(&mut rest, 0))?)?,
            just_ended: st == "X",
        }),
        "L" | "W" => {
            let mut record = codec::decode_live(id, &pairs(take(&mut rest, 0))?)?;
            let written = match st.as_str() {
                "W" => Some(written(
                    &mut record,
                    take(&mut rest, 1),
                    write,
                    max_data_size,
                    t,
                )?),
                _ => None,
            };
            if !matches!(written, Some(Ok(_))) && t.needs_touch(record.last_accessed) {
                record.touch(t);
            }
            Ok(LoadWrite {
                lookup: Lookup::Live(record),
                write: written,
            })
        }
        other => Err(Error::Internal(format!("load_write: {other}"))),
    }
}

/// The write's answer; on success the write and the use applied to `record`.
fn written(
    record: &mut sesame::SessionRecord,
    answer: Value,
    write: Write<'_>,
    max_data_size: usize,
    t: &Timing,
) -> Result<Result<Written>> {
    let (st, rest) = status(Value::Array(array(answer)?))?;
    if st != "OK" {
        let key = match write {
            Write::Increment { key, .. } => key,
            Write::Update { .. } => "",
        };
        return Ok(Err(op_error(&st, &rest, max_data_size, key)));
    }
    let written = match write {
        Write::Increment { key, .. } => {
            let value: i64 = text(rest.first().unwrap_or(&Value::Nil))?
                .parse()
                .map_err(|_| Error::Internal("load_write: bad value".into()))?;
            record.data.insert(key.to_owned(), value.into());
            Written::Incremented(value)
        }
        Write::Update { patch, .. } => {
            patch.apply_to(&mut record.data);
            Written::Updated
        }
    };
    record.version += 1;
    record.touch(t);
    Ok(Ok(written))
}
