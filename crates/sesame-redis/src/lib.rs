//! Redis and Redis Cluster session store for sesame.
//!
//! See the crate README for the key layout, the scripts and what a cluster
//! can and cannot promise.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cluster;
mod codec;
mod config;
mod conn;
mod keys;
mod reply;
mod scripts;
mod store;

pub use config::{DEFAULT_COMMAND_TIMEOUT, RedisConfig};
pub use keys::BUCKETS;
pub use store::RedisStore;
