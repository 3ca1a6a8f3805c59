//! Session token parsing (`SessionToken::parse`) and session ids
//! (`SessionId::from_hex`), the first checks every credential meets.
//!
//! Properties, beyond "never panics":
//! - a parse never accepts a malformed token: what parses is 43 characters
//!   of base64url that decode to 32 bytes which encode back to the very same
//!   text (one spelling per token), and `is_session_token` (the cookie
//!   layer's check, written separately) agrees with `parse` on every input;
//! - a parsed token exposes its text unchanged and its id is the SHA-256 of
//!   that text;
//! - 32 bytes from the input, encoded, always parse; changing any one
//!   character of them to another base64url character never names the same
//!   token;
//! - a session id parses from hex exactly when it is 64 hex digits (either
//!   case), and prints back as the lower-case text.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use sesame::cookie::is_session_token;
use sesame::token::TOKEN_LEN;
use sesame::{SessionId, SessionToken};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn parses(text: &str) -> Option<SessionToken> {
    let parsed = SessionToken::parse(text);
    assert_eq!(parsed.is_ok(), is_session_token(text), "{text:?}");
    let token = parsed.ok()?;
    assert_eq!(token.expose(), text);
    assert_eq!(text.len(), TOKEN_LEN);
    let bytes = URL_SAFE_NO_PAD.decode(text).expect("a token is base64url");
    assert_eq!(bytes.len(), 32);
    assert_eq!(URL_SAFE_NO_PAD.encode(&bytes), text);
    assert_eq!(token.id(), SessionId::of_token(text));
    Some(token)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        parses(text);
        let id = SessionId::from_hex(text);
        let is_hex = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
        assert_eq!(id.is_ok(), is_hex, "{text:?}");
        if let Ok(id) = id {
            assert_eq!(id.to_hex(), text.to_ascii_lowercase());
            assert_eq!(SessionId::from_hex(&id.to_hex()).ok(), Some(id));
        }
    }

    let mut secret = [0u8; 32];
    let n = data.len().min(32);
    secret[..n].copy_from_slice(&data[..n]);
    let text = URL_SAFE_NO_PAD.encode(secret);
    let token = parses(&text).expect("an encoded 32-byte secret parses");
    let pick = data
        .get(32..34)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let pos = pick % TOKEN_LEN;
    let mut changed = text.clone().into_bytes();
    let mut replacement = ALPHABET[(pick / TOKEN_LEN) % ALPHABET.len()];
    if replacement == changed[pos] {
        replacement = if replacement == b'A' { b'B' } else { b'A' };
    }
    changed[pos] = replacement;
    let changed = String::from_utf8(changed).expect("ASCII");
    if let Some(other) = parses(&changed) {
        assert_ne!(other, token);
        assert_ne!(other.id(), token.id());
    }
});
