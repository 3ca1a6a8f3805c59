//! Stateless cookie sessions: the whole session lives in the cookie (the classic recipe's
//! `SecureCookieManager`).
//!
//! Why offer it: no store round trip per request, nothing to clean up, and it scales with no
//! shared state. Why it is not the default: see the trade-offs below and in `docs/COOKIES.md`.
//!
//! The cookie value is a Fernet token whose plaintext is JSON:
//! `{"v":1,"iat":<issued at>,"exp":<absolute expiry>,"uid":<user id or absent>,"data":{...}}`.
//! The Fernet timestamp is the time of the last seal; `iat` and `exp` are the session's own
//! times and do not change when the session is re-sealed with new data.
//!
//! Trade-offs:
//! - **Revocation** needs state: without a [`NotBeforeStore`] a cookie is valid until `exp`, even
//!   after logout (the logout only asks the browser to forget it). With one, "log out everywhere"
//!   sets the user's not-before time and every cookie issued earlier is refused
//!   ([`CookieError::Revoked`]); that costs one store read per request, for sessions with a user.
//! - **Replay**: a copied cookie works anywhere until it expires or is revoked.
//! - **Size**: the whole `Set-Cookie` value must fit in 4096 bytes; base64 adds a third and
//!   Fernet's header, padding and MAC about 100 bytes more, so about 2.9 KB of JSON fit. Too much data is a [`CookieError::TooLarge`] error,
//!   never a silently dropped cookie.
//! - **Confidentiality**: the data is encrypted, so the browser and the network cannot read it,
//!   but anyone holding a key of the ring can read every cookie ever issued under it.
//!
//! Sessions issued in the very second of a not-before time are kept (the check is
//! `issued_at < not_before`), so the device that pressed "log out everywhere" can be given a
//! fresh cookie at once.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::session::{MAX_VALUE_LEN, failure_to_error};
use super::{CookieError, CookiePolicy, KeyRing};

/// Where per-user "not before" times are kept, for revoking stateless sessions.
///
/// Why a trait of its own: it is the only state stateless sessions need, and it is tiny, so any
/// store (Redis, SQL) can provide it with one key per user. Implementations should never move a
/// user's time backwards (keep the larger value), so a stale write cannot un-revoke sessions.
#[async_trait]
pub trait NotBeforeStore: Send + Sync {
    /// The user's not-before time (unix seconds), if any.
    ///
    /// # Errors
    /// [`CookieError::StoreUnavailable`] if the backend fails.
    async fn not_before(&self, user_id: &str) -> Result<Option<u64>, CookieError>;

    /// Sets the user's not-before time (unix seconds): sessions issued before it are refused.
    ///
    /// # Errors
    /// [`CookieError::StoreUnavailable`] if the backend fails.
    async fn set_not_before(&self, user_id: &str, unix_secs: u64) -> Result<(), CookieError>;
}

/// An in-memory [`NotBeforeStore`] for tests and single-process apps.
#[derive(Debug, Default)]
pub struct MemoryNotBeforeStore {
    times: Mutex<HashMap<String, u64>>,
}

impl MemoryNotBeforeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl NotBeforeStore for MemoryNotBeforeStore {
    async fn not_before(&self, user_id: &str) -> Result<Option<u64>, CookieError> {
        Ok(self.times.lock().get(user_id).copied())
    }

    async fn set_not_before(&self, user_id: &str, unix_secs: u64) -> Result<(), CookieError> {
        let mut times = self.times.lock();
        let entry = times.entry(user_id.to_owned()).or_insert(unix_secs);
        *entry = (*entry).max(unix_secs);
        Ok(())
    }
}

/// The contents of a stateless session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatelessSession {
    #[serde(rename = "v")]
    version: u8,
    #[serde(rename = "iat")]
    issued_at: u64,
    #[serde(rename = "exp")]
    expires_at: u64,
    #[serde(rename = "uid", default, skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(default)]
    data: Map<String, Value>,
}

const PAYLOAD_VERSION: u8 = 1;

impl StatelessSession {
    /// When the session was issued (unix seconds).
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// The absolute expiry (unix seconds); the session is refused from this second on.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The user the session belongs to, if any.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The session data.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    /// The session data, mutable; re-seal the session to send the change to the browser.
    pub fn data_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.data
    }

    /// One value of the session data.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// Sets one value, returning the previous one.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.data.insert(key.into(), value)
    }

    /// Removes one value, returning it.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.data.remove(key)
    }
}

/// Issues, seals and opens stateless sessions with one key ring, cookie policy and lifetime.
#[derive(Debug, Clone)]
pub struct StatelessSessions {
    keys: KeyRing,
    policy: CookiePolicy,
    lifetime: Duration,
}

impl StatelessSessions {
    /// Stateless sessions that live `lifetime` (absolute) from issue.
    ///
    /// # Errors
    /// [`CookieError::InvalidPolicy`] if `policy` does not validate.
    pub fn new(
        keys: KeyRing,
        policy: CookiePolicy,
        lifetime: Duration,
    ) -> Result<Self, CookieError> {
        policy.validate()?;
        Ok(Self {
            keys,
            policy,
            lifetime,
        })
    }

    /// The cookie policy.
    pub fn policy(&self) -> &CookiePolicy {
        &self.policy
    }

    /// The absolute lifetime of a session.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new session issued at `now` for `user_id` (if any), with `data`.
    pub fn issue(
        &self,
        user_id: Option<String>,
        data: Map<String, Value>,
        now: u64,
    ) -> StatelessSession {
        StatelessSession {
            version: PAYLOAD_VERSION,
            issued_at: now,
            expires_at: now.saturating_add(self.lifetime.as_secs()),
            user_id,
            data,
        }
    }

    /// Seals a session into a cookie value, checking that its `Set-Cookie` header fits.
    ///
    /// # Errors
    /// [`CookieError::TooLarge`] if the `Set-Cookie` value would exceed 4096 bytes;
    /// [`CookieError::Encode`], [`CookieError::Random`] otherwise.
    pub fn seal(&self, session: &StatelessSession, now: u64) -> Result<String, CookieError> {
        self.seal_with_header(session, now).map(|(value, _)| value)
    }

    /// Seals a session and renders its `Set-Cookie` header value.
    ///
    /// # Errors
    /// As [`StatelessSessions::seal`].
    pub fn set_cookie_header(
        &self,
        session: &StatelessSession,
        now: u64,
    ) -> Result<String, CookieError> {
        self.seal_with_header(session, now)
            .map(|(_, header)| header)
    }

    fn seal_with_header(
        &self,
        session: &StatelessSession,
        now: u64,
    ) -> Result<(String, String), CookieError> {
        let json = Zeroizing::new(
            serde_json::to_vec(session).map_err(|e| CookieError::Encode(e.to_string()))?,
        );
        let value = self.keys.seal(&json, now)?;
        let header = self.policy.set_cookie_header(&value)?;
        Ok((value, header))
    }

    /// The `Set-Cookie` header value that deletes the cookie (logout on this device).
    ///
    /// # Errors
    /// [`CookieError::InvalidPolicy`] (cannot happen for a policy accepted by `new`).
    pub fn removal_header(&self) -> Result<String, CookieError> {
        self.policy.removal_header()
    }

    /// Opens a cookie value, checking authenticity and expiry but not revocation (no store).
    ///
    /// # Errors
    /// [`CookieError::InvalidToken`] if not authentic (or not a session payload),
    /// [`CookieError::Expired`] if past its absolute expiry.
    pub fn open(&self, value: &str, now: u64) -> Result<StatelessSession, CookieError> {
        if value.len() > MAX_VALUE_LEN {
            return Err(CookieError::InvalidToken);
        }
        // The Fernet TTL is the lifetime too: a cookie sealed `lifetime` ago cannot hold a live
        // session, whatever its payload says.
        let (plain, _, _) = self
            .keys
            .open_detailed(value, Some(self.lifetime), now)
            .map_err(failure_to_error)?;
        let session: StatelessSession =
            serde_json::from_slice(&plain).map_err(|_| CookieError::InvalidToken)?;
        if session.version != PAYLOAD_VERSION {
            return Err(CookieError::InvalidToken);
        }
        if now >= session.expires_at {
            return Err(CookieError::Expired);
        }
        Ok(session)
    }

    /// Opens a cookie value as [`StatelessSessions::open`], then refuses it if its user has a
    /// not-before time later than the session's issue time.
    ///
    /// # Errors
    /// As [`StatelessSessions::open`], plus [`CookieError::Revoked`] and the store's errors.
    pub async fn open_checked(
        &self,
        value: &str,
        store: &(dyn NotBeforeStore + '_),
        now: u64,
    ) -> Result<StatelessSession, CookieError> {
        let session = self.open(value, now)?;
        if let Some(user_id) = session.user_id()
            && let Some(not_before) = store.not_before(user_id).await?
            && session.issued_at < not_before
        {
            return Err(CookieError::Revoked);
        }
        Ok(session)
    }

    /// "Log out everywhere": every session of `user_id` issued before `now` is refused by
    /// [`StatelessSessions::open_checked`] from now on.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn revoke_user(
        &self,
        store: &(dyn NotBeforeStore + '_),
        user_id: &str,
        now: u64,
    ) -> Result<(), CookieError> {
        store.set_not_before(user_id, now).await
    }
}
