//! Sesame sessions for tower and axum.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use sesame::cookie::{FernetKey, KeyRing};
//! use sesame::{Manager, MemoryStore, Policy};
//! use sesame_tower::{RequireUser, SecurityHeadersLayer, Session, SessionLayer};
//!
//! async fn counter(session: Session) -> Result<String, sesame_tower::SessionError> {
//!     Ok(session.increment("count", 1).await?.to_string())
//! }
//!
//! async fn me(user: RequireUser) -> String {
//!     user.user_id.clone()
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = Manager::new(MemoryStore::new(), Policy::default())?;
//! let keys = KeyRing::from_env_var("SESAME_COOKIE_KEYS")?;
//! let app: Router = Router::new()
//!     .route("/count", get(counter))
//!     .route("/me", get(me))
//!     .layer(SessionLayer::new(manager, keys))
//!     .layer(SecurityHeadersLayer::new());
//! # let _ = app; Ok(()) }
//! ```
//!
//! | module | job |
//! | --- | --- |
//! | [`layer`] | [`SessionLayer`]: token in, commit and `Set-Cookie` out |
//! | [`session`] | [`Session`] (lazy), [`RequireSession`], [`RequireUser`] |
//! | [`csrf`] | synchronizer token + Origin / Sec-Fetch-Site checks |
//! | [`headers`] | [`SecurityHeadersLayer`]: HSTS, CSP, nosniff, ... |
//! | [`transport`] | cookie or header transport, client IP behind trusted proxies |
//! | [`error`] | [`SessionError`]: refusals as JSON with stable codes |
//!
//! # Concurrency
//! A handler's `insert`/`remove` calls become one per-key patch committed without a version:
//! concurrent requests changing different keys both keep their changes. For read-modify-write of
//! one key use [`Session::increment`] (atomic in the store); `get` then `insert` of the same key
//! in concurrent requests loses updates, as in every session library.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod csrf;
pub mod error;
pub mod headers;
pub mod layer;
pub mod session;
pub mod transport;

pub use csrf::CsrfConfig;
pub use error::{SessionError, status_of};
pub use headers::SecurityHeadersLayer;
pub use layer::{Metrics, SessionLayer, SessionService};
pub use session::{CSRF_KEY, RequireSession, RequireUser, Session, SessionSummary};
pub use transport::{HeaderTransport, IpCidr, TrustedProxies};
