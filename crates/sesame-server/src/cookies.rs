//! Cookie values: the session token sealed in a Fernet token
//! (`sesame::cookie`).
//!
//! The API hands out a cookie value next to each token, so an app in any
//! language can put it in `Set-Cookie` as is, and accepts it back in place of
//! the token: a forged or tampered value is refused here, before any store
//! access. The maximum age of a cookie is the policy's absolute lifetime (no
//! session outlives it; a login or renewal issues a new token and cookie).

use std::time::Duration;

use serde::Serialize;
use sesame::SessionId;
use sesame::cookie::{
    CookieContents, CookieError, CookieReport, FernetKey, KeyRing, debug_cookie, is_session_token,
    open_session_cookie, seal_session_token,
};
use zeroize::Zeroizing;

use crate::error::ApiError;

/// A new Fernet key in its standard form.
pub fn generate_key() -> Result<Zeroizing<String>, CookieError> {
    Ok(FernetKey::generate()?.expose_base64())
}

/// The cookie codec the server uses.
#[derive(Clone)]
pub struct Cookies {
    keys: Option<KeyRing>,
    max_age: Duration,
}

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookies")
            .field("keys", &self.keys.as_ref().map_or(0, KeyRing::len))
            .field("max_age", &self.max_age)
            .finish()
    }
}

/// What `POST /v1/cookies/decode` and `sesame cookie inspect` report.
#[derive(Debug, Clone, Serialize)]
pub struct CookieInspection {
    /// Whether the cookie opens now.
    pub valid: bool,
    /// Why not: `malformed`, `bad_signature`, `expired`, `from_the_future`,
    /// or `not_a_session_token`.
    pub reason: Option<String>,
    /// Which key verified it (0 = the primary).
    pub key_index: Option<usize>,
    /// When it was sealed (unix seconds).
    pub issued_at: Option<u64>,
    /// Seconds since then.
    pub age_secs: Option<i64>,
    /// Seconds before it is too old (negative once expired).
    pub time_left_secs: Option<i64>,
    /// The session id inside (SHA-256 of the token; the token itself is
    /// never shown).
    pub session_id: Option<String>,
}

impl Cookies {
    /// A codec over `keys` (none: the API gives no cookie values and refuses
    /// cookie credentials); see [`crate::config::CookieConfig::key_ring`].
    pub fn new(keys: Option<KeyRing>, max_age: Duration) -> Self {
        Self { keys, max_age }
    }

    /// True when keys are configured.
    pub fn enabled(&self) -> bool {
        self.keys.is_some()
    }

    /// The cookie value for `token`, if keys are configured.
    pub fn seal(&self, token: &str, now: u64) -> Result<Option<String>, ApiError> {
        let Some(keys) = &self.keys else {
            return Ok(None);
        };
        seal_session_token(keys, token, now)
            .map(Some)
            .map_err(|_| ApiError::from(sesame::Error::Internal("cookie sealing failed".into())))
    }

    /// The token in a cookie value; 401 `invalid` for a forgery, 401
    /// `expired` (reason `cookie_expired`) for an authentic but too old one.
    pub fn open(&self, value: &str, now: u64) -> Result<Zeroizing<String>, ApiError> {
        let Some(keys) = &self.keys else {
            return Err(ApiError::bad_request(
                "cookies_disabled",
                "no cookie keys are configured; send the token",
            ));
        };
        open_session_cookie(keys, Some(value), self.max_age, now).map_err(|e| match e {
            CookieError::Expired => ApiError::cookie_expired(),
            _ => ApiError::invalid_session("the cookie value is not valid"),
        })
    }

    /// The operator's report on a cookie value (`debug_cookie`), with the
    /// token replaced by its session id.
    pub fn inspect(&self, value: &str, now: u64) -> Option<CookieInspection> {
        let keys = self.keys.as_ref()?;
        Some(inspection(debug_cookie(
            value,
            keys,
            Some(self.max_age),
            now,
        )))
    }
}

fn inspection(report: CookieReport) -> CookieInspection {
    let mut out = CookieInspection {
        valid: report.valid,
        reason: report.reason.map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        }),
        key_index: report.key_index,
        issued_at: report.issued_at,
        age_secs: report.age_secs,
        time_left_secs: report.time_left_secs,
        session_id: None,
    };
    match report.contents {
        Some(CookieContents::Text(token)) if is_session_token(&token) => {
            out.session_id = Some(SessionId::of_token(&token).to_hex());
        }
        None => {}
        Some(_) => {
            out.valid = false;
            out.reason = Some("not_a_session_token".into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_inspect() {
        let key = generate_key().unwrap().to_string();
        let cookies = Cookies::new(
            Some(KeyRing::parse_list(&key).unwrap()),
            Duration::from_secs(60),
        );
        let token = sesame::SessionToken::generate().unwrap();
        let value = cookies.seal(token.expose(), 1_000).unwrap().unwrap();
        assert_eq!(&*cookies.open(&value, 1_010).unwrap(), token.expose());
        assert_eq!(cookies.open(&value, 2_000).unwrap_err().code(), "expired");
        assert_eq!(
            cookies.open("garbage", 1_010).unwrap_err().code(),
            "invalid"
        );
        let report = cookies.inspect(&value, 1_010).unwrap();
        assert!(report.valid);
        assert_eq!(report.session_id.unwrap(), token.id().to_hex());
        assert_eq!(report.time_left_secs, Some(50));
        let text = serde_json::to_string(&cookies.inspect(&value, 1_010)).unwrap();
        assert!(!text.contains(token.expose()));
        let bad = cookies.inspect("garbage", 1_010).unwrap();
        assert_eq!(bad.reason.as_deref(), Some("malformed"));
    }
}
