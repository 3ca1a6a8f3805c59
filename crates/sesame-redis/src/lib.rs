//! Redis and Redis Cluster session store for sesame.
//!
//! [`RedisStore`] implements `sesame::Store` with one Lua script per
//! operation (one atomic step, one round trip); a load inside the touch
//! interval is a single `HGETALL`. Sessions are hashes with one field per
//! data key, so concurrent patches to different keys never clobber each
//! other; a version field backs compare-and-set; increments are `HINCRBY`.
//! Each user has a sorted-set index, pruned on every write, and the cap is
//! enforced in the script that creates the session. On a Redis Cluster the
//! operations that join a session's slot and its user's slot run as
//! one-slot steps in a documented order (see `cluster.rs` and the README).
//! Expiry is reported by sesame's own sweep over 256 bucket expiry indexes,
//! never by keyspace notifications. Every command is bounded by a timeout
//! (250 ms by default); when Redis is down operations fail fast with
//! `Error::StoreUnavailable` and recover without a restart. [`RedisConfig`]
//! takes the URL (ACL user and password, `rediss://` for TLS) and, for a
//! Redis behind a private CA or asking for client certificates, the PEM
//! roots and client certificate; wrong credentials or a refused handshake
//! fail `connect` at once with `Error::Config`.
//!
//! The crate README describes the key layout, the scripts, the cluster
//! strategy and what it guarantees.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cluster;
mod codec;
mod combined;
mod config;
mod conn;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod keys;
mod reply;
mod scripts;
mod store;

pub use config::{DEFAULT_COMMAND_TIMEOUT, DEFAULT_CONNECTIONS, RedisConfig};
pub use keys::BUCKETS;
pub use store::RedisStore;
