//! Configuration: a TOML file, then `SESAME_*` environment variables, then
//! command-line flags, each overriding the one before.
//!
//! The three sources are merged as TOML tables before anything is typed, so a
//! setting has one name everywhere: `policy.idle_timeout` in the file is
//! `SESAME_POLICY_IDLE_TIMEOUT` in the environment. Every failure names the
//! setting (and its source, for environment variables) and the binary exits
//! with code 2. `sesame.example.toml` in this crate lists every setting with
//! its default.
//!
//! | module | job |
//! | --- | --- |
//! | [`durations`] | `"30s"`, `"15m"`, ... read and written |
//! | [`section`] | the [`Section`] trait: a table checks itself, names its field |
//! | [`log`], [`limits`], [`guard`], [`cleanup`], [`policy`], [`cookie`], [`webhook`] | one table each: its struct, its defaults, its rules |
//! | [`keys`] | the `[[api_keys]]` entries |
//! | [`environment`] | the `SESAME_*` variables, derived from the settings |
//!
//! # Adding a setting
//! 1. Add the field, with its doc comment, to its section's struct and its
//!    default to that struct's `Default`. If it has a rule beyond its type,
//!    add it to the section's [`Section::validate`], naming the field. That
//!    is all the code: the environment variable follows from the field
//!    ([`environment`]), and serde names the setting in type errors.
//! 2. Add a line to `sesame.example.toml`, and to the table in
//!    `tests::every_setting_refuses_an_invalid_value_by_name` an invalid value
//!    for it; the test fails until both are there.
//!
//! A new *section* is a struct implementing [`Section`], a field of
//! [`Config`], and one line in [`Config::validate`]. A new engine policy
//! check (a new [`sesame::PolicySetting`]) does not compile until
//! [`policy::setting_name`] names its key.

pub mod cleanup;
pub mod cookie;
pub mod durations;
pub mod environment;
pub mod guard;
pub mod keys;
pub mod limits;
pub mod log;
pub mod policy;
pub mod section;
pub mod webhook;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

pub use cleanup::CleanupConfig;
pub use cookie::CookieConfig;
pub use durations::{Dur, parse_duration};
pub use environment::env_name;
pub use guard::GuardConfig;
pub use keys::ApiKeyConfig;
pub use limits::{Limits, MAX_WORKERS};
pub use log::{LogConfig, LogFormat};
pub use policy::PolicyConfig;
pub use section::{Invalid, Section};
pub use webhook::WebhookConfig;

use crate::auth::ApiKeys;

/// The name of the `[policy]` table.
pub(crate) const POLICY: &str = "policy";
/// The name of the `[cookie]` table.
const COOKIE: &str = "cookie";

/// A configuration error: which setting, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {setting}: {message}")]
pub struct ConfigError {
    /// The setting, as named in the file (`policy.idle_timeout`), or the
    /// environment variable or file that failed.
    pub setting: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `setting`.
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// The whole configuration.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// A TLS-terminating proxy (or a private network) is in front: no
    /// warning for listening on a non-loopback address without TLS.
    pub behind_tls_proxy: bool,
    /// The store URL; default `sqlite://<data_dir>/sesame.db`.
    pub store: Option<String>,
    /// Folder for the embedded store and the first-start admin key.
    pub data_dir: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// HTTP limits.
    pub limits: Limits,
    /// The cleanup scheduler.
    pub cleanup: CleanupConfig,
    /// Detecting session-token guessing.
    pub guard: GuardConfig,
    /// Session policy.
    pub policy: PolicyConfig,
    /// Cookie keys.
    pub cookie: CookieConfig,
    /// API keys.
    pub api_keys: Vec<ApiKeyConfig>,
    /// Lifecycle webhook.
    pub webhook: Option<WebhookConfig>,
}

/// Secrets stay out of logs and panics: the store URL's password and secret
/// query parameters, the cookie keys and the webhook secret are redacted
/// (their own `Debug` implementations do the rest).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured, so a new field cannot be forgotten here.
        let Config {
            listen,
            behind_tls_proxy,
            store,
            data_dir,
            log,
            limits,
            cleanup,
            guard,
            policy,
            cookie,
            api_keys,
            webhook,
        } = self;
        f.debug_struct("Config")
            .field("listen", listen)
            .field("behind_tls_proxy", behind_tls_proxy)
            .field("store", &store.as_deref().map(crate::redact::url))
            .field("data_dir", data_dir)
            .field("log", log)
            .field("limits", limits)
            .field("cleanup", cleanup)
            .field("guard", guard)
            .field("policy", policy)
            .field("cookie", cookie)
            .field("api_keys", api_keys)
            .field("webhook", webhook)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7700".into(),
            behind_tls_proxy: false,
            store: None,
            data_dir: PathBuf::from("./data"),
            log: LogConfig::default(),
            limits: Limits::default(),
            cleanup: CleanupConfig::default(),
            guard: GuardConfig::default(),
            policy: PolicyConfig::default(),
            cookie: CookieConfig::default(),
            api_keys: Vec::new(),
            webhook: None,
        }
    }
}

/// Command-line overrides, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--store`.
    pub store: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-format`.
    pub log_format: Option<String>,
    /// `--log-level`.
    pub log_level: Option<String>,
}

/// Where the config file is: `--config`, else `SESAME_CONFIG`, else
/// `./sesame.toml` if it exists.
pub fn config_path(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_owned());
    }
    if let Some(p) = env("SESAME_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let default = PathBuf::from("sesame.toml");
    default.exists().then_some(default)
}

impl Config {
    /// A configuration with every optional part present (a store URL, a
    /// webhook, one API key): the shape [`environment`] derives the
    /// variables from.
    pub fn schema() -> Config {
        Config {
            store: Some(String::new()),
            api_keys: vec![ApiKeyConfig {
                name: String::new(),
                hash: String::new(),
                scopes: Vec::new(),
            }],
            webhook: Some(WebhookConfig::new("", "")),
            cookie: CookieConfig {
                name: Some(String::new()),
                secure: Some(true),
                domain: Some(String::new()),
                ..CookieConfig::default()
            },
            ..Config::default()
        }
    }

    /// Loads the config: the file at `path` (if any), then the environment
    /// read through `env`, then `flags`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, variable or setting that is wrong.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut table = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new(path.display().to_string(), format!("cannot read: {e}"))
                })?;
                text.parse::<Table>().map_err(|e| {
                    ConfigError::new(path.display().to_string(), e.message().to_owned())
                })?
            }
            None => Table::new(),
        };
        environment::apply(&mut table, env)?;
        let flag_values = [
            ("listen", flags.listen.clone()),
            ("store", flags.store.clone()),
            (
                "data_dir",
                flags.data_dir.as_ref().map(|p| p.display().to_string()),
            ),
            ("log.format", flags.log_format.clone()),
            ("log.level", flags.log_level.clone()),
        ];
        for (setting, value) in flag_values {
            if let Some(v) = value {
                environment::set_path(&mut table, setting, Value::String(v));
            }
        }
        Self::from_table(table)
    }

    /// Types and validates merged settings.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting that is wrong.
    pub fn from_table(table: Table) -> Result<Config, ConfigError> {
        let config: Config =
            serde_path_to_error::deserialize(Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                ConfigError::new(
                    if path == "." { "config".into() } else { path },
                    e.inner().to_string(),
                )
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting that has a form beyond its type: the top-level
    /// ones here, each table by its own [`Section::validate`].
    ///
    /// # Errors
    /// [`ConfigError`] naming the first setting found wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn check(name: &str, section: &dyn Section) -> Result<(), ConfigError> {
            section.validate().map_err(|e| e.within(name))
        }
        self.listen_addr()?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new(
                "data_dir",
                "must not be empty (\".\" is the current folder)",
            ));
        }
        crate::stores::check_url(&self.store_url()).map_err(|e| ConfigError::new("store", e))?;
        check("log", &self.log)?;
        check("limits", &self.limits)?;
        check("cleanup", &self.cleanup)?;
        check("guard", &self.guard)?;
        check(POLICY, &self.policy)?;
        check(COOKIE, &self.cookie)?;
        self.api_keys()?;
        if let Some(hook) = &self.webhook {
            check("webhook", hook)?;
        }
        Ok(())
    }

    /// The listen address.
    ///
    /// # Errors
    /// [`ConfigError`] naming `listen`.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!("{:?} is not an address like 127.0.0.1:7700", self.listen),
            )
        })
    }

    /// The store URL, with the default filled in.
    pub fn store_url(&self) -> String {
        match &self.store {
            Some(url) => url.clone(),
            None => crate::stores::default_url(&self.data_dir),
        }
    }

    /// The cookie policy (name and attributes).
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting that is wrong (`cookie.secure`).
    pub fn cookie_policy(&self) -> Result<sesame::cookie::CookiePolicy, ConfigError> {
        self.cookie.policy().map_err(|e| e.within(COOKIE))
    }

    /// The cookie key ring, or `None` when no key is configured.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key that is wrong (`cookie.keys[0]`).
    pub fn cookie_keys(&self) -> Result<Option<sesame::cookie::KeyRing>, ConfigError> {
        self.cookie.key_ring().map_err(|e| e.within(COOKIE))
    }

    /// The configured API keys.
    ///
    /// # Errors
    /// [`ConfigError`] naming the entry's field (`api_keys[0].hash`).
    pub fn api_keys(&self) -> Result<ApiKeys, ConfigError> {
        self.api_keys
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                entry
                    .to_key()
                    .map_err(|e| e.within(&format!("api_keys[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(ApiKeys::new)
    }
}

#[cfg(test)]
mod tests;
