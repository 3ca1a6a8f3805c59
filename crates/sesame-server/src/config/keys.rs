//! `[[api_keys]]`: the API keys, as hashes (see [`crate::auth`]).

use serde::{Deserialize, Serialize};

use super::section::{Invalid, Section, ensure};
use crate::auth::{ApiKey, Scope};

/// One API key entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A label for logs.
    pub name: String,
    /// `sha256:<64 hex>` of the key (`sesame apikey` prints it).
    pub hash: String,
    /// Any of `validate`, `sessions`, `admin`.
    pub scopes: Vec<String>,
}

impl ApiKeyConfig {
    /// The key this entry describes.
    ///
    /// # Errors
    /// [`Invalid`] naming `hash` or `scopes` (relative to the entry).
    pub fn to_key(&self) -> Result<ApiKey, Invalid> {
        let hash = self
            .hash
            .strip_prefix("sha256:")
            .ok_or_else(|| Invalid::new("hash", "must start with \"sha256:\""))?;
        let bytes: [u8; 32] = hex::decode(hash)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Invalid::new("hash", "must be sha256: followed by 64 hex digits"))?;
        ensure(
            !self.scopes.is_empty(),
            "scopes",
            "must name at least one scope",
        )?;
        let scopes = self
            .scopes
            .iter()
            .map(|s| {
                Scope::parse(s).ok_or_else(|| {
                    Invalid::new(
                        "scopes",
                        format!("{s:?} is not one of validate, sessions, admin"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ApiKey {
            name: self.name.clone(),
            hash: bytes,
            scopes,
        })
    }
}

impl Section for ApiKeyConfig {
    fn validate(&self) -> Result<(), Invalid> {
        self.to_key().map(drop)
    }
}
