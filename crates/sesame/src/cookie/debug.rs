//! Diagnostics for operators: why a cookie does not open, and what is inside it.
//!
//! Why a separate function: the codec deliberately answers every bad token with one error, which
//! is right for clients and useless for an operator looking at a support ticket.
//! [`debug_cookie`] gives the coarse reason (`malformed`, `bad_signature`, `expired`,
//! `from_the_future`), the contents when the MAC verified, the issue time and the time left.
//!
//! **Not for end users.** The report contains decrypted session contents and tells a forger how
//! far they got; expose it only in admin tooling (a CLI, an authenticated admin endpoint), never
//! in a response to the client that sent the cookie.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::KeyRing;
use super::fernet::{self, Failure};

/// The coarse reason a cookie did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    /// Not base64url, wrong version byte, too short, not whole AES blocks, or bad padding.
    Malformed,
    /// The MAC does not verify under any key of the ring: wrong key or tampered.
    BadSignature,
    /// Authentic, but older than the TTL.
    Expired,
    /// Authentic, but stamped more than 60 s in the future.
    FromTheFuture,
}

/// What a cookie held.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum CookieContents {
    /// The plaintext parsed as JSON (a stateless session).
    Json(Value),
    /// UTF-8 text that is not JSON (a session token).
    Text(String),
    /// Neither: the bytes in hex.
    Binary(String),
}

/// The result of [`debug_cookie`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CookieReport {
    /// Whether the cookie opens with the ring under the TTL at `now`.
    pub valid: bool,
    /// Why not, when not valid.
    pub reason: Option<InvalidReason>,
    /// Which key of the ring verified the MAC (0 = primary), when one did.
    pub key_index: Option<usize>,
    /// The authenticated Fernet timestamp (unix seconds), when the MAC verified.
    pub issued_at: Option<u64>,
    /// Seconds since `issued_at` (negative if stamped in the future).
    pub age_secs: Option<i64>,
    /// Seconds left before the TTL runs out (negative once expired), when a TTL was given.
    pub time_left_secs: Option<i64>,
    /// The decrypted contents, when valid or only expired / from the future.
    pub contents: Option<CookieContents>,
}

/// Reports on a cookie value: valid or not, why, what it holds. See the module docs: for
/// operators only.
pub fn debug_cookie(value: &str, keys: &KeyRing, ttl: Option<Duration>, now: u64) -> CookieReport {
    let mut report = CookieReport {
        valid: false,
        reason: None,
        key_index: None,
        issued_at: None,
        age_secs: None,
        time_left_secs: None,
        contents: None,
    };
    let raw = match fernet::decode(value) {
        Ok(raw) => raw,
        Err(failure) => {
            report.reason = Some(reason(failure));
            return report;
        }
    };
    let mut verified = match fernet::verify(raw, keys.keys()) {
        Ok(v) => v,
        Err(failure) => {
            report.reason = Some(reason(failure));
            return report;
        }
    };
    let ts = verified.timestamp;
    report.key_index = Some(verified.key_index);
    report.issued_at = Some(ts);
    report.age_secs = Some(signed_diff(now, ts));
    let ttl_secs = ttl.map(|d| d.as_secs());
    if let Some(ttl) = ttl_secs {
        report.time_left_secs = Some(signed_diff(ts.saturating_add(ttl), now));
    }
    let time = fernet::check_time(ts, ttl_secs, now);
    let Some(key) = keys.keys().get(verified.key_index) else {
        report.reason = Some(InvalidReason::BadSignature);
        return report;
    };
    match fernet::decrypt(&mut verified, key) {
        Ok(plain) => report.contents = Some(contents(plain)),
        Err(failure) => {
            report.reason = Some(reason(failure));
            return report;
        }
    }
    match time {
        Ok(()) => report.valid = true,
        Err(failure) => report.reason = Some(reason(failure)),
    }
    report
}

fn reason(failure: Failure) -> InvalidReason {
    match failure {
        Failure::Malformed => InvalidReason::Malformed,
        Failure::BadSignature => InvalidReason::BadSignature,
        Failure::Expired => InvalidReason::Expired,
        Failure::FromTheFuture => InvalidReason::FromTheFuture,
    }
}

fn signed_diff(a: u64, b: u64) -> i64 {
    let diff = i128::from(a) - i128::from(b);
    i64::try_from(diff).unwrap_or(if diff < 0 { i64::MIN } else { i64::MAX })
}

fn contents(plain: Vec<u8>) -> CookieContents {
    match String::from_utf8(plain) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(json) if json.is_object() || json.is_array() => CookieContents::Json(json),
            _ => CookieContents::Text(text),
        },
        Err(e) => CookieContents::Binary(hex::encode(e.as_bytes())),
    }
}
