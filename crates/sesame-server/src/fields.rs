//! Request fields read the way the OpenAPI document describes them, so that
//! what the document calls valid is accepted and nothing else is (API
//! fuzzing checks both: `scripts/api-fuzz.sh`).
//!
//! serde alone is looser and stricter in turn: it reads a struct from a JSON
//! array as well as from an object, and refuses `2.0` for an integer that
//! JSON Schema accepts; axum's `Path` answers a segment that is not UTF-8
//! with a plain-text 400 rather than the API's JSON error.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, Path};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use serde::Deserialize;
use sesame::{DeviceInfo, SessionId};

use crate::api::Shared;
use crate::error::{ApiError, ErrorCode};

/// The `{user}` path segment, percent-decoded. A segment that does not
/// decode to UTF-8 is 400 `invalid_user_id` in the API's error shape (axum's
/// own `Path` rejection is plain text).
pub struct UserParam(pub String);

impl FromRequestParts<Shared> for UserParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let Path(user) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::bad_request(ErrorCode::InvalidUserId, "the user id is not UTF-8 text")
            })?;
        Ok(UserParam(user))
    }
}

/// The `{id}` path segment: a session id, 64 hex characters, else 400
/// `invalid_session_id` (also when it does not decode to UTF-8).
pub struct SessionIdParam(pub SessionId);

impl FromRequestParts<Shared> for SessionIdParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(text)) => session_id(&text).map(SessionIdParam),
            Err(_) => Err(invalid_session_id()),
        }
    }
}

fn invalid_session_id() -> ApiError {
    ApiError::bad_request(
        ErrorCode::InvalidSessionId,
        "a session id is 64 hex characters",
    )
}

/// Parses a session id (64 hex characters), else 400 `invalid_session_id`.
pub fn session_id(text: &str) -> Result<SessionId, ApiError> {
    SessionId::from_hex(text).map_err(|_| invalid_session_id())
}

/// The header in which an app names its end user's IP address (DECISIONS
/// D1): `Sesame-Device-Ip: 203.0.113.7`.
pub const DEVICE_IP_HEADER: &str = "sesame-device-ip";

/// The address in a `Sesame-Device-Ip` value (IPv4 or IPv6, surrounding
/// spaces allowed), or `None` when it is not one.
pub fn parse_device_ip(value: &HeaderValue) -> Option<IpAddr> {
    value.to_str().ok()?.trim().parse().ok()
}

/// Reads `device` only from a JSON object: serde would read a struct from
/// an array too (`[ua, ip, hints]`), which the API does not accept.
/// (Straight from the parser: no intermediate `serde_json::Value` on the
/// validate path.)
pub fn device_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DeviceInfo, D::Error> {
    struct ObjectOnly;
    impl<'de> serde::de::Visitor<'de> for ObjectOnly {
        type Value = DeviceInfo;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<DeviceInfo, A::Error> {
            DeviceInfo::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(ObjectOnly)
}

/// A JSON number with no fractional part, as JSON Schema's `integer` counts
/// them (`3` and `3.0` alike), else `None`.
fn whole_number(n: &serde_json::Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    let f = n.as_f64()?;
    // Below 2^64 in magnitude the cast is exact; the callers check the range.
    (f.fract() == 0.0 && f.abs() < 18_446_744_073_709_551_616.0).then_some(f as i128)
}

/// An `i64` field that also takes `3.0` (the document says `integer`).
pub fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    whole_number(&n)
        .and_then(|i| i64::try_from(i).ok())
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a 64-bit integer")))
}

/// An optional `u64` field that also takes `3.0`.
pub fn optional_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    whole_number(&n)
        .and_then(|i| u64::try_from(i).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not an unsigned 64-bit integer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Fields {
        #[serde(default, deserialize_with = "integer")]
        by: i64,
        #[serde(default, deserialize_with = "optional_count")]
        version: Option<u64>,
    }

    fn read(json: &str) -> Result<Fields, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn integers_are_json_schema_integers() {
        for (json, by) in [
            (r#"{"by": 3}"#, 3),
            (r#"{"by": 3.0}"#, 3),
            (r#"{"by": -3e2}"#, -300),
            (r#"{"by": -9223372036854775808}"#, i64::MIN),
            (r#"{"by": 9223372036854775807}"#, i64::MAX),
        ] {
            assert_eq!(read(json).unwrap().by, by, "{json}");
        }
        for json in [
            r#"{"by": 2.5}"#,
            r#"{"by": 9223372036854775808}"#,
            r#"{"by": 1e19}"#,
            r#"{"by": "3"}"#,
            r#"{"by": null}"#,
        ] {
            assert!(read(json).is_err(), "{json}");
        }
        assert_eq!(read(r#"{"version": null}"#).unwrap().version, None);
        assert_eq!(read(r#"{"version": 7.0}"#).unwrap().version, Some(7));
        assert_eq!(
            read(r#"{"version": 18446744073709551615}"#)
                .unwrap()
                .version,
            Some(u64::MAX)
        );
        for json in [
            r#"{"version": -1}"#,
            r#"{"version": 0.5}"#,
            r#"{"version": 18446744073709551616}"#,
            r#"{"version": 1e30}"#,
        ] {
            assert!(read(json).is_err(), "{json}");
        }
    }

    #[test]
    fn device_ip_header_values() {
        let ip = |v: &'static str| parse_device_ip(&HeaderValue::from_static(v));
        assert_eq!(ip("203.0.113.7"), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(ip(" 2001:db8::1 "), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(
            ip("::ffff:10.0.0.1"),
            Some("::ffff:10.0.0.1".parse().unwrap())
        );
        for bad in [
            "",
            "10.0.0",
            "10.0.0.1:80",
            "[::1]",
            "localhost",
            "10.0.0.1, 10.0.0.2",
        ] {
            assert_eq!(ip(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_device_ip(&HeaderValue::from_bytes(b"10.0.0.\xff").unwrap()),
            None
        );
    }

    #[test]
    fn device_is_an_object_only() {
        #[derive(Debug, Deserialize)]
        struct Body {
            #[serde(deserialize_with = "device_object")]
            device: DeviceInfo,
        }
        let body: Body =
            serde_json::from_str(r#"{"device": {"user_agent": "ua", "ip": null}}"#).unwrap();
        assert_eq!(body.device.user_agent.as_deref(), Some("ua"));
        let full: Body = serde_json::from_str(
            r#"{"device": {"ip": "10.0.0.1", "hints": {"screen": "1x1"}, "other": 1}}"#,
        )
        .unwrap();
        assert_eq!(full.device.ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(full.device.hints["screen"], "1x1");
        assert!(serde_json::from_str::<Body>(r#"{"device": "ua"}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"device": {"hints": ["x"]}}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"device": ["ua"]}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"device": {"ip": ""}}"#).is_err());
    }
}
