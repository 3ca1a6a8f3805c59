//! A Memcached session store for sesame.
//!
//! ```no_run
//! # async fn run() -> sesame::Result<()> {
//! use sesame::{Manager, Policy};
//! use sesame_memcached::{MemcachedConfig, MemcachedStore};
//!
//! let config = MemcachedConfig::from_url("memcache://10.0.0.1:11211,10.0.0.2:11211")?
//!     .with_prefix("myapp:")?;
//! let manager = Manager::new(MemcachedStore::new(config), Policy::default())?;
//! # Ok(()) }
//! ```
//!
//! # Design
//! - **Sessions** are one item each, `{prefix}s:{sha256 hex}`, JSON, live or
//!   tombstone. Every change is `gets` + `cas`, retried (bounded, jittered)
//!   on conflict, so concurrent patches and increments lose nothing and a
//!   session ends exactly once.
//! - **The per-user index** is one item, `{prefix}u:{sha256(user) hex}`,
//!   written only with `cas`/`add`; the cap is decided by that write. The
//!   new session is stored first (unreachable: its token is not out yet),
//!   then admitted by the index `cas`, then the evicted sessions get their
//!   tombstones; evictions not yet carried out stay listed as pending and
//!   the next writer of the index finishes them.
//! - **Cleanup** reads an expiry index of per-minute buckets (module
//!   `expiry`), because memcached cannot be scanned.
//! - **Several servers**: client-side consistent hashing (jump hash); a user's
//!   index and their sessions may live on different servers.
//!
//! # What Memcached cannot promise
//! Memcached is a cache: under memory pressure it evicts items early. Then a
//! session is simply gone (`NotFound`, as after a purge); a lost user index
//! counts as empty, so the cap no longer sees the sessions it listed (they
//! stay valid until they expire) — never a crash, and never more sessions
//! than the cap among those the index knows. A lost expiry bucket means
//! cleanup does not report those expiries; the sessions still end. A server
//! restart loses everything on it. See the README for the full list.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
mod config;
mod expiry;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod record;
mod retry;
mod store;

pub use config::{MAX_PREFIX_LEN, MemcachedConfig};
pub use store::MemcachedStore;
