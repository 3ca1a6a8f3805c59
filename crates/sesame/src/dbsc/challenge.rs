//! Challenges: what the browser signs, so that a proof cannot be replayed.
//!
//! Two kinds, for two moments:
//!
//! - **Registration tickets** go out in the `Secure-Session-Registration`
//!   header of a login response. A ticket is stateless: a Fernet token
//!   (sealed with the cookie key ring, so the browser cannot forge one) that
//!   names the session it was issued for, carries the `authorization` sent
//!   beside it, and expires with the policy's challenge lifetime (Fernet's
//!   authenticated timestamp). Nothing is written at login for it. It is
//!   single-use because a registration is: it binds the session with a
//!   compare-and-set from "no key" to "this key", which succeeds once.
//! - **Refresh challenges** go out with a 403 to a refresh request. Each is
//!   256 random bits; the session's [`DbscState`](super::DbscState) keeps its
//!   SHA-256 and expiry, and answering one removes it by compare-and-set, so
//!   of two answers (two processes, a replay) exactly one is accepted.
//!
//! The sealed plaintexts start with a purpose tag, so a ticket is never
//! mistaken for a bound cookie or a session cookie under the same keys (a
//! session cookie's plaintext is exactly a 43-character token).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::Refusal;
use crate::clock::Timestamp;
use crate::cookie::KeyRing;
use crate::cookie::fernet::Failure;
use crate::token::SessionId;

const TICKET_TAG: &str = "sesame.dbsc.registration.1\n";

/// The longest `authorization` a ticket carries.
pub const MAX_AUTHORIZATION_BYTES: usize = 512;

/// 256 random bits, base64url (43 characters).
pub(crate) fn random_challenge() -> crate::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| crate::Error::Internal("the OS random number generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// 128 random bits, base64url (22 characters): a DBSC session identifier.
pub(crate) fn random_identifier() -> crate::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|_| crate::Error::Internal("the OS random number generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The hash a session keeps of a refresh challenge (hex SHA-256).
pub(crate) fn challenge_hash(challenge: &str) -> String {
    hex::encode(Sha256::digest(challenge.as_bytes()))
}

/// Constant-time equality of two strings.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Seals a registration ticket for `session`.
///
/// # Errors
/// `Internal` if the OS generator fails.
pub(crate) fn seal_ticket(
    keys: &KeyRing,
    session: &SessionId,
    authorization: Option<&str>,
    now: Timestamp,
) -> crate::Result<String> {
    let mut plain = String::with_capacity(128);
    plain.push_str(TICKET_TAG);
    plain.push_str(&session.to_hex());
    if let Some(a) = authorization {
        plain.push('\n');
        plain.push_str(a);
    }
    keys.seal(plain.as_bytes(), now.as_secs())
        .map_err(crate::Error::Cookie)
}

/// Opens a registration ticket and checks it was issued for `session` with
/// `authorization` (`None`: none was sent, and none may come back).
///
/// # Errors
/// [`Refusal::ExpiredChallenge`] for an authentic ticket past `lifetime`;
/// [`Refusal::UnknownChallenge`] for anything not a ticket of this session
/// (forged, another session's, a bound cookie); [`Refusal::WrongAuthorization`]
/// when the authorization differs.
pub(crate) fn check_ticket(
    keys: &KeyRing,
    ticket: &str,
    session: &SessionId,
    authorization: Option<&str>,
    lifetime: Duration,
    now: Timestamp,
) -> Result<(), Refusal> {
    if ticket.len() > 1024 {
        return Err(Refusal::UnknownChallenge);
    }
    let (plain, _, _) = keys
        .open_detailed(ticket, Some(lifetime), now.as_secs())
        .map_err(|f| match f {
            Failure::Expired => Refusal::ExpiredChallenge,
            _ => Refusal::UnknownChallenge,
        })?;
    let text = std::str::from_utf8(&plain).map_err(|_| Refusal::UnknownChallenge)?;
    let rest = text
        .strip_prefix(TICKET_TAG)
        .ok_or(Refusal::UnknownChallenge)?;
    let (sid, sent) = match rest.split_once('\n') {
        Some((sid, a)) => (sid, Some(a)),
        None => (rest, None),
    };
    if !same(sid, &session.to_hex()) {
        return Err(Refusal::UnknownChallenge);
    }
    match (sent, authorization) {
        (None, None) => Ok(()),
        (Some(a), Some(b)) if same(a, b) => Ok(()),
        _ => Err(Refusal::WrongAuthorization),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie::FernetKey;

    #[test]
    fn a_ticket_names_its_session_authorization_and_time() {
        let keys = KeyRing::new(FernetKey::generate().unwrap());
        let s1 = SessionId::of_token("one");
        let s2 = SessionId::of_token("two");
        let now = Timestamp::from_millis(1_700_000_000_000);
        let life = Duration::from_secs(300);
        let t = seal_ticket(&keys, &s1, Some("auth"), now).unwrap();
        assert_eq!(
            check_ticket(&keys, &t, &s1, Some("auth"), life, now),
            Ok(())
        );
        assert_eq!(
            check_ticket(&keys, &t, &s2, Some("auth"), life, now),
            Err(Refusal::UnknownChallenge)
        );
        for wrong in [None, Some("auth2"), Some("")] {
            assert_eq!(
                check_ticket(&keys, &t, &s1, wrong, life, now),
                Err(Refusal::WrongAuthorization)
            );
        }
        let later = now.plus(Duration::from_secs(302));
        assert_eq!(
            check_ticket(&keys, &t, &s1, Some("auth"), life, later),
            Err(Refusal::ExpiredChallenge)
        );
        let other_keys = KeyRing::new(FernetKey::generate().unwrap());
        assert_eq!(
            check_ticket(&other_keys, &t, &s1, Some("auth"), life, now),
            Err(Refusal::UnknownChallenge)
        );
        let bare = seal_ticket(&keys, &s1, None, now).unwrap();
        assert_eq!(check_ticket(&keys, &bare, &s1, None, life, now), Ok(()));
        assert_eq!(
            check_ticket(&keys, &bare, &s1, Some("x"), life, now),
            Err(Refusal::WrongAuthorization)
        );
        // Another purpose sealed with the same keys is not a ticket.
        let token = keys
            .seal(b"sesame.dbsc.bound.1\nabc", now.as_secs())
            .unwrap();
        assert_eq!(
            check_ticket(&keys, &token, &s1, None, life, now),
            Err(Refusal::UnknownChallenge)
        );
    }

    #[test]
    fn random_values_have_their_shapes() {
        let c = random_challenge().unwrap();
        assert_eq!(c.len(), 43);
        assert_ne!(c, random_challenge().unwrap());
        assert_eq!(random_identifier().unwrap().len(), 22);
        assert_eq!(challenge_hash("x").len(), 64);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
