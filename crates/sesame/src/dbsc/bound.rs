//! The bound cookie: the short-lived credential only the key's holder can
//! renew.
//!
//! Its value is a Fernet token (sealed with the cookie key ring) of a
//! purpose tag and the DBSC session identifier; Fernet's authenticated
//! timestamp is its issue time. A request is checked without a store round
//! trip: one MAC, one decryption, one comparison with the identifier in the
//! session the request already loaded (~0.5 µs, docs/BENCHMARKS.md). The
//! cookie names the DBSC session, not the session token, so it survives the
//! token's renewals and rotations (which carry the registration along).
//!
//! The cookie's `Max-Age` is its lifetime, so the browser drops it then and
//! refreshes; the server refuses an older value whatever the browser does, so
//! a copy taken by malware dies at the same instant.

use std::time::Duration;

use super::challenge::same;
use super::error::Refusal;
use crate::clock::Timestamp;
use crate::cookie::KeyRing;
use crate::cookie::fernet::Failure;

const BOUND_TAG: &str = "sesame.dbsc.bound.1\n";

/// Seals a bound cookie value for the DBSC session `identifier`, issued `now`.
///
/// # Errors
/// `Cookie(Random)` if the OS generator fails.
pub fn seal(keys: &KeyRing, identifier: &str, now: Timestamp) -> crate::Result<String> {
    let mut plain = String::with_capacity(BOUND_TAG.len() + identifier.len());
    plain.push_str(BOUND_TAG);
    plain.push_str(identifier);
    keys.seal(plain.as_bytes(), now.as_secs())
        .map_err(crate::Error::Cookie)
}

/// Checks a bound cookie value against the session's DBSC identifier.
///
/// # Errors
/// [`Refusal::BoundCookieExpired`] for an authentic value older than
/// `lifetime`; [`Refusal::BoundCookieInvalid`] for anything else that is not
/// this DBSC session's bound cookie (forged, tampered, another session's).
pub fn check(
    keys: &KeyRing,
    value: &str,
    identifier: &str,
    lifetime: Duration,
    now: Timestamp,
) -> Result<(), Refusal> {
    if value.len() > 512 {
        return Err(Refusal::BoundCookieInvalid);
    }
    let (plain, _, _) = keys
        .open_detailed(value, Some(lifetime), now.as_secs())
        .map_err(|f| match f {
            Failure::Expired => Refusal::BoundCookieExpired,
            _ => Refusal::BoundCookieInvalid,
        })?;
    let named = plain
        .strip_prefix(BOUND_TAG.as_bytes())
        .and_then(|id| std::str::from_utf8(id).ok())
        .ok_or(Refusal::BoundCookieInvalid)?;
    if same(named, identifier) {
        Ok(())
    } else {
        Err(Refusal::BoundCookieInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie::FernetKey;

    #[test]
    fn a_bound_cookie_is_checked_against_identifier_time_and_keys() {
        let keys = KeyRing::new(FernetKey::generate().unwrap());
        let now = Timestamp::from_millis(1_700_000_000_000);
        let life = Duration::from_secs(600);
        let v = seal(&keys, "ident", now).unwrap();
        assert_eq!(check(&keys, &v, "ident", life, now), Ok(()));
        assert_eq!(
            check(&keys, &v, "ident", life, now.plus(Duration::from_secs(600))),
            Ok(())
        );
        assert_eq!(
            check(&keys, &v, "ident", life, now.plus(Duration::from_secs(601))),
            Err(Refusal::BoundCookieExpired)
        );
        assert_eq!(
            check(&keys, &v, "other", life, now),
            Err(Refusal::BoundCookieInvalid)
        );
        // Tampered: every single-character change is refused.
        for i in 0..v.len() {
            let mut bytes = v.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != v {
                assert!(check(&keys, &tampered, "ident", life, now).is_err(), "{i}");
            }
        }
        let other = KeyRing::new(FernetKey::generate().unwrap());
        assert_eq!(
            check(&other, &v, "ident", life, now),
            Err(Refusal::BoundCookieInvalid)
        );
        // A session cookie (a bare token) under the same keys is not a bound cookie.
        let token = keys.seal(b"ident", now.as_secs()).unwrap();
        assert_eq!(
            check(&keys, &token, "ident", life, now),
            Err(Refusal::BoundCookieInvalid)
        );
    }
}
