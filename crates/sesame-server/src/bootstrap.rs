//! First start without configuration: safe by default.
//!
//! With no API key configured, `sesame serve` makes one admin key at its
//! first start, prints it once, and keeps only its SHA-256 in
//! `<data_dir>/admin-key.sha256` (later starts read the hash; delete the file
//! to get a new key). With no cookie key configured, it makes one in
//! `<data_dir>/cookie.key`, which the CLI reads too. The folder is created
//! 0700 and both files 0600 ([`crate::private_fs`]). Either file is
//! ignored as soon as the config names keys. The default listen address is
//! loopback only.

use std::path::{Path, PathBuf};

use crate::config::{ApiKeyConfig, Config, ConfigError};

/// Name of the file holding the first-start admin key's hash.
pub const ADMIN_KEY_FILE: &str = "admin-key.sha256";
/// Name of the file holding the generated cookie key.
pub const COOKIE_KEY_FILE: &str = "cookie.key";

/// What bootstrapping did, for the start-up banner.
#[derive(Debug, Default)]
pub struct Bootstrap {
    /// A new admin key, to print once.
    pub new_admin_key: Option<String>,
    /// The hash file in use, when keys come from it.
    pub admin_key_file: Option<PathBuf>,
    /// The cookie key file in use.
    pub cookie_key_file: Option<PathBuf>,
}

fn io_err(path: &Path, e: std::io::Error) -> ConfigError {
    ConfigError::new("data_dir", format!("{}: {e}", path.display()))
}

/// Creates the data folder, mode 0700 ([`crate::private_fs`]).
pub fn ensure_data_dir(config: &Config) -> Result<(), ConfigError> {
    crate::private_fs::create_dir(&config.data_dir).map_err(|e| io_err(&config.data_dir, e))
}

/// Cookie keys from `<data_dir>/cookie.key` when the config names none;
/// with `create`, makes the file if absent.
pub fn cookie_keys(config: &mut Config, create: bool) -> Result<Option<PathBuf>, ConfigError> {
    if !config.cookie.keys.is_empty() {
        return Ok(None);
    }
    let path = config.data_dir.join(COOKIE_KEY_FILE);
    if !path.exists() {
        if !create {
            return Ok(None);
        }
        let key = crate::cookies::generate_key()
            .map_err(|e| ConfigError::new("cookie.keys", e.to_string()))?;
        crate::private_fs::write_new(&path, &key).map_err(|e| io_err(&path, e))?;
    }
    let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
    config.cookie.keys = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    config
        .cookie_keys()
        .map_err(|e| ConfigError::new(path.display().to_string(), e.message))?;
    Ok(Some(path))
}

/// Fills in what a first start without keys needs (see the module docs).
pub fn prepare(config: &mut Config) -> Result<Bootstrap, ConfigError> {
    ensure_data_dir(config)?;
    let mut out = Bootstrap {
        cookie_key_file: cookie_keys(config, true)?,
        ..Bootstrap::default()
    };
    if config.api_keys.is_empty() {
        let path = config.data_dir.join(ADMIN_KEY_FILE);
        if !path.exists() {
            let (key, line) = crate::auth::generate_api_key().map_err(|e| io_err(&path, e))?;
            crate::private_fs::write_new(&path, &line).map_err(|e| io_err(&path, e))?;
            out.new_admin_key = Some(key);
        }
        let line = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        config.api_keys.push(ApiKeyConfig {
            name: "first-start-admin".into(),
            hash: line.trim().to_owned(),
            scopes: vec!["admin".into()],
        });
        config
            .api_keys()
            .map_err(|e| ConfigError::new(path.display().to_string(), e.message))?;
        out.admin_key_file = Some(path);
    }
    Ok(out)
}
