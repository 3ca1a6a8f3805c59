//! The store factory: a URL chooses the store.
//!
//! Each scheme is one match arm that hands the URL to the crate providing the
//! store, so adding a store is one arm here and one dependency. The server
//! and every CLI command open their store through [`open`], which is why the
//! CLI works against the configured store directly.

use std::path::Path;
use std::sync::Arc;

use sesame::{MemoryStore, Store};

use crate::config::ConfigError;

/// An opened store, with what the server needs to know about it.
#[derive(Clone)]
pub struct StoreHandle {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The URL scheme it was opened with (for logs and metrics).
    pub kind: &'static str,
    /// Counts live sessions, when the store can do so cheaply.
    pub live_count: Option<Arc<dyn Fn() -> i64 + Send + Sync>>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The schemes this build knows.
pub const SCHEMES: &[&str] = &["memory"];

/// The default store URL for a data folder.
pub fn default_url(data_dir: &Path) -> String {
    let _ = data_dir;
    "memory://".to_owned()
}

fn scheme(url: &str) -> Result<&str, ConfigError> {
    url.split_once("://").map(|(s, _)| s).ok_or_else(|| {
        ConfigError::new(
            "store",
            format!(
                "{url:?} is not a URL like memory:// (schemes: {})",
                SCHEMES.join(", ")
            ),
        )
    })
}

/// Checks that the URL names a store this build has.
pub fn check_url(url: &str) -> Result<(), ConfigError> {
    let s = scheme(url)?;
    if SCHEMES.contains(&s) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "store",
            format!(
                "unknown store scheme {s:?}; this build has: {}",
                SCHEMES.join(", ")
            ),
        ))
    }
}

/// An error opening a store.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store did not open.
    #[error("cannot open the store: {0}")]
    Store(#[from] sesame::Error),
}

/// Opens the store at `url`, creating what it needs (the SQLite file, the
/// schema) when `migrate` is true.
pub async fn open(url: &str, migrate: bool) -> Result<StoreHandle, OpenError> {
    let _ = migrate;
    match scheme(url)? {
        "memory" => {
            let store = Arc::new(MemoryStore::new());
            let counted = Arc::clone(&store);
            Ok(StoreHandle {
                store,
                kind: "memory",
                live_count: Some(Arc::new(move || {
                    i64::try_from(counted.live_sessions()).unwrap_or(i64::MAX)
                })),
            })
        }
        _ => {
            check_url(url)?;
            Err(ConfigError::new("store", "unreachable").into())
        }
    }
}

/// Applies the store's schema migrations; a message saying what was done.
pub async fn migrate(url: &str) -> Result<String, OpenError> {
    let handle = open(url, true).await?;
    Ok(format!("{}: nothing to migrate", handle.kind))
}
