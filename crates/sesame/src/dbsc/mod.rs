//! Device Bound Session Credentials (DBSC): a stolen session cookie stops
//! working on any other machine.
//!
//! DBSC (W3C WebAppSec draft; Chrome 145+ on Windows, behind flags on Linux)
//! binds a session to a key pair the browser keeps — in a TPM or secure
//! enclave in production, so malware can use it while it runs on the
//! machine but cannot copy it off. The server hands out a short-lived
//! **bound cookie** beside the session cookie; only the holder of the
//! private key can get a new one, by signing a server challenge. Cookies
//! exported to another machine die when the bound cookie does.
//!
//! The protocol, as Chromium 156 speaks it:
//! 1. A login response carries `Secure-Session-Registration:
//!    (ES256 RS256);path="/dbsc/register";challenge="…"` ([`Dbsc::offer`]).
//! 2. The browser posts a JWT signed by its new key, the key in its header,
//!    to that path; the server verifies it, binds the session to the key and
//!    answers with the bound cookie and the session instructions
//!    ([`Dbsc::register`]).
//! 3. Every in-scope request must carry a valid bound cookie
//!    ([`Dbsc::check`], no store call).
//! 4. When the bound cookie expires, the browser holds its request, posts to
//!    the refresh path, gets a 403 with a challenge, posts a JWT signing it,
//!    and gets a new bound cookie ([`Dbsc::refresh`]).
//!
//! docs/DBSC.md is the guide: what this defends against and what not, the
//! modes, the lifetimes, browser support.
//!
//! | file | job |
//! | --- | --- |
//! | `policy.rs` | [`DbscPolicy`]: mode, algorithms, lifetimes, rate limit, paths, scope |
//! | `header.rs` | the DBSC header fields, written and read (quoted or bare) |
//! | `jwt.rs` | compact JWS syntax |
//! | `key.rs` | [`Algorithm`], [`PublicJwk`]: the key, normalised, and signature checks |
//! | `proof.rs` | what a registration or refresh proof must say |
//! | `challenge.rs` | registration tickets (sealed) and refresh challenges (hashed) |
//! | `bound.rs` | the bound cookie: sealed, checked without the store |
//! | `state.rs` | [`DbscState`]: what a store keeps, changed by compare-and-set |
//! | `engine.rs` | [`Dbsc`]: the steps, for any transport |
//! | `error.rs` | [`DbscError`], [`Refusal`]: every refusal, and its HTTP status |

pub mod bound;
mod challenge;
mod engine;
mod error;
pub mod header;
mod jwt;
mod key;
mod policy;
mod proof;
mod state;

pub use challenge::MAX_AUTHORIZATION_BYTES;
pub use engine::{Bound, Dbsc, DbscStats, Refresh};
pub use error::{DbscError, Refusal};
pub use jwt::MAX_JWT_BYTES;
pub use key::{Algorithm, MAX_RSA_BITS, MIN_RSA_BITS, PublicJwk};
pub use policy::{
    CHROMIUM_PROACTIVE_REFRESH, DbscMode, DbscPolicy, DbscPolicyError, DbscSetting,
    MAX_BOUND_COOKIE_LIFETIME, MissingBoundCookie, RefreshLimit,
};
pub use proof::PROOF_TYPE;
pub use state::{DbscState, MAX_ENCODED_BYTES, MAX_PENDING_CHALLENGES, PendingChallenge};
