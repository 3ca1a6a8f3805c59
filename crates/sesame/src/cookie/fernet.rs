//! The Fernet codec (<https://github.com/fernet/spec>), written out so that every step is visible.
//!
//! A token is, before base64url:
//!
//! ```text
//! 0x80 | timestamp (u64, big-endian, unix seconds) | IV (16 bytes) | AES-128-CBC ciphertext (PKCS7) | HMAC-SHA256 (32 bytes)
//! ```
//!
//! The HMAC covers everything before it and uses the first half of the key; AES uses the second.
//!
//! Why this order of checks when opening: structure first (cheap and public), then the MAC in
//! constant time (`hmac::Mac::verify_slice`), and only then the clock and the decryption. A
//! ciphertext is never decrypted before its MAC is verified, so a padding error can only happen on
//! a token made with our key, and there is no padding oracle. Every failure leaves this module as
//! the one [`CookieError::InvalidToken`]; the internal `Failure` reason exists only for
//! [`crate::cookie::debug_cookie`] and for the layers that must tell an authentic-but-expired
//! cookie from a forgery.
//!
//! Why time is a parameter: every function takes `now` in unix seconds, so tests move time
//! instead of sleeping, and a server can use one clock for the whole request.
//!
//! Tokens are emitted as URL-safe base64 *with* padding, as the spec's vectors do; tokens with or
//! without padding are accepted (non-canonical encodings are not).

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{CookieError, FernetKey};

/// The version byte of the only Fernet version (0x80).
pub const VERSION: u8 = 0x80;
/// The most a token's timestamp may lie in the future of `now` (the spec's clock skew), seconds.
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;

const HEADER_LEN: usize = 1 + 8 + 16;
const MAC_LEN: usize = 32;
const BLOCK: usize = 16;
/// version + timestamp + IV + one block + HMAC.
const MIN_LEN: usize = HEADER_LEN + BLOCK + MAC_LEN;

/// Base64url with padding on output; padding optional on input; canonical trailing bits.
pub(crate) const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type HmacSha256 = Hmac<Sha256>;

/// Why a token did not open. Internal: it leaves the crate only through
/// [`crate::cookie::debug_cookie`], never through an error a client could observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Not base64, wrong version, too short, ciphertext not whole blocks, bad padding.
    Malformed,
    /// The MAC does not match under any key: wrong key or tampered.
    BadSignature,
    /// Authentic, but older than the TTL.
    Expired,
    /// Authentic, but stamped more than [`MAX_CLOCK_SKEW_SECS`] in the future.
    FromTheFuture,
}

/// A decoded token whose MAC has been verified.
pub(crate) struct Verified {
    raw: Vec<u8>,
    /// The token's timestamp (unix seconds), now authenticated.
    pub(crate) timestamp: u64,
    /// Index of the key (in the caller's slice) that verified the MAC.
    pub(crate) key_index: usize,
}

/// Decodes and checks the structure of a token (no key needed).
pub(crate) fn decode(token: &str) -> Result<Vec<u8>, Failure> {
    let raw = B64_LENIENT
        .decode(token.as_bytes())
        .map_err(|_| Failure::Malformed)?;
    if raw.len() < MIN_LEN
        || raw[0] != VERSION
        || !(raw.len() - HEADER_LEN - MAC_LEN).is_multiple_of(BLOCK)
    {
        return Err(Failure::Malformed);
    }
    Ok(raw)
}

/// Verifies the MAC of a decoded token under each key in turn (constant time per key).
pub(crate) fn verify<'k>(
    raw: Vec<u8>,
    keys: impl IntoIterator<Item = &'k FernetKey>,
) -> Result<Verified, Failure> {
    let (signed, tag) = raw.split_at(raw.len() - MAC_LEN);
    for (key_index, key) in keys.into_iter().enumerate() {
        let Ok(mut mac) = HmacSha256::new_from_slice(key.signing_key()) else {
            return Err(Failure::Malformed);
        };
        mac.update(signed);
        if mac.verify_slice(tag).is_ok() {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&raw[1..9]);
            return Ok(Verified {
                timestamp: u64::from_be_bytes(ts),
                raw,
                key_index,
            });
        }
    }
    Err(Failure::BadSignature)
}

/// The spec's time checks: not older than `ttl_secs` (when given), and not more than
/// [`MAX_CLOCK_SKEW_SECS`] in the future.
pub(crate) fn check_time(timestamp: u64, ttl_secs: Option<u64>, now: u64) -> Result<(), Failure> {
    if timestamp > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(Failure::FromTheFuture);
    }
    if let Some(ttl) = ttl_secs
        && timestamp.saturating_add(ttl) < now
    {
        return Err(Failure::Expired);
    }
    Ok(())
}

/// Decrypts a verified token with the key that verified it.
pub(crate) fn decrypt(verified: &mut Verified, key: &FernetKey) -> Result<Vec<u8>, Failure> {
    let end = verified.raw.len() - MAC_LEN;
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&verified.raw[9..HEADER_LEN]);
    let body = &mut verified.raw[HEADER_LEN..end];
    let dec = cbc::Decryptor::<Aes128>::new(key.encryption_key().into(), (&iv).into());
    let plain = dec
        .decrypt_padded_mut::<Pkcs7>(body)
        .map_err(|_| Failure::Malformed)?;
    let out = plain.to_vec();
    // The decrypted bytes sat in the token buffer; wipe them.
    zeroize::Zeroize::zeroize(&mut verified.raw);
    Ok(out)
}

/// Opens a token with a list of keys, returning the plaintext, the timestamp and the key index.
pub(crate) fn open_detailed(
    keys: &[FernetKey],
    token: &str,
    ttl_secs: Option<u64>,
    now: u64,
) -> Result<(Zeroizing<Vec<u8>>, u64, usize), Failure> {
    let raw = decode(token)?;
    let mut verified = verify(raw, keys)?;
    check_time(verified.timestamp, ttl_secs, now)?;
    let key = keys.get(verified.key_index).ok_or(Failure::BadSignature)?;
    let plain = decrypt(&mut verified, key)?;
    Ok((
        Zeroizing::new(plain),
        verified.timestamp,
        verified.key_index,
    ))
}

/// Seals `plaintext` at time `timestamp` with the given IV. Deterministic: meant for the spec's
/// test vectors and for [`crate::cookie::KeyRing::rotate`]; everything else uses a random IV.
pub(crate) fn seal_raw(key: &FernetKey, plaintext: &[u8], timestamp: u64, iv: &[u8; 16]) -> String {
    let padded = (plaintext.len() / BLOCK + 1) * BLOCK;
    let mut raw = Zeroizing::new(vec![0u8; HEADER_LEN + padded + MAC_LEN]);
    raw[0] = VERSION;
    raw[1..9].copy_from_slice(&timestamp.to_be_bytes());
    raw[9..HEADER_LEN].copy_from_slice(iv);
    let enc = cbc::Encryptor::<Aes128>::new(key.encryption_key().into(), iv.into());
    // The output buffer is exactly one padded length long, so this cannot fail; if it ever did,
    // the zero-filled body would fail authentication rather than leak plaintext.
    let _ =
        enc.encrypt_padded_b2b_mut::<Pkcs7>(plaintext, &mut raw[HEADER_LEN..HEADER_LEN + padded]);
    let end = HEADER_LEN + padded;
    if let Ok(mut mac) = HmacSha256::new_from_slice(key.signing_key()) {
        mac.update(&raw[..end]);
        let tag = mac.finalize().into_bytes();
        raw[end..].copy_from_slice(&tag);
    }
    B64_LENIENT.encode(&raw[..])
}

/// A fresh random IV from the OS CSPRNG.
pub(crate) fn random_iv() -> Result<[u8; 16], CookieError> {
    let mut iv = [0u8; 16];
    getrandom::fill(&mut iv).map_err(|_| CookieError::Random)?;
    Ok(iv)
}

impl FernetKey {
    /// Encrypts and signs `plaintext` into a Fernet token stamped with `now` (unix seconds),
    /// using a random IV from the OS CSPRNG.
    ///
    /// # Errors
    /// [`CookieError::Random`] if the OS generator fails.
    pub fn seal(&self, plaintext: &[u8], now: u64) -> Result<String, CookieError> {
        Ok(seal_raw(self, plaintext, now, &random_iv()?))
    }

    /// Seals with a caller-chosen IV, exactly as the spec's `generate` test vectors do.
    ///
    /// **Only for test vectors and interoperability checks.** Reusing an IV with the same key
    /// leaks equal plaintext prefixes; use [`FernetKey::seal`].
    pub fn seal_with_iv(&self, plaintext: &[u8], now: u64, iv: &[u8; 16]) -> String {
        seal_raw(self, plaintext, now, iv)
    }

    /// Verifies and decrypts a token. `ttl` (when given) is the maximum age; a token stamped more
    /// than 60 s after `now` is refused whatever the TTL.
    ///
    /// # Errors
    /// [`CookieError::InvalidToken`] for every kind of failure, by design.
    pub fn open(
        &self,
        token: &str,
        ttl: Option<std::time::Duration>,
        now: u64,
    ) -> Result<Zeroizing<Vec<u8>>, CookieError> {
        open_detailed(
            std::slice::from_ref(self),
            token,
            ttl.map(|d| d.as_secs()),
            now,
        )
        .map(|(plain, _, _)| plain)
        .map_err(|_| CookieError::InvalidToken)
    }
}

/// Reads the timestamp of a token *without* verifying it. For diagnostics only: the value is not
/// authenticated.
pub fn unverified_timestamp(token: &str) -> Option<u64> {
    let raw = decode(token).ok()?;
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&raw[1..9]);
    Some(u64::from_be_bytes(ts))
}
