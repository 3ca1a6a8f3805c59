//! One Fernet key: 128 bits for HMAC-SHA256 signing, 128 bits for AES-128-CBC encryption.
//!
//! Why a dedicated type and not `[u8; 32]`: a key is a secret, so the type enforces the
//! project's rules for secrets in one place. It is zeroized on drop (`ZeroizeOnDrop`), compared
//! in constant time (`subtle`), and its `Debug` output is `FernetKey(<redacted>)`, so a key can
//! never reach a log through `{:?}`. The only way to see the key is the explicitly named
//! [`FernetKey::expose_base64`].
//!
//! Keys are written as in every Fernet implementation: 32 bytes in URL-safe base64 with padding
//! (44 characters), signing key first.

use std::fmt;

use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::CookieError;
use super::fernet::B64_LENIENT;

/// A Fernet key (32 bytes: signing key, then encryption key).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FernetKey {
    signing: [u8; 16],
    encryption: [u8; 16],
}

impl FernetKey {
    /// A fresh random key from the operating system's CSPRNG (`getrandom`).
    ///
    /// # Errors
    /// [`CookieError::Random`] if the OS generator fails.
    pub fn generate() -> Result<Self, CookieError> {
        let mut key = Self {
            signing: [0u8; 16],
            encryption: [0u8; 16],
        };
        getrandom::fill(&mut key.signing).map_err(|_| CookieError::Random)?;
        getrandom::fill(&mut key.encryption).map_err(|_| CookieError::Random)?;
        Ok(key)
    }

    /// A key from its 32 raw bytes (signing key first).
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let key = Self::from_slices(&bytes[..16], &bytes[16..]);
        bytes.zeroize();
        key
    }

    fn from_slices(signing: &[u8], encryption: &[u8]) -> Self {
        let mut key = Self {
            signing: [0u8; 16],
            encryption: [0u8; 16],
        };
        key.signing.copy_from_slice(signing);
        key.encryption.copy_from_slice(encryption);
        key
    }

    /// Parses a key in the standard Fernet form: 32 bytes of URL-safe base64, 44 characters with
    /// `=` padding (43 without padding is accepted too). Surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`CookieError::InvalidKey`]; the error never contains the input.
    pub fn parse(s: &str) -> Result<Self, CookieError> {
        let s = s.trim();
        let mut buf = Zeroizing::new([0u8; 33]);
        if s.len() > 44 {
            return Err(CookieError::InvalidKey);
        }
        match B64_LENIENT.decode_slice(s.as_bytes(), &mut buf[..]) {
            Ok(32) => Ok(Self::from_slices(&buf[..16], &buf[16..32])),
            _ => Err(CookieError::InvalidKey),
        }
    }

    /// The key in the standard Fernet form (URL-safe base64 with padding, 44 characters).
    ///
    /// Named so that every place that reveals a key is easy to find in review. The returned
    /// string is zeroized on drop.
    pub fn expose_base64(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes[..16].copy_from_slice(&self.signing);
        bytes[16..].copy_from_slice(&self.encryption);
        Zeroizing::new(base64::engine::general_purpose::URL_SAFE.encode(&bytes[..]))
    }

    /// The HMAC-SHA256 signing half.
    pub(crate) fn signing_key(&self) -> &[u8; 16] {
        &self.signing
    }

    /// The AES-128 encryption half.
    pub(crate) fn encryption_key(&self) -> &[u8; 16] {
        &self.encryption
    }
}

impl PartialEq for FernetKey {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        (self.signing.ct_eq(&other.signing) & self.encryption.ct_eq(&other.encryption)).into()
    }
}

impl Eq for FernetKey {}

impl fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FernetKey(<redacted>)")
    }
}

impl std::str::FromStr for FernetKey {
    type Err = CookieError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
