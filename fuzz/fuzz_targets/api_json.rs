//! The JSON bodies of `sesame serve`'s API, read by the server's own
//! `parse_json_body` (what its `JsonBody` extractor runs) into the server's
//! request types: create, validate, patch, increment, rotate, revoke and
//! cookie decode.
//!
//! Input: the first byte picks the request type; the rest is the body.
//!
//! Properties, beyond "never panics":
//! - a body that is refused is a 400 `invalid_json`, never another answer;
//! - a body that is accepted is empty (reads as `{}`) or one JSON object,
//!   names only the type's fields, and every field read is what the object
//!   holds (the same user, data, key, cookie; `by` and `expected_version`
//!   the same whole number; `by` 1 when absent);
//! - a device read from a body re-serialises to JSON that reads back to an
//!   equal device; data re-serialises to the same JSON value;
//! - a patch body turns into an engine `Patch` with one change per key,
//!   removals winning over sets of the same key, as the server builds it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sesame::{Data, DeviceInfo, Patch, PatchOp};
use sesame_server::api::{
    CreateRequest, DecodeRequest, IncrementRequest, PatchRequest, RevokeRequest, RotateRequest,
    ValidateRequest, parse_json_body,
};

/// The body as a JSON object, the way the server reads it: blank is `{}`.
fn object(body: &[u8]) -> Map<String, Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Map::new();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        other => panic!("accepted a body that is not one JSON object: {other:?}"),
    }
}

/// Reads the body as type `T`; on success, returns it with the body's object,
/// checked to name only `fields`.
fn read<T: DeserializeOwned>(body: &[u8], fields: &[&str]) -> Option<(T, Map<String, Value>)> {
    match parse_json_body::<T>(body) {
        Ok(req) => {
            let map = object(body);
            for key in map.keys() {
                assert!(
                    fields.contains(&key.as_str()),
                    "unknown field {key:?} accepted"
                );
            }
            Some((req, map))
        }
        Err(e) => {
            assert_eq!(
                (e.status().as_u16(), e.code().as_str()),
                (400, "invalid_json")
            );
            None
        }
    }
}

fn string_field(map: &Map<String, Value>, name: &str) -> Option<String> {
    match map.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => panic!("{name} accepted as {other:?}"),
    }
}

fn check_data(data: &Data, map: &Map<String, Value>, name: &str) {
    match map.get(name) {
        None => assert!(data.is_empty()),
        Some(Value::Object(expected)) => assert_eq!(data, expected),
        Some(other) => panic!("{name} accepted as {other:?}"),
    }
    let again: Data = serde_json::from_str(&serde_json::to_string(data).expect("data serializes"))
        .expect("serialized data reads back");
    assert_eq!(&again, data);
}

fn check_device(device: &DeviceInfo, map: &Map<String, Value>) {
    match map.get("device") {
        None => assert!(device.is_empty()),
        Some(Value::Object(fields)) => {
            assert_eq!(device.user_agent, string_field(fields, "user_agent"));
            assert_eq!(
                device.ip.is_some(),
                !matches!(fields.get("ip"), None | Some(Value::Null))
            );
            for (name, value) in &device.hints {
                assert_eq!(fields["hints"][name].as_str(), Some(value.as_str()));
            }
        }
        Some(other) => panic!("device accepted as {other:?}"),
    }
    let json = serde_json::to_vec(device).expect("a device serializes");
    let again: DeviceInfo = serde_json::from_slice(&json).expect("a serialized device reads back");
    assert_eq!(&again, device);
}

/// A JSON number that is the whole number `n` (`3` and `3.0` alike).
fn same_number(value: &Value, n: i128) -> bool {
    match value {
        Value::Number(num) => {
            num.as_i64().map(i128::from) == Some(n)
                || num.as_u64().map(i128::from) == Some(n)
                || num.as_f64() == Some(n as f64)
        }
        _ => false,
    }
}

fn check_patch(req: &PatchRequest) {
    // As the server builds it: sets first, then removals.
    let mut patch = Patch::new();
    for (key, value) in &req.set {
        if patch
            .push(key.clone(), PatchOp::Set(value.clone()))
            .is_err()
        {
            return;
        }
    }
    for key in &req.remove {
        if patch.push(key.clone(), PatchOp::Remove).is_err() {
            return;
        }
    }
    let ops = patch.ops();
    for (i, (key, op)) in ops.iter().enumerate() {
        assert!(
            ops[..i].iter().all(|(k, _)| k != key),
            "two changes to {key:?}"
        );
        if req.remove.contains(key) {
            assert_eq!(op, &PatchOp::Remove);
        } else {
            assert_eq!(
                Some(op),
                req.set.get(key).cloned().map(PatchOp::Set).as_ref()
            );
        }
    }
    assert_eq!(ops.len(), {
        let mut keys: Vec<&String> = req.set.keys().chain(&req.remove).collect();
        keys.sort();
        keys.dedup();
        keys.len()
    });
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 7 {
        0 => {
            if let Some((req, map)) = read::<CreateRequest>(body, &["user", "data", "device"]) {
                assert_eq!(req.user, string_field(&map, "user"));
                check_data(&req.data, &map, "data");
                check_device(&req.device, &map);
            }
        }
        1 => {
            if let Some((req, map)) = read::<ValidateRequest>(body, &["device"]) {
                check_device(&req.device, &map);
            }
        }
        2 => {
            let fields = ["set", "remove", "expected_version"];
            if let Some((req, map)) = read::<PatchRequest>(body, &fields) {
                check_data(&req.set, &map, "set");
                let remove: Vec<String> = match map.get("remove") {
                    None => Vec::new(),
                    Some(v) => serde_json::from_value(v.clone()).expect("remove is a list"),
                };
                assert_eq!(req.remove, remove);
                match (req.expected_version, map.get("expected_version")) {
                    (None, None | Some(Value::Null)) => {}
                    (Some(v), Some(json)) => {
                        assert!(same_number(json, v.into()), "{json} read as {v}")
                    }
                    (got, json) => panic!("expected_version {got:?} from {json:?}"),
                }
                check_patch(&req);
            }
        }
        3 => {
            if let Some((req, map)) = read::<IncrementRequest>(body, &["key", "by"]) {
                assert_eq!(Some(req.key), string_field(&map, "key"));
                match map.get("by") {
                    None => assert_eq!(req.by, 1),
                    Some(json) => assert!(
                        same_number(json, req.by.into()),
                        "{json} read as {}",
                        req.by
                    ),
                }
            }
        }
        4 => {
            if let Some((req, map)) = read::<RotateRequest>(body, &["user"]) {
                assert_eq!(req.user, string_field(&map, "user"));
            }
        }
        5 => {
            if let Some((req, map)) = read::<RevokeRequest>(body, &["except_id", "except_token"]) {
                assert_eq!(req.except_id, string_field(&map, "except_id"));
                assert_eq!(req.except_token, string_field(&map, "except_token"));
            }
        }
        _ => {
            if let Some((req, map)) = read::<DecodeRequest>(body, &["cookie"]) {
                assert_eq!(Some(req.cookie), string_field(&map, "cookie"));
            }
        }
    }
});
