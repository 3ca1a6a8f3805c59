//! API keys and scopes.
//!
//! The config holds only `sha256:<hex>` of each key, so a leaked config file
//! opens nothing. A presented key (`Authorization: Bearer <key>`) is hashed
//! and compared with *every* configured hash in constant time, so neither the
//! comparison nor the loop leaks which prefix or which entry came close.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Validate sessions (app servers on the hot path).
    Validate,
    /// Create, read, patch, rotate and end sessions by token.
    Sessions,
    /// List, revoke, inspect, decode cookies, run cleanup. Implies the others.
    Admin,
}

impl Scope {
    /// Parses `validate`, `sessions` or `admin`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "validate" => Some(Scope::Validate),
            "sessions" => Some(Scope::Sessions),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Validate => "validate",
            Scope::Sessions => "sessions",
            Scope::Admin => "admin",
        }
    }
}

/// One configured key.
#[derive(Clone)]
pub struct ApiKey {
    /// Its label.
    pub name: String,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// What it may do.
    pub scopes: Vec<Scope>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// True when this key may act in `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }
}

/// The set of configured keys.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

impl ApiKeys {
    /// A set of keys.
    pub fn new(keys: Vec<ApiKey>) -> Self {
        Self { keys }
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds a key.
    pub fn push(&mut self, key: ApiKey) {
        self.keys.push(key);
    }

    /// The key whose hash matches `presented`, compared in constant time
    /// against every entry.
    pub fn find(&self, presented: &str) -> Option<&ApiKey> {
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.hash.ct_eq(&hash)) && found.is_none() {
                found = Some(key);
            }
        }
        found
    }
}

/// A new random API key (256 bits, base64url, prefixed `sk_`) and its
/// `sha256:<hex>` config line.
pub fn generate_api_key() -> std::io::Result<(String, String)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let key = format!("sk_{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_line(&key);
    Ok((key, hash))
}

/// `sha256:<hex>` of a key, as the config stores it.
pub fn hash_line(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_by_hash_and_scopes_nest_under_admin() {
        let (key, line) = generate_api_key().unwrap();
        assert!(key.starts_with("sk_") && key.len() == 46);
        let hash: [u8; 32] = hex::decode(line.strip_prefix("sha256:").unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let keys = ApiKeys::new(vec![ApiKey {
            name: "app".into(),
            hash,
            scopes: vec![Scope::Validate],
        }]);
        let found = keys.find(&key).unwrap();
        assert!(found.allows(Scope::Validate));
        assert!(!found.allows(Scope::Admin));
        assert!(keys.find("sk_wrong").is_none());
        let admin = ApiKey {
            name: "ops".into(),
            hash,
            scopes: vec![Scope::Admin],
        };
        assert!(admin.allows(Scope::Sessions) && admin.allows(Scope::Validate));
        assert!(!format!("{admin:?}").contains(&hex::encode(hash)));
    }
}
