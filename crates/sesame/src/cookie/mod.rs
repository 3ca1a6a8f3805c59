//! Secure cookies: the Fernet codec, key rings, the session cookie, cookie policy, the `Cookie`
//! header parser, stateless sessions and an operator's debugging aid.
//!
//! This layer sits between the transport and the manager (see `DESIGN.md`): it turns the
//! `Cookie` header into a session token, and a forged cookie stops here, before any store is
//! asked. It depends on nothing else in the crate, so it can be reviewed, tested and fuzzed on
//! its own. The full guide, with the trade-offs, is `docs/COOKIES.md`.
//!
//! | file | job |
//! | --- | --- |
//! | `fernet.rs` | the Fernet token format: seal, verify the MAC in constant time, then decrypt |
//! | `key.rs` | [`FernetKey`]: a secret that zeroizes, compares in constant time, hides from `Debug` |
//! | `keyring.rs` | [`KeyRing`]: seal with the first key, open with any, rotate tokens, parse config |
//! | `session.rs` | session token ⇄ cookie value ([`seal_session_token`], [`open_session_cookie`]) |
//! | `policy.rs` | [`CookiePolicy`]: name and attributes, validated; `Set-Cookie` rendering |
//! | `header.rs` | parsing `Cookie` headers; [`find_session_cookie`] refuses duplicates |
//! | `stateless.rs` | [`StatelessSessions`]: the whole session in the cookie, with revocation |
//! | `debug.rs` | [`debug_cookie`]: why a cookie fails, for operators only |
//! | `error.rs` | [`CookieError`], one error type with typed variants |
//!
//! # Rules this module keeps
//! - **One error for every bad token.** Malformed, wrong key, tampered, bad padding: all are
//!   [`CookieError::InvalidToken`]; the MAC is checked (in constant time) before decryption, so
//!   there is no padding oracle. Only a cookie whose MAC verified can be reported as
//!   [`CookieError::Expired`].
//! - **Time is a parameter.** Every function takes `now` in unix seconds; tests never sleep.
//! - **Keys are secrets.** Zeroized on drop, compared in constant time, `Debug` prints
//!   `FernetKey(<redacted>)`, and nothing here logs or prints.
//! - **Tokens come from the `Cookie` header only**, never from a URL query or a form field.
//! - **Never a silently dropped cookie.** A `Set-Cookie` over 4096 bytes is
//!   [`CookieError::TooLarge`].
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use sesame::cookie::{
//!     find_session_cookie, open_session_cookie, seal_session_token, CookiePolicy, FernetKey, KeyRing,
//! };
//!
//! let keys = KeyRing::new(FernetKey::generate()?);
//! let policy = CookiePolicy::new();
//! let now = 1_700_000_000;
//! let token = "q1Vbm5d0Lr0HB1ko3F3UcTmTq0zXq0qSGfFq5HTsAAA";
//!
//! let value = seal_session_token(&keys, token, now)?;
//! let set_cookie = policy.set_cookie_header(&value)?;
//! assert!(set_cookie.starts_with("__Host-sesame="));
//!
//! // Next request: the browser sends the cookie back.
//! let header = format!("theme=dark; __Host-sesame={value}");
//! let found = find_session_cookie([header.as_str()], policy.name())?;
//! let opened = open_session_cookie(&keys, found, Duration::from_secs(3600), now + 10)?;
//! assert_eq!(opened.as_str(), token);
//! # Ok::<(), sesame::cookie::CookieError>(())
//! ```

mod debug;
mod error;
pub mod fernet;
mod header;
mod key;
mod keyring;
mod policy;
mod session;
mod stateless;

pub use debug::{CookieContents, CookieReport, InvalidReason, debug_cookie};
pub use error::{CookieError, PolicyError};
pub use header::{CookiePair, CookiePairs, find_session_cookie, parse_cookie_header};
pub use key::FernetKey;
pub use keyring::{DEFAULT_KEYS_ENV_VAR, KeyRing};
pub use policy::{
    CookiePolicy, DEFAULT_COOKIE_NAME, DEVELOPMENT_COOKIE_NAME, MAX_COOKIE_BYTES, SameSite,
};
pub use session::{SESSION_TOKEN_LEN, is_session_token, open_session_cookie, seal_session_token};
pub use stateless::{MemoryNotBeforeStore, NotBeforeStore, StatelessSession, StatelessSessions};
