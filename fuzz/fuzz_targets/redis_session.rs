//! The Redis store's decoding of a session: a reply as Redis sends it (RESP2
//! or RESP3 bytes, parsed by the `redis` crate as the client does), read
//! as `RedisStore::load` reads an `HGETALL` and the load script's answer.
//!
//! Input: RESP bytes.
//!
//! Properties, beyond "never panics":
//! - every failure is `Corrupt` or `Internal`, the store's errors for a
//!   reply it cannot use;
//! - a live session that decodes re-encodes, as the store writes it, to a
//!   hash that decodes to the same record (flat array and RESP3 map alike),
//!   and the entry count and size the encoding hands to the Lua scripts
//!   (`n`, `sz`) agree with the engine's `data_size`, which enforces the
//!   same limit;
//! - decoded records and tombstones carry the id asked for; only the
//!   script's `X` status says that the read ended the session.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis::Value;
use sesame::store::Lookup;
use sesame::{Error, SessionId, SessionRecord};
use sesame_redis::fuzzing::{decode_hgetall, decode_load_reply, encode_live};

fn check(id: SessionId, decoded: sesame::Result<Lookup>, script: bool) -> Option<SessionRecord> {
    match decoded {
        Ok(Lookup::Live(record)) => {
            assert_eq!(record.id, id);
            Some(record)
        }
        Ok(Lookup::Ended {
            tombstone,
            just_ended,
        }) => {
            assert_eq!(tombstone.id, id);
            assert!(script || !just_ended);
            None
        }
        Ok(Lookup::Missing) | Err(Error::Corrupt { .. } | Error::Internal(_)) => None,
        Err(other) => panic!("{other:?}"),
    }
}

fn bulk(s: String) -> Value {
    Value::BulkString(s.into_bytes())
}

fn round_trip(record: &SessionRecord) {
    let fields = encode_live(record).expect("a decoded record encodes");
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.parse::<usize>().expect("a count"))
            .expect("field present")
    };
    let (n, sz) = (get("n"), get("sz"));
    assert_eq!(n, record.data.len());
    assert_eq!(
        2 + sz + n.saturating_sub(1),
        sesame::data::data_size(&record.data),
        "the scripts' size of the data differs from the engine's"
    );
    let flat: Vec<Value> = fields
        .iter()
        .flat_map(|(k, v)| [bulk(k.clone()), bulk(v.clone())])
        .collect();
    let map: Vec<(Value, Value)> = fields
        .into_iter()
        .map(|(k, v)| (bulk(k), bulk(v)))
        .collect();
    for reply in [Value::Array(flat), Value::Map(map)] {
        match decode_hgetall(record.id, reply) {
            Ok(Lookup::Live(again)) => assert_eq!(&again, record),
            other => panic!("re-encoded record read back as {other:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(reply) = redis::parse_redis_value(data) else {
        return;
    };
    let id = SessionId::of_token("fuzz");
    if let Some(record) = check(id, decode_hgetall(id, reply.clone()), false) {
        round_trip(&record);
    }
    if let Some(record) = check(id, decode_load_reply(id, reply), true) {
        round_trip(&record);
    }
});
