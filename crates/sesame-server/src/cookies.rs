//! Cookie values: the session token sealed in a Fernet token
//! (`sesame::cookie`).
//!
//! The API hands out a cookie value next to each token, so an app in any
//! language can put it in `Set-Cookie` as is, and accepts it back in place of
//! the token: a forged or tampered value is refused here, before any store
//! access. The maximum age of a cookie is the policy's absolute lifetime (no
//! session outlives it; a login or renewal issues a new token and cookie).
//!
//! The cookie's name and attributes (the `[cookie]` policy) live here too,
//! not in every app: each answer that issues a cookie carries `set_cookie`,
//! the complete `Set-Cookie` value, and logout and every 401 for a presented
//! session carry `clear_cookie`, the complete removal value with the same
//! name, Path and Domain (a browser only replaces a cookie whose name, Path
//! and Domain match). `GET /v1/cookie-policy` names the cookie to read.

use std::time::Duration;

use serde::Serialize;
use sesame::SessionId;
use sesame::cookie::{
    CookieContents, CookieError, CookiePolicy, CookieReport, FernetKey, KeyRing, debug_cookie,
    is_session_token, open_session_cookie, seal_session_token,
};
use zeroize::Zeroizing;

use crate::error::{ApiError, ErrorCode};

/// A new Fernet key in its standard form.
pub fn generate_key() -> Result<Zeroizing<String>, CookieError> {
    Ok(FernetKey::generate()?.expose_base64())
}

/// The cookie codec the server uses.
#[derive(Clone)]
pub struct Cookies {
    keys: Option<KeyRing>,
    max_age: Duration,
    policy: CookiePolicy,
    /// The policy's removal `Set-Cookie` value, rendered once.
    removal: String,
}

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookies")
            .field("keys", &self.keys.as_ref().map_or(0, KeyRing::len))
            .field("max_age", &self.max_age)
            .field("policy", &self.policy)
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

/// The cookie policy as `GET /v1/cookie-policy` shows it: which cookie a
/// client reads, and the attributes the `Set-Cookie` values carry.
#[derive(Debug, Clone, Serialize)]
pub struct CookiePolicyView {
    /// The cookie name.
    pub name: String,
    /// The Path attribute.
    pub path: String,
    /// The Domain attribute, or null for a host-only cookie.
    pub domain: Option<String>,
    /// The Secure attribute.
    pub secure: bool,
    /// The HttpOnly attribute.
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`, as written in `Set-Cookie`.
    pub same_site: &'static str,
    /// Development mode: the cookie is for `localhost` only.
    pub development: bool,
}

impl Cookies {
    /// A codec over `keys` (none: the API gives no cookie values and refuses
    /// cookie credentials; see [`crate::config::CookieConfig::key_ring`]), with
    /// the strict default cookie policy.
    pub fn new(keys: Option<KeyRing>, max_age: Duration) -> Self {
        let policy = CookiePolicy::new();
        // The default policy is valid: its removal value always renders.
        let removal = policy.removal_header().unwrap_or_default();
        Self {
            keys,
            max_age,
            policy,
            removal,
        }
    }

    /// The same codec with `policy` (validated, see
    /// [`crate::config::CookieConfig::policy`]) for the `Set-Cookie` values.
    ///
    /// # Errors
    /// [`CookieError::InvalidPolicy`] if `policy` does not validate.
    pub fn with_policy(mut self, policy: CookiePolicy) -> Result<Self, CookieError> {
        self.removal = policy.removal_header()?;
        self.policy = policy;
        Ok(self)
    }

    /// The cookie policy.
    pub fn policy(&self) -> &CookiePolicy {
        &self.policy
    }

    /// The policy as the API shows it.
    pub fn policy_view(&self) -> CookiePolicyView {
        let p = &self.policy;
        CookiePolicyView {
            name: p.name().to_owned(),
            path: p.path().to_owned(),
            domain: p.domain().map(str::to_owned),
            secure: p.secure(),
            http_only: p.http_only(),
            same_site: p.same_site().as_str(),
            development: p.is_development(),
        }
    }

    /// The complete `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> &str {
        &self.removal
    }

    /// The cookie value for `token` and its complete `Set-Cookie` value, if
    /// keys are configured.
    pub fn issue(&self, token: &str, now: u64) -> Result<Option<(String, String)>, ApiError> {
        let Some(value) = self.seal(token, now)? else {
            return Ok(None);
        };
        // The value is base64 (cookie-safe) and ~140 bytes; the policy
        // validated at start-up: rendering cannot fail but is not unwrapped.
        let header = self.policy.set_cookie_header(&value).map_err(|_| {
            ApiError::from(sesame::Error::Internal(
                "Set-Cookie rendering failed".into(),
            ))
        })?;
        Ok(Some((value, header)))
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
                ErrorCode::CookiesDisabled,
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
        assert_eq!(
            cookies.open(&value, 2_000).unwrap_err().code(),
            ErrorCode::Expired
        );
        assert_eq!(
            cookies.open("garbage", 1_010).unwrap_err().code(),
            ErrorCode::Invalid
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

    #[test]
    fn issue_renders_set_cookie_and_clear_cookie_with_the_policy() {
        let key = generate_key().unwrap().to_string();
        let ring = KeyRing::parse_list(&key).unwrap();
        let cookies = Cookies::new(Some(ring), Duration::from_secs(60));
        let token = sesame::SessionToken::generate().unwrap();
        let (value, header) = cookies.issue(token.expose(), 1_000).unwrap().unwrap();
        assert_eq!(
            header,
            format!("__Host-sesame={value}; Path=/; Secure; HttpOnly; SameSite=Strict")
        );
        assert_eq!(&*cookies.open(&value, 1_010).unwrap(), token.expose());
        assert_eq!(
            cookies.clear_cookie(),
            "__Host-sesame=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
        let dev = cookies.with_policy(CookiePolicy::development()).unwrap();
        assert!(
            dev.clear_cookie()
                .starts_with("sesame=; Path=/; Max-Age=0; HttpOnly;")
        );
        let view = dev.policy_view();
        assert_eq!(
            (view.name.as_str(), view.secure, view.development),
            ("sesame", false, true)
        );
        let none = Cookies::new(None, Duration::from_secs(60));
        assert!(none.issue(token.expose(), 1_000).unwrap().is_none());
    }
}
