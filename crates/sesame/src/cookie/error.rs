//! The one error type of the cookie module.
//!
//! Why one enum with typed variants: a caller (the transport layer, the manager) must be able to
//! tell "no cookie" from "a cookie that is not authentic" (the latter is a security signal worth
//! counting) without parsing strings. Why so few variants for bad tokens: every way a token can
//! fail authentication (bad base64, wrong version, too short, wrong key, tampered bytes, bad
//! padding) is reported as the single [`CookieError::InvalidToken`], so an attacker learns nothing
//! from the error (no padding oracle, no "right key, wrong MAC" distinction). Operators who need
//! the coarse reason use [`crate::cookie::debug_cookie`].

use thiserror::Error;

/// Everything that can go wrong in [`crate::cookie`].
///
/// No variant carries key material or token bytes, so errors are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The token or cookie value is not authentic: malformed, made with an unknown key, tampered
    /// with, or (at the raw Fernet level) outside its time window. One error for all causes, on
    /// purpose.
    #[error("invalid or forged token")]
    InvalidToken,
    /// The cookie is authentic but older than the allowed maximum age (or past its absolute
    /// expiry, for stateless sessions). Only reachable after the MAC was verified, so it reveals
    /// nothing to a forger.
    #[error("the cookie has expired")]
    Expired,
    /// The request carries no session cookie.
    #[error("no session cookie")]
    NoCookie,
    /// Two or more cookies carry the session cookie's name (cookie tossing from a sibling domain
    /// or an attacker-controlled path); the request must not pick one.
    #[error("{count} cookies named like the session cookie: ambiguous")]
    Ambiguous {
        /// How many cookies with the session's name were present.
        count: usize,
    },
    /// A stateless session was issued before the user's "not before" time ("log out everywhere").
    #[error("the session was revoked")]
    Revoked,
    /// The cookie would exceed the browser limit; browsers drop such cookies silently, so we
    /// refuse to emit them.
    #[error("cookie of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The size of the rendered `Set-Cookie` value, in bytes.
        size: usize,
        /// The limit, in bytes (4096).
        limit: usize,
    },
    /// A Fernet key string is not 32 bytes of URL-safe base64.
    #[error("invalid Fernet key: expected 32 bytes of URL-safe base64 (44 characters)")]
    InvalidKey,
    /// A key ring must hold at least one key.
    #[error("no Fernet key given")]
    NoKeys,
    /// The environment variable holding the keys is missing or not valid Unicode.
    #[error("environment variable {name} is not set or not valid Unicode")]
    KeyEnvVar {
        /// The variable's name.
        name: String,
    },
    /// The string given as a session token is not 43 characters of URL-safe base64 (256 bits).
    #[error("not a session token (43 characters of URL-safe base64 expected)")]
    InvalidSessionToken,
    /// A cookie value contains bytes that a cookie may not hold.
    #[error("cookie value contains characters not allowed in a cookie")]
    InvalidCookieValue,
    /// The cookie policy is unsafe or malformed.
    #[error("invalid cookie policy: {0}")]
    InvalidPolicy(#[from] PolicyError),
    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed")]
    Random,
    /// Session data could not be encoded as JSON.
    #[error("session data could not be encoded: {0}")]
    Encode(String),
    /// The not-before store failed.
    #[error("not-before store unavailable: {0}")]
    StoreUnavailable(String),
}

/// Why a [`crate::cookie::CookiePolicy`] was refused. Checked at configuration time, so an unsafe
/// cookie never reaches a browser.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The cookie name is empty or contains characters outside an RFC 6265 token.
    #[error("cookie name is empty or contains forbidden characters")]
    InvalidName,
    /// A `__Host-` cookie may not have a Domain attribute.
    #[error("a __Host- cookie must not have a Domain")]
    HostPrefixWithDomain,
    /// A `__Host-` cookie must have `Path=/`.
    #[error("a __Host- cookie must have Path=/")]
    HostPrefixPath,
    /// A `__Host-` cookie must be Secure.
    #[error("a __Host- cookie must be Secure")]
    HostPrefixWithoutSecure,
    /// A `__Secure-` cookie must be Secure.
    #[error("a __Secure- cookie must be Secure")]
    SecurePrefixWithoutSecure,
    /// `SameSite=None` is only accepted by browsers on Secure cookies.
    #[error("SameSite=None requires Secure")]
    SameSiteNoneWithoutSecure,
    /// Outside development mode every session cookie must be Secure.
    #[error("a cookie without Secure is only allowed in development mode")]
    InsecureOutsideDevelopment,
    /// The Path must start with `/` and hold no control characters or `;`.
    #[error("invalid cookie Path")]
    InvalidPath,
    /// The Domain must be a plain host name.
    #[error("invalid cookie Domain")]
    InvalidDomain,
    /// Development mode was used for a host other than `localhost`, `127.0.0.1` or `[::1]`.
    #[error("development mode is only allowed for localhost")]
    DevelopmentModeHost,
}
