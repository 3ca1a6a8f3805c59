//! Session tokens and the identifiers stores key on.
//!
//! A [`SessionToken`] is the secret a client holds: 256 bits from the operating
//! system's CSPRNG, written as 43 characters of unpadded base64url. Anything
//! else is rejected by [`SessionToken::parse`] before a store is asked.
//!
//! Stores never see the token. They key on its SHA-256, the [`SessionId`]: a
//! dump of a store therefore holds no usable credential, and the id can be shown
//! to the session's owner (to pick a session to end) without handing out the
//! session itself. Logs and `Debug` output show only a short prefix of the id.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// Length of a session token in characters (256 bits as unpadded base64url).
pub const TOKEN_LEN: usize = 43;
const TOKEN_BYTES: usize = 32;

/// The secret a client presents to resume its session.
///
/// Zeroized on drop, compared in constant time, never printed by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionToken {
    text: String,
}

impl SessionToken {
    /// Draws a fresh token from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Internal(format!("the OS random number generator failed: {e}")))?;
        let text = URL_SAFE_NO_PAD.encode(bytes);
        bytes.zeroize();
        Ok(Self { text })
    }

    /// Accepts exactly 43 characters of unpadded base64url that decode to 32
    /// bytes in canonical form; anything else is [`Error::InvalidToken`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        if !is_well_formed(text) {
            return Err(Error::InvalidToken);
        }
        Ok(Self {
            text: text.to_owned(),
        })
    }

    /// The token as sent to the client.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The identifier stores key on: SHA-256 of the token.
    pub fn id(&self) -> SessionId {
        SessionId::of_token(&self.text)
    }
}

impl PartialEq for SessionToken {
    fn eq(&self, other: &Self) -> bool {
        self.text.as_bytes().ct_eq(other.text.as_bytes()).into()
    }
}

impl Eq for SessionToken {}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionToken({})", self.id().short())
    }
}

fn is_well_formed(text: &str) -> bool {
    if text.len() != TOKEN_LEN
        || !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return false;
    }
    // 43 characters carry 258 bits; the last character must leave the two
    // spare bits zero, or two spellings would name one token.
    let mut buf = [0u8; TOKEN_BYTES];
    matches!(
        URL_SAFE_NO_PAD.decode_slice(text, &mut buf),
        Ok(TOKEN_BYTES)
    )
}

/// SHA-256 of a session token: the key a session is stored under.
///
/// Its full form ([`SessionId::to_hex`]) is what a user's session list shows and
/// what "end this session" takes; `Display` and `Debug` show a short prefix fit
/// for logs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionId([u8; 32]);

impl std::hash::Hash for SessionId {
    /// Feeds the first 8 bytes: the id is already a uniform hash, and ids are
    /// hashes of CSPRNG output that no client can choose.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut head = [0u8; 8];
        head.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(head));
    }
}

impl SessionId {
    /// Hashes a token's text. Callers normally use [`SessionToken::id`].
    pub fn of_token(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Wraps raw hash bytes (as read back from a store).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, 64 characters. (Into a buffer first: `hex::encode`
    /// collects one `char` at a time, a visible cost on the validate path.)
    pub fn to_hex(&self) -> String {
        let mut buf = vec![0u8; 64];
        if hex::encode_to_slice(self.0, &mut buf).is_ok()
            && let Ok(text) = String::from_utf8(buf)
        {
            return text;
        }
        hex::encode(self.0)
    }

    /// Parses 64 hex characters; anything else is [`Error::InvalidSessionId`].
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| Error::InvalidSessionId)?;
        Ok(Self(bytes))
    }

    /// The first 12 hex characters: enough to correlate log lines, useless to
    /// an attacker.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.short())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

impl serde::Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_43_chars_and_parse_back() {
        let token = SessionToken::generate().unwrap();
        assert_eq!(token.expose().len(), TOKEN_LEN);
        let parsed = SessionToken::parse(token.expose()).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(parsed.id(), token.id());
    }

    #[test]
    fn generated_tokens_differ() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let good = SessionToken::generate().unwrap();
        let text = good.expose();
        let cases = [
            String::new(),
            text[..42].to_owned(),
            format!("{text}A"),
            format!("{}=", &text[..42]),
            format!("{}+", &text[..42]),
            format!("{}/", &text[..42]),
            format!("{}é", &text[..41]),
            " ".repeat(43),
            // Non-canonical final character: spare bits set.
            format!("{}B", &"A".repeat(42)),
        ];
        for case in cases {
            assert!(
                matches!(SessionToken::parse(&case), Err(Error::InvalidToken)),
                "accepted {case:?}"
            );
        }
        assert!(SessionToken::parse(&format!("{}A", "A".repeat(42))).is_ok());
    }

    #[test]
    fn id_is_sha256_of_the_token_text() {
        let id = SessionId::of_token("abc");
        assert_eq!(
            id.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(SessionId::from_hex(&id.to_hex()).unwrap(), id);
        assert_eq!(id.short(), "ba7816bf8f01");
        assert!(SessionId::from_hex("zz").is_err());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = SessionToken::generate().unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains(token.expose()));
        assert!(shown.contains(&token.id().short()));
    }
}
