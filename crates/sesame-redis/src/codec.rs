//! Session records to hash fields and back.
//!
//! Meta fields have short names (see `lua/lib.lua`); each data key is its own
//! field, `d` followed by the key as a JSON string, holding the value as
//! compact JSON. That makes a patch touch only the fields it names, lets
//! `HINCRBY` do integer arithmetic on a value in place, and lets a script
//! compute the data's JSON size exactly: an entry `"key":value` is
//! `len(field) + len(value)` bytes.

use sesame::lifecycle::{Successor, Tombstone};
use sesame::store::Lookup;
use sesame::{Data, DeviceInfo, Error, Result, SessionId, SessionRecord, Timestamp, UserId};

/// The hash field of a data key.
pub fn data_field(key: &str) -> String {
    let mut f = String::with_capacity(key.len() + 3);
    f.push('d');
    // A string always serializes.
    f.push_str(&serde_json::to_string(key).unwrap_or_default());
    f
}

/// The field/value pairs of a live session (without `st`), and its data's
/// entry count and size sum, as `write_live` expects them.
pub fn encode(r: &SessionRecord) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(24 + 2 * r.data.len());
    let mut push = |k: &str, v: String| {
        out.push(k.to_owned());
        out.push(v);
    };
    if let Some(u) = &r.user_id {
        push("u", u.as_str().to_owned());
    }
    push("v", r.version.to_string());
    push("c", r.created_at.as_millis().to_string());
    push("ti", r.token_issued_at.as_millis().to_string());
    push("la", r.last_accessed.as_millis().to_string());
    push("ie", r.idle_expires_at.as_millis().to_string());
    push("ae", r.absolute_expires_at.as_millis().to_string());
    let dev = serde_json::to_string(&r.device).map_err(|e| Error::Serialization(e.to_string()))?;
    push("dev", dev);
    let mut sz = 0usize;
    let mut data = Vec::with_capacity(2 * r.data.len());
    for (k, v) in &r.data {
        let f = data_field(k);
        let v = serde_json::to_string(v).map_err(|e| Error::Serialization(e.to_string()))?;
        sz += f.len() + v.len();
        data.push(f);
        data.push(v);
    }
    push("n", r.data.len().to_string());
    push("sz", sz.to_string());
    out.extend(data);
    Ok(out)
}

fn corrupt(id: &SessionId, detail: impl Into<String>) -> Error {
    Error::Corrupt {
        id: id.short(),
        detail: detail.into(),
    }
}

fn ts(id: &SessionId, v: Option<&str>, name: &str) -> Result<Timestamp> {
    v.and_then(|v| v.parse::<u64>().ok())
        .map(Timestamp::from_millis)
        .ok_or_else(|| corrupt(id, format!("bad or missing field {name}")))
}

fn user(id: &SessionId, v: Option<&str>) -> Result<Option<UserId>> {
    v.map(UserId::new)
        .transpose()
        .map_err(|e| corrupt(id, e.to_string()))
}

/// A field lookup over the flat pairs of `HGETALL`.
struct Fields<'a>(&'a [(String, String)]);

impl Fields<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A live session from its hash fields.
pub fn decode_live(id: SessionId, pairs: &[(String, String)]) -> Result<SessionRecord> {
    let f = Fields(pairs);
    if f.get("st") != Some("L") {
        return Err(corrupt(&id, "not a live session"));
    }
    let mut data = Data::new();
    for (k, v) in pairs {
        if let Some(json_key) = k.strip_prefix('d').filter(|j| j.starts_with('"')) {
            let key: String =
                serde_json::from_str(json_key).map_err(|e| corrupt(&id, e.to_string()))?;
            let value = serde_json::from_str(v).map_err(|e| corrupt(&id, e.to_string()))?;
            data.insert(key, value);
        }
    }
    let device: DeviceInfo = match f.get("dev") {
        Some(d) => serde_json::from_str(d).map_err(|e| corrupt(&id, e.to_string()))?,
        None => DeviceInfo::default(),
    };
    Ok(SessionRecord {
        id,
        user_id: user(&id, f.get("u"))?,
        data,
        version: f
            .get("v")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt(&id, "bad version"))?,
        created_at: ts(&id, f.get("c"), "c")?,
        token_issued_at: ts(&id, f.get("ti"), "ti")?,
        last_accessed: ts(&id, f.get("la"), "la")?,
        idle_expires_at: ts(&id, f.get("ie"), "ie")?,
        absolute_expires_at: ts(&id, f.get("ae"), "ae")?,
        device,
        dbsc: None,
    })
}

/// A session's hash as one `HGETALL` read it: nothing, a tombstone (never
/// one that this read ended) or a live record.
pub fn decode_hash(id: SessionId, pairs: &[(String, String)]) -> Result<Lookup> {
    if pairs.is_empty() {
        return Ok(Lookup::Missing);
    }
    if pairs.iter().any(|(k, v)| k == "st" && v == "E") {
        return Ok(Lookup::Ended {
            tombstone: decode_tomb(id, pairs)?,
            just_ended: false,
        });
    }
    decode_live(id, pairs).map(Lookup::Live)
}

/// A tombstone from its hash fields.
pub fn decode_tomb(id: SessionId, pairs: &[(String, String)]) -> Result<Tombstone> {
    let f = Fields(pairs);
    let reason = f
        .get("r")
        .ok_or_else(|| corrupt(&id, "tombstone without a reason"))?
        .parse()
        .map_err(|_| corrupt(&id, "unknown end reason"))?;
    let successor = match f.get("nx") {
        Some(nx) => Some(Successor {
            id: SessionId::from_hex(nx).map_err(|_| corrupt(&id, "bad successor"))?,
            grace_until: ts(&id, f.get("gu"), "gu")?,
        }),
        None => None,
    };
    Ok(Tombstone {
        id,
        user_id: user(&id, f.get("u"))?,
        reason,
        ended_at: ts(&id, f.get("ea"), "ea")?,
        successor,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_record_round_trips_and_its_size_matches_serde() {
        let mut data = Data::new();
        data.insert("a \"quoted\" / key".into(), json!({"x": [1, null, "é"]}));
        data.insert("n".into(), json!(-5));
        let r = SessionRecord {
            id: SessionId::of_token("t"),
            user_id: Some(UserId::new("alice").unwrap()),
            data: data.clone(),
            version: 3,
            created_at: Timestamp::from_millis(1),
            token_issued_at: Timestamp::from_millis(2),
            last_accessed: Timestamp::from_millis(3),
            idle_expires_at: Timestamp::from_millis(4),
            absolute_expires_at: Timestamp::from_millis(5),
            device: DeviceInfo::default().with_user_agent("ua"),
            dbsc: None,
        };
        let flat = encode(&r).unwrap();
        let mut pairs: Vec<(String, String)> = flat
            .chunks(2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect();
        let get = |n: &str| pairs.iter().find(|(k, _)| k == n).unwrap().1.clone();
        let (n, sz): (usize, usize) = (get("n").parse().unwrap(), get("sz").parse().unwrap());
        assert_eq!(2 + sz + n - 1, sesame::data::data_size(&data));
        pairs.push(("st".into(), "L".into()));
        assert_eq!(decode_live(r.id, &pairs).unwrap(), r);
    }
}
