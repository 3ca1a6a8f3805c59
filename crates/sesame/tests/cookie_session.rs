//! The server-side session cookie: a session token sealed in a Fernet token.

use std::time::Duration;

use base64::Engine as _;
use sesame::cookie::{
    CookieError, FernetKey, KeyRing, find_session_cookie, is_session_token, open_session_cookie,
    seal_session_token,
};

const HOUR: Duration = Duration::from_secs(3600);
const NOW: u64 = 1_700_000_000;

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn ring() -> KeyRing {
    KeyRing::new(FernetKey::generate().unwrap())
}

#[test]
fn a_sealed_token_opens_back() {
    let keys = ring();
    let token = new_token();
    let value = seal_session_token(&keys, &token, NOW).unwrap();
    assert!(value.starts_with("gAAAAA"));
    let opened = open_session_cookie(&keys, Some(&value), HOUR, NOW + 60).unwrap();
    assert_eq!(opened.as_str(), token);
}

#[test]
fn only_session_tokens_are_sealed() {
    let keys = ring();
    let good = new_token();
    assert!(is_session_token(&good));
    for bad in [
        "",
        "abc",
        &good[..42],
        &format!("{good}A"),
        &format!("{}=", &good[..42]),
        &good.replace(&good[..1], "+"),
    ] {
        assert!(!is_session_token(bad), "{bad:?}");
        assert_eq!(
            seal_session_token(&keys, bad, NOW),
            Err(CookieError::InvalidSessionToken)
        );
    }
    // Non-canonical: the last character of 43 carries 4 bits; `B` sets a padding bit.
    let non_canonical = format!("{}B", &"A".repeat(42));
    assert!(!is_session_token(&non_canonical));
}

#[test]
fn no_cookie_and_a_forged_cookie_are_different_errors() {
    let keys = ring();
    assert_eq!(
        open_session_cookie(&keys, None, HOUR, NOW),
        Err(CookieError::NoCookie)
    );
    for forged in ["", "x", "gAAAAA", &"A".repeat(5000), "gAAAAABl_____"] {
        assert_eq!(
            open_session_cookie(&keys, Some(forged), HOUR, NOW),
            Err(CookieError::InvalidToken),
            "{forged:?}"
        );
    }
}

#[test]
fn a_cookie_from_another_key_or_tampered_is_invalid() {
    let keys = ring();
    let value = seal_session_token(&keys, &new_token(), NOW).unwrap();
    let other = ring();
    assert_eq!(
        open_session_cookie(&other, Some(&value), HOUR, NOW),
        Err(CookieError::InvalidToken)
    );
    // Flip every bit of the decoded token in turn: none may open.
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(&value)
        .unwrap();
    for i in 0..raw.len() * 8 {
        let mut t = raw.clone();
        t[i / 8] ^= 1 << (i % 8);
        let forged = base64::engine::general_purpose::URL_SAFE.encode(&t);
        let got = open_session_cookie(&keys, Some(&forged), HOUR, NOW);
        assert_eq!(got, Err(CookieError::InvalidToken), "bit {i}");
    }
}

#[test]
fn a_fernet_token_that_is_not_a_session_token_is_invalid() {
    let keys = ring();
    let value = keys.seal(b"not a session token", NOW).unwrap();
    assert_eq!(
        open_session_cookie(&keys, Some(&value), HOUR, NOW),
        Err(CookieError::InvalidToken)
    );
}

#[test]
fn max_age_is_checked_and_expired_is_told_apart() {
    let keys = ring();
    let value = seal_session_token(&keys, &new_token(), NOW).unwrap();
    assert!(open_session_cookie(&keys, Some(&value), HOUR, NOW + 3600).is_ok());
    assert_eq!(
        open_session_cookie(&keys, Some(&value), HOUR, NOW + 3601),
        Err(CookieError::Expired)
    );
    // Stamped more than 60 s in the future: not something we issued under this clock.
    assert!(open_session_cookie(&keys, Some(&value), HOUR, NOW - 60).is_ok());
    assert_eq!(
        open_session_cookie(&keys, Some(&value), HOUR, NOW - 61),
        Err(CookieError::InvalidToken)
    );
}

#[test]
fn cookies_sealed_with_an_old_key_still_open_during_rotation() {
    let old = FernetKey::generate().unwrap();
    let value = seal_session_token(&KeyRing::new(old.clone()), &new_token(), NOW).unwrap();
    let rotated_ring = KeyRing::new(FernetKey::generate().unwrap()).with_old_key(old);
    assert!(open_session_cookie(&rotated_ring, Some(&value), HOUR, NOW).is_ok());
}

#[test]
fn end_to_end_from_the_cookie_header() {
    let keys = ring();
    let token = new_token();
    let value = seal_session_token(&keys, &token, NOW).unwrap();
    let headers = [
        "theme=dark".to_owned(),
        format!("__Host-sesame={value}; lang=en"),
    ];
    let found = find_session_cookie(
        headers.iter().map(String::as_str).collect::<Vec<_>>(),
        "__Host-sesame",
    )
    .unwrap();
    let opened = open_session_cookie(&keys, found, HOUR, NOW).unwrap();
    assert_eq!(opened.as_str(), token);

    let none = find_session_cookie(["theme=dark"], "__Host-sesame").unwrap();
    assert_eq!(
        open_session_cookie(&keys, none, HOUR, NOW),
        Err(CookieError::NoCookie)
    );
}
