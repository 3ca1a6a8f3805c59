//! The server-side session cookie: a session token (43 characters of base64url, 256 bits) inside
//! a Fernet token.
//!
//! Why wrap a random token that is already unguessable: the Fernet MAC lets the server reject a
//! forged or tampered cookie *before any store access* (these functions are pure), so guessing
//! and fuzzing attacks never reach Redis or SQL, and a rejected cookie is a clean security signal.
//! The Fernet timestamp bounds how long a stolen cookie value is worth anything, independently of
//! the store, and the encryption keeps the token (the store key's preimage) out of logs that
//! capture cookies.
//!
//! The three outcomes a caller must tell apart are typed:
//! - [`CookieError::NoCookie`]: no cookie at all (anonymous request);
//! - [`CookieError::InvalidToken`]: a cookie is present but not authentic (malformed, wrong key,
//!   tampered, or stamped in the future); count it as a security event;
//! - [`CookieError::Expired`]: authentic but older than the maximum age (a stale tab, not an
//!   attack). Only tokens whose MAC verified can be reported as expired, so this leaks nothing.

use std::time::Duration;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::fernet::Failure;
use super::{CookieError, KeyRing};

/// Length of a session token: 256 bits in base64url without padding.
pub const SESSION_TOKEN_LEN: usize = 43;

/// The largest cookie value these functions look at; anything longer is refused unparsed.
pub(crate) const MAX_VALUE_LEN: usize = super::policy::MAX_COOKIE_BYTES;

/// Whether `token` has the shape of a session token: 43 characters of base64url (no padding)
/// encoding exactly 32 bytes, in canonical form.
pub fn is_session_token(token: &str) -> bool {
    if token.len() != SESSION_TOKEN_LEN {
        return false;
    }
    let mut buf = Zeroizing::new([0u8; 33]);
    matches!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode_slice(token.as_bytes(), &mut buf[..]),
        Ok(32)
    )
}

/// Seals a session token into a cookie value (a Fernet token made with the ring's primary key,
/// stamped with `now`, unix seconds).
///
/// # Errors
/// [`CookieError::InvalidSessionToken`] if `token` is not a session token,
/// [`CookieError::Random`] if the OS generator fails.
pub fn seal_session_token(keys: &KeyRing, token: &str, now: u64) -> Result<String, CookieError> {
    if !is_session_token(token) {
        return Err(CookieError::InvalidSessionToken);
    }
    keys.seal(token.as_bytes(), now)
}

/// Opens a session cookie value (as found by [`crate::cookie::find_session_cookie`]) back into
/// the session token, refusing it when older than `max_age`.
///
/// Pure: no store is touched, so a forgery costs the server one HMAC.
///
/// # Errors
/// [`CookieError::NoCookie`] for `None`; [`CookieError::Expired`] for an authentic cookie older
/// than `max_age`; [`CookieError::InvalidToken`] for everything else.
pub fn open_session_cookie(
    keys: &KeyRing,
    cookie_value: Option<&str>,
    max_age: Duration,
    now: u64,
) -> Result<Zeroizing<String>, CookieError> {
    let value = cookie_value.ok_or(CookieError::NoCookie)?;
    if value.len() > MAX_VALUE_LEN {
        return Err(CookieError::InvalidToken);
    }
    let (plain, _, _) = keys
        .open_detailed(value, Some(max_age), now)
        .map_err(failure_to_error)?;
    let token = std::str::from_utf8(&plain).map_err(|_| CookieError::InvalidToken)?;
    if !is_session_token(token) {
        return Err(CookieError::InvalidToken);
    }
    Ok(Zeroizing::new(token.to_owned()))
}

/// Maps the internal reason to the external error: only an authentic but too old token is
/// distinguishable from a forgery.
pub(crate) fn failure_to_error(failure: Failure) -> CookieError {
    match failure {
        Failure::Expired => CookieError::Expired,
        Failure::Malformed | Failure::BadSignature | Failure::FromTheFuture => {
            CookieError::InvalidToken
        }
    }
}
