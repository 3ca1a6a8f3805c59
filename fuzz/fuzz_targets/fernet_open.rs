//! Fernet open (`sesame::cookie`): `FernetKey::open`, `KeyRing::open`,
//! `open_session_cookie` and the operators' `debug_cookie`.
//!
//! Each input is used twice.
//!
//! As a token (when it is UTF-8), beyond "never panics":
//! - a token that opens is the canonical encoding of what it holds: sealing
//!   its plaintext again with its timestamp and IV gives the same bytes, and
//!   the text is that encoding with or without its padding (no other
//!   spelling is accepted);
//! - a two-key ring opens it exactly when one of its keys does;
//! - `debug_cookie` calls it valid exactly when the ring opens it;
//! - `open_session_cookie` accepts only a 43-character session token inside.
//!
//! As material for a seal: a timestamp, an IV and a plaintext from the input,
//! sealed with the primary key, must open to the same plaintext under the key
//! and the ring, must not open under another key, and must not open after
//! any one character of it is replaced. A session token sealed as a cookie
//! opens to itself, is `Expired` one second past its maximum age and is
//! refused when stamped over 60 s in the future.
#![no_main]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use sesame::cookie::{
    CookieError, FernetKey, KeyRing, debug_cookie, is_session_token, open_session_cookie,
    seal_session_token,
};

const NOW: u64 = 1_700_000_000;
const MAX_AGE: Duration = Duration::from_secs(3600);
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=";

fn primary() -> FernetKey {
    FernetKey::from_bytes([7; 32])
}

fn old() -> FernetKey {
    FernetKey::from_bytes([9; 32])
}

fn ring() -> KeyRing {
    KeyRing::new(primary()).with_old_key(old())
}

fn as_token(text: &str) {
    let ring = ring();
    let by_primary = primary().open(text, None, NOW);
    let by_old = old().open(text, None, NOW);
    let by_ring = ring.open(text, None, NOW);
    assert_eq!(by_ring.is_ok(), by_primary.is_ok() || by_old.is_ok());
    if let Ok(plain) = &by_ring {
        let key = if by_primary.is_ok() { primary() } else { old() };
        let raw = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .expect("an opened token is base64url");
        let timestamp = u64::from_be_bytes(raw[1..9].try_into().expect("8 bytes"));
        let iv: [u8; 16] = raw[9..25].try_into().expect("16 bytes");
        let canonical = key.seal_with_iv(plain, timestamp, &iv);
        assert!(
            text == canonical || text == canonical.trim_end_matches('='),
            "{text:?} opened but is not the canonical {canonical:?}"
        );
    }
    let report = debug_cookie(text, &ring, None, NOW);
    assert_eq!(report.valid, by_ring.is_ok(), "{report:?}");
    match open_session_cookie(&ring, Some(text), MAX_AGE, NOW) {
        Ok(token) => assert!(is_session_token(&token)),
        Err(CookieError::InvalidToken | CookieError::Expired) => {}
        Err(other) => panic!("open_session_cookie: {other:?}"),
    }
}

fn round_trip(data: &[u8]) {
    let (head, plain) = data.split_at(data.len().min(24));
    let mut material = [0u8; 24];
    material[..head.len()].copy_from_slice(head);
    // A timestamp near NOW (within a day either way), so the clock checks pass.
    let offset = u64::from(u16::from_be_bytes([material[0], material[1]]));
    let timestamp = NOW - 43_200 + offset;
    let iv: [u8; 16] = material[8..24].try_into().expect("16 bytes");
    let token = primary().seal_with_iv(plain, timestamp, &iv);
    let at = timestamp.max(NOW);
    assert_eq!(
        &primary().open(&token, None, at).expect("own token")[..],
        plain
    );
    assert_eq!(&ring().open(&token, None, at).expect("ring")[..], plain);
    assert!(old().open(&token, None, at).is_err());
    // Replace one character (position and replacement from the input).
    let bytes = token.as_bytes();
    let pos = usize::from(u16::from_be_bytes([material[2], material[3]])) % bytes.len();
    let mut replacement = ALPHABET[usize::from(material[4]) % ALPHABET.len()];
    if replacement == bytes[pos] {
        replacement = if replacement == b'A' { b'B' } else { b'A' };
    }
    let mut tampered = bytes.to_vec();
    tampered[pos] = replacement;
    let tampered = String::from_utf8(tampered).expect("ASCII");
    assert!(
        ring().open(&tampered, None, at).is_err(),
        "{tampered:?} (one character of {token:?} replaced) opened"
    );

    // A session token made of the input's bytes, sealed as a cookie.
    let mut secret = [0u8; 32];
    for (i, b) in data.iter().enumerate() {
        secret[i % 32] ^= b.rotate_left((i / 32) as u32);
    }
    let session_token = URL_SAFE_NO_PAD.encode(secret);
    let ring = ring();
    let cookie = seal_session_token(&ring, &session_token, timestamp).expect("seal");
    let opened = open_session_cookie(&ring, Some(&cookie), MAX_AGE, timestamp).expect("open");
    assert_eq!(opened.as_str(), session_token);
    let late = timestamp + MAX_AGE.as_secs() + 1;
    assert!(matches!(
        open_session_cookie(&ring, Some(&cookie), MAX_AGE, late),
        Err(CookieError::Expired)
    ));
    assert!(matches!(
        open_session_cookie(&ring, Some(&cookie), MAX_AGE, timestamp - 61),
        Err(CookieError::InvalidToken)
    ));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        as_token(text);
    }
    round_trip(data);
});
