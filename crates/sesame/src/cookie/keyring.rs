//! A ring of Fernet keys for rotation without logging anyone out (MultiFernet semantics).
//!
//! Why: keys must be rotated (a leaked or old key, a departing operator), but every cookie in
//! the wild was sealed with the old key. A ring seals with its first ("primary") key and opens
//! with any key, so the rotation is: put the new key first, keep the old one behind it for the
//! longest cookie lifetime, then drop it. [`KeyRing::rotate`] re-seals an old token under the
//! primary key, keeping its original timestamp, so rotation never extends a cookie's life.
//!
//! Keys come from configuration as strings: [`KeyRing::parse_list`] takes a comma-separated list
//! (the form of `SESAME_COOKIE_KEYS`), [`KeyRing::from_env_var`] reads such a list from the
//! environment. `Debug` shows only how many keys the ring holds.

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

use super::fernet::{self, Failure};
use super::{CookieError, FernetKey};

/// The conventional environment variable for the cookie keys (comma-separated, primary first).
pub const DEFAULT_KEYS_ENV_VAR: &str = "SESAME_COOKIE_KEYS";

/// Several Fernet keys: the first seals, all open.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<FernetKey>,
}

impl KeyRing {
    /// A ring whose primary (sealing) key is `primary`, with no older keys.
    pub fn new(primary: FernetKey) -> Self {
        Self {
            keys: vec![primary],
        }
    }

    /// A ring from keys in order, primary first.
    ///
    /// # Errors
    /// [`CookieError::NoKeys`] if `keys` is empty.
    pub fn from_keys(keys: Vec<FernetKey>) -> Result<Self, CookieError> {
        if keys.is_empty() {
            return Err(CookieError::NoKeys);
        }
        Ok(Self { keys })
    }

    /// Adds an older key that still opens tokens but never seals.
    pub fn with_old_key(mut self, key: FernetKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Parses a comma-separated list of Fernet keys, primary first. Whitespace around keys and
    /// empty entries (a trailing comma) are ignored.
    ///
    /// # Errors
    /// [`CookieError::InvalidKey`] if any entry is not a key, [`CookieError::NoKeys`] if the list
    /// holds none.
    pub fn parse_list(list: &str) -> Result<Self, CookieError> {
        let keys = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(FernetKey::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_keys(keys)
    }

    /// Reads a comma-separated key list from the environment variable `name` (for example
    /// [`DEFAULT_KEYS_ENV_VAR`]). The value is wiped from memory after parsing.
    ///
    /// # Errors
    /// [`CookieError::KeyEnvVar`] if the variable is unset or not Unicode, then as
    /// [`KeyRing::parse_list`].
    pub fn from_env_var(name: &str) -> Result<Self, CookieError> {
        let value = Zeroizing::new(std::env::var(name).map_err(|_| CookieError::KeyEnvVar {
            name: name.to_owned(),
        })?);
        Self::parse_list(&value)
    }

    /// The key that seals.
    pub fn primary(&self) -> &FernetKey {
        // `keys` is never empty (checked in every constructor).
        &self.keys[0]
    }

    /// All keys, primary first.
    pub fn keys(&self) -> &[FernetKey] {
        &self.keys
    }

    /// How many keys the ring holds (never 0).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always `false`: a ring holds at least one key. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Seals `plaintext` with the primary key at time `now` (unix seconds), random IV.
    ///
    /// # Errors
    /// [`CookieError::Random`] if the OS generator fails.
    pub fn seal(&self, plaintext: &[u8], now: u64) -> Result<String, CookieError> {
        self.primary().seal(plaintext, now)
    }

    /// Opens a token sealed with any key of the ring. `ttl` is the maximum age, if any.
    ///
    /// # Errors
    /// [`CookieError::InvalidToken`] for every kind of failure.
    pub fn open(
        &self,
        token: &str,
        ttl: Option<Duration>,
        now: u64,
    ) -> Result<Zeroizing<Vec<u8>>, CookieError> {
        self.open_detailed(token, ttl, now)
            .map(|(plain, _, _)| plain)
            .map_err(|_| CookieError::InvalidToken)
    }

    /// Re-seals a token made with any key of the ring under the primary key, keeping its
    /// timestamp (as `MultiFernet.rotate` does), so rotating never makes a cookie live longer.
    /// No TTL is applied: rotation is a key-management step, not a use of the token.
    ///
    /// # Errors
    /// [`CookieError::InvalidToken`] if no key opens it, [`CookieError::Random`] if the OS
    /// generator fails.
    pub fn rotate(&self, token: &str) -> Result<String, CookieError> {
        let raw = fernet::decode(token).map_err(|_| CookieError::InvalidToken)?;
        let mut verified =
            fernet::verify(raw, &self.keys).map_err(|_| CookieError::InvalidToken)?;
        let key = self
            .keys
            .get(verified.key_index)
            .ok_or(CookieError::InvalidToken)?;
        let timestamp = verified.timestamp;
        let plain = Zeroizing::new(
            fernet::decrypt(&mut verified, key).map_err(|_| CookieError::InvalidToken)?,
        );
        Ok(fernet::seal_raw(
            self.primary(),
            &plain,
            timestamp,
            &fernet::random_iv()?,
        ))
    }

    /// Opens and reports the plaintext, the authenticated timestamp and which key opened it, or
    /// the coarse reason of the failure (crate-internal).
    pub(crate) fn open_detailed(
        &self,
        token: &str,
        ttl: Option<Duration>,
        now: u64,
    ) -> Result<(Zeroizing<Vec<u8>>, u64, usize), Failure> {
        fernet::open_detailed(&self.keys, token, ttl.map(|d| d.as_secs()), now)
    }
}

impl From<FernetKey> for KeyRing {
    fn from(key: FernetKey) -> Self {
        Self::new(key)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRing({} keys, <redacted>)", self.keys.len())
    }
}
