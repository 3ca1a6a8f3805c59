//! `[cookie]`: the Fernet keys that seal cookie values (see
//! [`crate::cookies`]).

use serde::{Deserialize, Serialize};
use sesame::cookie::{FernetKey, KeyRing};

use super::section::{Invalid, Section};

/// Cookie settings.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CookieConfig {
    /// Fernet keys, newest first (`sesame keygen` makes one). The first seals,
    /// any opens. Empty: the API returns no cookie values.
    pub keys: Vec<String>,
}

impl CookieConfig {
    /// The key ring, or `None` when no key is configured.
    ///
    /// # Errors
    /// [`Invalid`] naming the first key that is not a Fernet key
    /// (`keys[i]`), or `keys`.
    pub fn key_ring(&self) -> Result<Option<KeyRing>, Invalid> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        for (i, k) in self.keys.iter().enumerate() {
            if FernetKey::parse(k).is_err() {
                return Err(Invalid::new(
                    format!("keys[{i}]"),
                    "is not a Fernet key (44 characters of URL-safe base64; `sesame keygen` makes one)",
                ));
            }
        }
        KeyRing::parse_list(&self.keys.join(","))
            .map(Some)
            .map_err(|e| Invalid::new("keys", e.to_string()))
    }
}

impl Section for CookieConfig {
    fn validate(&self) -> Result<(), Invalid> {
        self.key_ring().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_name_the_entry() {
        let config = CookieConfig {
            keys: vec![
                sesame::cookie::FernetKey::generate()
                    .unwrap()
                    .expose_base64()
                    .to_string(),
                "nope".into(),
            ],
        };
        assert_eq!(config.key_ring().unwrap_err().field, "keys[1]");
        assert!(CookieConfig::default().key_ring().unwrap().is_none());
    }
}
