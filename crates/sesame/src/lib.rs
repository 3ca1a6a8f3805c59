//! Sesame: session management for web applications.
//!
//! Sessions are created at login (or anonymously), checked on every request,
//! and ended at logout, expiry or a security event — each exactly once, with a
//! recorded reason. This crate is the engine; transports (`sesame-tower`,
//! `sesame serve`) and stores (`sesame-sql`, `sesame-redis`,
//! `sesame-memcached`) stand on it.
//!
//! ```
//! # tokio_test();
//! # fn tokio_test() {
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! use sesame::{DeviceInfo, Manager, MemoryStore, Patch, Policy};
//!
//! let manager = Manager::new(MemoryStore::new(), Policy::default())?;
//! let device = DeviceInfo::default().with_user_agent("Firefox");
//! let created = manager.create(Some("alice"), Default::default(), device.clone()).await?;
//! let token = created.token.expose().to_owned(); // goes into the cookie
//!
//! let loaded = manager.load(&token, &device).await?;
//! manager.update(&token, &Patch::new().set("theme", "dark")?, Some(loaded.session.version)).await?;
//! assert_eq!(manager.increment(&token, "visits", 1).await?, 1);
//! manager.destroy(&token, sesame::EndReason::LoggedOut).await?;
//! assert!(matches!(
//!     manager.load(&token, &device).await,
//!     Err(sesame::Error::Ended { reason: sesame::EndReason::LoggedOut })
//! ));
//! # Ok::<(), sesame::Error>(())
//! # }).unwrap();
//! # }
//! ```
//!
//! # Life cycle
//! - **Created** by [`Manager::create`]. For a user, the per-user cap is
//!   enforced in the same store step: the oldest sessions are evicted, or the
//!   new one is refused ([`CapAction`]).
//! - **Active** while used. [`Manager::load`] records a use at most once per
//!   touch interval, so a read usually writes nothing; it checks the device
//!   binding and renews the token when due.
//! - **Ended** exactly once: idle or absolute expiry, logout, revocation,
//!   eviction, rotation, or a security event ([`EndReason`]). A tombstone keeps
//!   the reason for `tombstone_ttl` (10 minutes), so the next request with that
//!   token gets `Error::Ended { reason }` rather than a bare "not found".
//!
//! # Tokens
//! 256 random bits, 43 characters of base64url. Stores key on SHA-256 of the
//! token ([`SessionId`]) and never see the token; logs show 12 hex characters
//! of that hash.
//!
//! # Concurrency
//! Changes are patches — set or remove, per key — applied by the store in one
//! atomic step, so concurrent requests that change different keys both keep
//! their changes. Every change bumps a version: pass the version you read to
//! get compare-and-set ([`Error::Conflict`] on a stale one).
//! [`Manager::increment`] is atomic in the store; [`Manager::modify`] is a
//! compare-and-set loop for any other read-modify-write of one key.
//!
//! # Stores
//! The [`Store`] trait is the contract; [`MemoryStore`] is the in-process
//! implementation. Every store runs the conformance suite in
//! `sesame::testing` (feature `testing`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
pub mod cookie;
pub mod data;
pub mod dbsc;
pub mod device;
mod error;
pub mod events;
pub mod lifecycle;
pub mod manager;
pub mod memory;
pub mod net;
pub mod policy;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
pub mod user;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use data::{Data, Patch, PatchOp};
pub use device::{DeviceBinding, DeviceInfo, IpBinding, MismatchAction};
pub use error::{BoxError, Error, ErrorKind, Result};
pub use events::{EventSink, SessionEvent};
pub use lifecycle::{EndCategory, EndReason, Tombstone};
pub use manager::{Created, Inspection, Issued, Loaded, LoadedWrite, Manager, Rotated};
pub use memory::MemoryStore;
pub use net::{InvalidCidr, IpCidr};
pub use policy::{
    CapAction, Policy, PolicyError, PolicySetting, Renewal, TokenReuseAction, UserCap,
};
pub use store::{CleanupReport, SessionRecord, Store};
pub use token::{SessionId, SessionToken};
pub use user::UserId;
