//! Session data and the patches that change it.
//!
//! Data is a map of string keys to JSON values. Changes travel to the store as
//! a [`Patch`] — set or remove, per key — never as a rewrite of the whole map,
//! so two requests that change different keys of one session both keep their
//! change.

use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// A session's data: string keys to JSON values.
pub type Data = serde_json::Map<String, Value>;

/// Longest accepted data key, in bytes.
pub const MAX_KEY_LEN: usize = 256;

/// One change to one key.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "op", content = "value")]
pub enum PatchOp {
    /// Set the key to this value.
    Set(Value),
    /// Remove the key.
    Remove,
}

/// A set of changes to a session's data, at most one per key (the last wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    ops: Vec<(String, PatchOp)>,
}

impl Patch {
    /// An empty patch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, serialized as JSON.
    pub fn set(mut self, key: impl Into<String>, value: impl Serialize) -> Result<Self, Error> {
        let value = to_json(&value)?;
        self.push(key.into(), PatchOp::Set(value))?;
        Ok(self)
    }

    /// Removes `key`.
    pub fn remove(mut self, key: impl Into<String>) -> Result<Self, Error> {
        self.push(key.into(), PatchOp::Remove)?;
        Ok(self)
    }

    /// Records one change; a later change to the same key replaces an earlier one.
    pub fn push(&mut self, key: String, op: PatchOp) -> Result<(), Error> {
        validate_key(&key)?;
        match self.ops.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = op,
            None => self.ops.push((key, op)),
        }
        Ok(())
    }

    /// The changes, in the order they were first made.
    pub fn ops(&self) -> &[(String, PatchOp)] {
        &self.ops
    }

    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Applies the patch to `data` in place.
    pub fn apply_to(&self, data: &mut Data) {
        for (key, op) in &self.ops {
            match op {
                PatchOp::Set(value) => {
                    data.insert(key.clone(), value.clone());
                }
                PatchOp::Remove => {
                    data.remove(key);
                }
            }
        }
    }
}

/// Serializes any value to JSON, mapping failure to [`Error::Serialization`].
pub fn to_json(value: &impl Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Serialization(e.to_string()))
}

/// Checks that a data key is 1 to 256 bytes.
pub fn validate_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::InvalidKey("empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidKey("longer than 256 bytes"));
    }
    Ok(())
}

/// Size of the data as compact JSON, the measure the size limit applies to.
pub fn data_size(data: &Data) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a Map of Values into a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, data);
    counter.0
}

/// Fails with [`Error::DataTooLarge`] when `data` is over `limit` bytes.
pub fn check_size(data: &Data, limit: usize) -> Result<(), Error> {
    let size = data_size(data);
    if size > limit {
        return Err(Error::DataTooLarge { size, limit });
    }
    Ok(())
}

/// The value an atomic increment of `current` by `delta` leaves at `key`:
/// absent counts as 0; anything but an integer, or an overflow, is
/// [`Error::NotAnInteger`]. Stores that increment in Rust share this rule.
pub fn incremented(current: Option<&Value>, key: &str, delta: i64) -> Result<i64, Error> {
    let not_an_integer = || Error::NotAnInteger {
        key: key.to_owned(),
    };
    let base = match current {
        None => 0,
        Some(value) => value.as_i64().ok_or_else(not_an_integer)?,
    };
    base.checked_add(delta).ok_or_else(not_an_integer)
}

/// The compare-and-set rule of `Store::update`: with an expected version, it
/// must be the current one, or the update fails with [`Error::Conflict`].
pub fn check_version(current: u64, expected: Option<u64>) -> Result<(), Error> {
    match expected {
        Some(expected) if expected != current => Err(Error::Conflict {
            current_version: current,
        }),
        _ => Ok(()),
    }
}

/// The data half of `Store::update` for stores that patch in Rust: applies
/// `patch` and enforces the size limit. On error `data` holds the patched map,
/// so work on a copy and drop it then.
pub fn apply_patch(data: &mut Data, patch: &Patch, max_data_size: usize) -> Result<(), Error> {
    patch.apply_to(data);
    check_size(data, max_data_size)
}

/// The data half of `Store::increment` for stores that increment in Rust:
/// adds `delta` at `key` (see [`incremented`]) and enforces the size limit.
/// On error `data` is unchanged.
pub fn apply_increment(
    data: &mut Data,
    key: &str,
    delta: i64,
    max_data_size: usize,
) -> Result<i64, Error> {
    let value = incremented(data.get(key), key, delta)?;
    let previous = data.insert(key.to_owned(), value.into());
    if let Err(e) = check_size(data, max_data_size) {
        match previous {
            Some(v) => data.insert(key.to_owned(), v),
            None => data.remove(key),
        };
        return Err(e);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    /// Stores keep data as JSON text: a float must read back as the value
    /// that was written. serde_json parses floats exactly only with its
    /// `float_roundtrip` feature (on for the workspace); without it,
    /// 2222…221 (49 digits) read as 2.2222222222222224e48 was written as
    /// that and read back as 2.2222222222222227e48. Found by the `api_json`
    /// fuzz target.
    #[test]
    fn floats_in_data_survive_a_json_round_trip() {
        for text in [
            "2222222222222222222222222222222222222222222222221",
            "2.2222222222222224e48",
            "0.30000000000000004",
            "1.7976931348623157e308",
            "5e-324",
            "-123456.789e-7",
        ] {
            let mut data = Data::new();
            data.insert("x".into(), serde_json::from_str(text).unwrap());
            let written = serde_json::to_string(&data).unwrap();
            let read: Data = serde_json::from_str(&written).unwrap();
            assert_eq!(read, data, "{text} -> {written}");
            let read: Data = serde_json::from_slice(written.as_bytes()).unwrap();
            assert_eq!(read, data, "{text} -> {written}");
        }
    }

    #[test]
    fn last_change_to_a_key_wins() {
        let patch = Patch::new()
            .set("a", 1)
            .unwrap()
            .set("b", 2)
            .unwrap()
            .remove("a")
            .unwrap();
        let mut data = Data::new();
        data.insert("a".into(), json!(0));
        patch.apply_to(&mut data);
        assert_eq!(Value::Object(data), json!({"b": 2}));
        assert_eq!(patch.ops().len(), 2);
    }

    #[test]
    fn values_that_cannot_be_json_are_a_typed_error() {
        let mut map = HashMap::new();
        map.insert((1, 2), "tuple keys are not JSON object keys");
        assert!(matches!(
            Patch::new().set("k", map),
            Err(Error::Serialization(_))
        ));
        assert!(matches!(Patch::new().set("", 1), Err(Error::InvalidKey(_))));
    }

    #[test]
    fn size_is_the_compact_json_length() {
        let mut data = Data::new();
        data.insert("k".into(), json!("vv"));
        assert_eq!(data_size(&data), r#"{"k":"vv"}"#.len());
        assert!(check_size(&data, 10).is_ok());
        assert!(matches!(
            check_size(&data, 9),
            Err(Error::DataTooLarge { size: 10, limit: 9 })
        ));
    }
}
