//! Configuration: a TOML file, then `SESAME_*` environment variables, then
//! command-line flags, each overriding the one before.
//!
//! The three sources are merged as TOML tables before anything is typed, so a
//! setting has one name everywhere: `policy.idle_timeout` in the file is
//! `SESAME_POLICY_IDLE_TIMEOUT` in the environment. Every failure names the
//! setting (and its source, for environment variables) and the binary exits
//! with code 2. `sesame.example.toml` in this crate lists every setting with
//! its default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sesame::{CapAction, DeviceBinding, IpBinding, MismatchAction, Policy, Renewal, UserCap};
use toml::{Table, Value};

use crate::auth::{ApiKey, ApiKeys, Scope};

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

/// A duration written as `"30s"`, `"15m"`, `"12h"`, `"7d"`, `"250ms"` or a
/// number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Dur(Duration::from_secs(s))),
            Raw::Text(t) => parse_duration(&t)
                .map(Dur)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `"30s"`, `"15m"`, `"12h"`, `"7d"`, `"250ms"` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. \"30s\", \"15m\", \"12h\")"))?;
    let mult = match unit.trim() {
        "" | "s" => 1000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use ms, s, m, h or d)"
            ));
        }
    };
    n.checked_mul(mult)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter (`info`, `sesame_server=debug`); `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Most worker threads `limits.workers` may ask for: a typo of a few zeros
/// should be a config error, not a failure to start threads.
pub const MAX_WORKERS: usize = 1024;

/// HTTP limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted total size of request headers, in bytes.
    pub max_header_bytes: usize,
    /// A request that takes longer is answered 503 `timeout`; a client that
    /// takes longer to send a request's headers, or leaves a keep-alive
    /// connection idle longer, is disconnected.
    pub request_timeout: Dur,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout: Dur,
    /// Most requests handled at once, all routes together; more wait.
    pub max_concurrency: usize,
    /// Worker threads serving connections (0: two per CPU); see
    /// [`crate::serving`].
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            max_header_bytes: 16 * 1024,
            request_timeout: Dur(Duration::from_secs(10)),
            shutdown_timeout: Dur(Duration::from_secs(30)),
            max_concurrency: 4096,
            workers: 0,
        }
    }
}

/// Detecting session-token guessing (see [`crate::probing`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Invalid session credentials one client address may present within
    /// `window`; one more blocks it. `0` turns the guard off.
    pub max_invalid: u32,
    /// The counting window.
    pub window: Dur,
    /// How long a blocked address is answered 429.
    pub block: Dur,
    /// Most client addresses tracked at once (bounds memory).
    pub max_tracked: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_invalid: 100,
            window: Dur(Duration::from_secs(60)),
            block: Dur(Duration::from_secs(300)),
            max_tracked: 10_000,
        }
    }
}

/// The cleanup scheduler.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CleanupConfig {
    /// Time between runs; `0` turns the scheduler off.
    pub interval: Dur,
}

impl Default for CleanupConfig {
    fn default() -> Self {
        Self {
            interval: Dur(Duration::from_secs(3600)),
        }
    }
}

/// The session policy, as written in the config (see `sesame::Policy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Ends a session unused for this long.
    pub idle_timeout: Dur,
    /// Ends a session this long after creation (or login), whatever happens.
    pub absolute_lifetime: Dur,
    /// Records a use at most once per interval.
    pub touch_interval: Dur,
    /// Renews the token this long after it was issued; `0` turns renewal off.
    pub renewal_interval: Dur,
    /// The old token keeps working this long after a renewal.
    pub renewal_grace: Dur,
    /// The old token keeps working this long after an explicit rotation.
    pub rotation_grace: Dur,
    /// Most live sessions per user; `0` means no cap.
    pub max_sessions_per_user: usize,
    /// At the cap: `evict_oldest` or `reject_new`.
    pub on_limit: String,
    /// Bind sessions to the client's user agent.
    pub bind_user_agent: bool,
    /// Bind to the client's IP: `off`, `exact`, or `prefix`.
    pub bind_ip: String,
    /// With `bind_ip = "prefix"`: IPv4 prefix bits.
    pub bind_ip_prefix_v4: u8,
    /// With `bind_ip = "prefix"`: IPv6 prefix bits.
    pub bind_ip_prefix_v6: u8,
    /// Client hints that must match.
    pub bind_hints: Vec<String>,
    /// On a device mismatch: `destroy`, `flag` or `ignore`.
    pub on_device_mismatch: String,
    /// Largest session data, as compact JSON bytes.
    pub max_data_size: usize,
    /// How long an ended session's reason is remembered.
    pub tombstone_ttl: Dur,
    /// On reuse of a rotated token past its grace: `end_successor` or `refuse_only`.
    pub token_reuse: String,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let p = Policy::default();
        let renewal = p.renewal();
        let cap = p.user_cap();
        Self {
            idle_timeout: Dur(p.idle_timeout()),
            absolute_lifetime: Dur(p.absolute_lifetime()),
            touch_interval: Dur(p.touch_interval()),
            renewal_interval: Dur(renewal.map_or(Duration::ZERO, |r| r.interval)),
            renewal_grace: Dur(renewal.map_or(Duration::ZERO, |r| r.grace)),
            rotation_grace: Dur(p.rotation_grace()),
            max_sessions_per_user: cap.map_or(0, |c| c.max),
            on_limit: "evict_oldest".into(),
            bind_user_agent: true,
            bind_ip: "off".into(),
            bind_ip_prefix_v4: 24,
            bind_ip_prefix_v6: 48,
            bind_hints: Vec::new(),
            on_device_mismatch: "destroy".into(),
            max_data_size: p.max_data_size(),
            tombstone_ttl: Dur(p.tombstone_ttl()),
            token_reuse: "end_successor".into(),
        }
    }
}

fn one_of<T: Copy>(setting: &str, value: &str, choices: &[(&str, T)]) -> Result<T, ConfigError> {
    choices
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<_> = choices.iter().map(|(n, _)| *n).collect();
            ConfigError::new(
                setting,
                format!("{value:?} is not one of {}", names.join(", ")),
            )
        })
}

impl PolicyConfig {
    /// The engine's policy, validated.
    pub fn to_policy(&self) -> Result<Policy, ConfigError> {
        let on_limit = one_of(
            "policy.on_limit",
            &self.on_limit,
            &[
                ("evict_oldest", CapAction::EvictOldest),
                ("reject_new", CapAction::RejectNew),
            ],
        )?;
        let on_mismatch = one_of(
            "policy.on_device_mismatch",
            &self.on_device_mismatch,
            &[
                ("destroy", MismatchAction::Destroy),
                ("flag", MismatchAction::Flag),
                ("ignore", MismatchAction::Ignore),
            ],
        )?;
        let ip = match self.bind_ip.as_str() {
            "off" => IpBinding::Off,
            "exact" => IpBinding::Exact,
            "prefix" => IpBinding::Prefix {
                v4: self.bind_ip_prefix_v4,
                v6: self.bind_ip_prefix_v6,
            },
            other => {
                return Err(ConfigError::new(
                    "policy.bind_ip",
                    format!("{other:?} is not one of off, exact, prefix"),
                ));
            }
        };
        let token_reuse = one_of(
            "policy.token_reuse",
            &self.token_reuse,
            &[
                ("end_successor", sesame::TokenReuseAction::EndSuccessor),
                ("refuse_only", sesame::TokenReuseAction::RefuseOnly),
            ],
        )?;
        let mut binding = DeviceBinding::none()
            .with_user_agent(self.bind_user_agent)
            .with_ip(ip)
            .with_on_mismatch(on_mismatch);
        for hint in &self.bind_hints {
            binding = binding.with_hint(hint.clone());
        }
        let renewal = (!self.renewal_interval.0.is_zero()).then_some(Renewal {
            interval: self.renewal_interval.0,
            grace: self.renewal_grace.0,
        });
        let cap = (self.max_sessions_per_user > 0).then_some(UserCap {
            max: self.max_sessions_per_user,
            on_limit,
        });
        let policy = Policy::default()
            .with_idle_timeout(self.idle_timeout.0)
            .with_absolute_lifetime(self.absolute_lifetime.0)
            .with_touch_interval(self.touch_interval.0)
            .with_renewal(renewal)
            .with_rotation_grace(self.rotation_grace.0)
            .with_user_cap(cap)
            .with_device_binding(binding)
            .with_max_data_size(self.max_data_size)
            .with_tombstone_ttl(self.tombstone_ttl.0)
            .with_token_reuse(token_reuse);
        policy.validate().map_err(|e| {
            let text = match e {
                sesame::Error::Config(text) => text,
                other => other.to_string(),
            };
            let name = text.split_whitespace().next().unwrap_or("policy");
            ConfigError::new(format!("policy.{}", name.trim_end_matches(':')), text)
        })?;
        Ok(policy)
    }
}

/// Cookie settings.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CookieConfig {
    /// Fernet keys, newest first (`sesame keygen` makes one). The first seals,
    /// any opens. Empty: the API returns no cookie values.
    pub keys: Vec<String>,
}

/// One API key entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A label for logs.
    pub name: String,
    /// `sha256:<64 hex>` of the key (`sesame apikey` prints it).
    pub hash: String,
    /// Any of `validate`, `sessions`, `admin`.
    pub scopes: Vec<String>,
}

/// Lifecycle webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where events are POSTed (http or https).
    pub url: String,
    /// The HMAC-SHA256 secret for the `Sesame-Signature` header.
    pub secret: String,
    /// Delivery attempts per event before it is dropped.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry; doubles on each.
    #[serde(default = "default_backoff")]
    pub initial_backoff: Dur,
    /// Timeout of one delivery attempt.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: Dur,
    /// Events waiting for delivery; more are dropped (and counted).
    #[serde(default = "default_queue")]
    pub queue_size: usize,
}

fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> Dur {
    Dur(Duration::from_millis(500))
}
fn default_webhook_timeout() -> Dur {
    Dur(Duration::from_secs(5))
}
fn default_queue() -> usize {
    10_000
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
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

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7700".into(),
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

/// How a setting is written in an environment variable.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    /// Comma-separated.
    List,
}

/// Every setting that can come from the environment: `SESAME_` + the dotted
/// name in upper case with `_` for `.`.
const ENV_SETTINGS: &[(&str, Kind)] = &[
    ("listen", Kind::Str),
    ("store", Kind::Str),
    ("data_dir", Kind::Str),
    ("log.format", Kind::Str),
    ("log.level", Kind::Str),
    ("limits.max_body_bytes", Kind::Int),
    ("limits.max_header_bytes", Kind::Int),
    ("limits.request_timeout", Kind::Str),
    ("limits.shutdown_timeout", Kind::Str),
    ("limits.max_concurrency", Kind::Int),
    ("limits.workers", Kind::Int),
    ("cleanup.interval", Kind::Str),
    ("guard.max_invalid", Kind::Int),
    ("guard.window", Kind::Str),
    ("guard.block", Kind::Str),
    ("guard.max_tracked", Kind::Int),
    ("policy.idle_timeout", Kind::Str),
    ("policy.absolute_lifetime", Kind::Str),
    ("policy.touch_interval", Kind::Str),
    ("policy.renewal_interval", Kind::Str),
    ("policy.renewal_grace", Kind::Str),
    ("policy.rotation_grace", Kind::Str),
    ("policy.max_sessions_per_user", Kind::Int),
    ("policy.on_limit", Kind::Str),
    ("policy.bind_user_agent", Kind::Bool),
    ("policy.bind_ip", Kind::Str),
    ("policy.bind_ip_prefix_v4", Kind::Int),
    ("policy.bind_ip_prefix_v6", Kind::Int),
    ("policy.bind_hints", Kind::List),
    ("policy.on_device_mismatch", Kind::Str),
    ("policy.max_data_size", Kind::Int),
    ("policy.tombstone_ttl", Kind::Str),
    ("policy.token_reuse", Kind::Str),
    ("cookie.keys", Kind::List),
    ("webhook.url", Kind::Str),
    ("webhook.secret", Kind::Str),
];

/// The environment variable of a dotted setting name.
pub fn env_name(setting: &str) -> String {
    format!("SESAME_{}", setting.replace('.', "_").to_uppercase())
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

fn set_path(table: &mut Table, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut cur = table;
    for part in parts {
        let entry = cur
            .entry(part.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        cur = match entry {
            Value::Table(t) => t,
            _ => return,
        };
    }
    cur.insert(last.to_owned(), value);
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
    /// Loads the config: the file at `path` (if any), then the environment
    /// read through `env`, then `flags`.
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
        for (setting, kind) in ENV_SETTINGS {
            let var = env_name(setting);
            let Some(raw) = env(&var) else { continue };
            let value = match kind {
                Kind::Str => Value::String(raw),
                Kind::Int => {
                    Value::Integer(raw.trim().parse().map_err(|_| {
                        ConfigError::new(&var, format!("{raw:?} is not an integer"))
                    })?)
                }
                Kind::Bool => Value::Boolean(match raw.trim() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(ConfigError::new(&var, format!("{raw:?} is not true/false"))),
                }),
                Kind::List => Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                ),
            };
            set_path(&mut table, setting, value);
        }
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
                set_path(&mut table, setting, Value::String(v));
            }
        }
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

    /// Checks every setting that has a form beyond its type.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.policy.to_policy()?;
        self.api_keys()?;
        crate::stores::check_url(&self.store_url())?;
        if self.limits.max_body_bytes == 0 {
            return Err(ConfigError::new(
                "limits.max_body_bytes",
                "must be at least 1",
            ));
        }
        if self.limits.max_header_bytes < 1024 {
            return Err(ConfigError::new(
                "limits.max_header_bytes",
                "must be at least 1024",
            ));
        }
        if self.limits.request_timeout.0.is_zero() {
            return Err(ConfigError::new(
                "limits.request_timeout",
                "must be greater than zero",
            ));
        }
        if self.limits.max_concurrency == 0 {
            return Err(ConfigError::new(
                "limits.max_concurrency",
                "must be at least 1",
            ));
        }
        if self.limits.workers > MAX_WORKERS {
            return Err(ConfigError::new(
                "limits.workers",
                format!("must be at most {MAX_WORKERS} (0: two per CPU)"),
            ));
        }
        if self.guard.max_invalid > 0 {
            if self.guard.window.0.as_secs() == 0 {
                return Err(ConfigError::new("guard.window", "must be at least 1s"));
            }
            if self.guard.block.0.as_secs() == 0 {
                return Err(ConfigError::new("guard.block", "must be at least 1s"));
            }
        }
        if let Some(hook) = &self.webhook {
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "webhook.url",
                    "must be an http:// or https:// URL",
                ));
            }
            if hook.secret.len() < 16 {
                return Err(ConfigError::new(
                    "webhook.secret",
                    "must be at least 16 characters",
                ));
            }
            if hook.max_attempts == 0 {
                return Err(ConfigError::new(
                    "webhook.max_attempts",
                    "must be at least 1",
                ));
            }
        }
        crate::cookies::check_keys(&self.cookie.keys)?;
        Ok(())
    }

    /// The listen address.
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

    /// The configured API keys.
    pub fn api_keys(&self) -> Result<ApiKeys, ConfigError> {
        let mut keys = Vec::new();
        for (i, entry) in self.api_keys.iter().enumerate() {
            let hash = entry.hash.strip_prefix("sha256:").ok_or_else(|| {
                ConfigError::new(format!("api_keys[{i}].hash"), "must start with \"sha256:\"")
            })?;
            let bytes: [u8; 32] = hex::decode(hash)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    ConfigError::new(
                        format!("api_keys[{i}].hash"),
                        "must be sha256: followed by 64 hex digits",
                    )
                })?;
            if entry.scopes.is_empty() {
                return Err(ConfigError::new(
                    format!("api_keys[{i}].scopes"),
                    "must name at least one scope",
                ));
            }
            let mut scopes = Vec::new();
            for s in &entry.scopes {
                scopes.push(Scope::parse(s).ok_or_else(|| {
                    ConfigError::new(
                        format!("api_keys[{i}].scopes"),
                        format!("{s:?} is not one of validate, sessions, admin"),
                    )
                })?);
            }
            keys.push(ApiKey {
                name: entry.name.clone(),
                hash: bytes,
                scopes,
            });
        }
        Ok(ApiKeys::new(keys))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("7y").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn precedence_is_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\nstore = \"memory://\"\n[policy]\nidle_timeout = \"5m\"\nmax_sessions_per_user = 3\n",
        )
        .unwrap();
        let env = env_of(&[
            ("SESAME_LISTEN", "127.0.0.1:2"),
            ("SESAME_POLICY_MAX_SESSIONS_PER_USER", "4"),
        ]);
        let c = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!(c.listen, "127.0.0.1:2");
        assert_eq!(c.policy.idle_timeout.0, Duration::from_secs(300));
        assert_eq!(c.policy.max_sessions_per_user, 4);
        let flags = Overrides {
            listen: Some("127.0.0.1:3".into()),
            ..Default::default()
        };
        let c = Config::load(Some(&file), &env, &flags).unwrap();
        assert_eq!(c.listen, "127.0.0.1:3");
    }

    #[test]
    fn errors_name_the_setting() {
        let none = env_of(&[]);
        let err = |pairs: &[(&str, &str)]| {
            Config::load(None, &env_of(pairs), &Overrides::default()).unwrap_err()
        };
        assert_eq!(err(&[("SESAME_LISTEN", "nowhere")]).setting, "listen");
        assert_eq!(
            err(&[("SESAME_LIMITS_WORKERS", "100000")]).setting,
            "limits.workers"
        );
        assert_eq!(
            err(&[("SESAME_POLICY_IDLE_TIMEOUT", "5 parsecs")]).setting,
            "policy.idle_timeout"
        );
        assert_eq!(
            err(&[("SESAME_POLICY_MAX_SESSIONS_PER_USER", "many")]).setting,
            "SESAME_POLICY_MAX_SESSIONS_PER_USER"
        );
        assert_eq!(
            err(&[("SESAME_POLICY_ABSOLUTE_LIFETIME", "1s")]).setting,
            "policy.absolute_lifetime"
        );
        assert_eq!(
            err(&[("SESAME_POLICY_ON_LIMIT", "shrug")]).setting,
            "policy.on_limit"
        );
        assert_eq!(err(&[("SESAME_STORE", "ftp://x")]).setting, "store");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "[policy]\nidle_timeot = \"5m\"\n").unwrap();
        let e = Config::load(Some(&file), &none, &Overrides::default()).unwrap_err();
        assert_eq!(e.setting, "policy.idle_timeot");
        assert!(e.message.contains("idle_timeot"), "{e}");
        std::fs::write(
            &file,
            "[[api_keys]]\nname = \"a\"\nhash = \"md5:00\"\nscopes = [\"admin\"]\n",
        )
        .unwrap();
        let e = Config::load(Some(&file), &none, &Overrides::default()).unwrap_err();
        assert_eq!(e.setting, "api_keys[0].hash");
    }

    #[test]
    fn the_example_file_is_valid_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sesame.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: Config = toml::from_str(&text).unwrap();
        let defaults = Config::default();
        assert_eq!(parsed.listen, defaults.listen);
        assert_eq!(parsed.policy.idle_timeout.0, defaults.policy.idle_timeout.0);
        assert_eq!(
            parsed.policy.to_policy().unwrap(),
            defaults.policy.to_policy().unwrap()
        );
        assert_eq!(parsed.cleanup.interval.0, defaults.cleanup.interval.0);
        assert_eq!(parsed.limits.max_body_bytes, defaults.limits.max_body_bytes);
        assert_eq!(parsed.guard.max_invalid, defaults.guard.max_invalid);
        assert_eq!(parsed.guard.window.0, defaults.guard.window.0);
        assert_eq!(parsed.guard.block.0, defaults.guard.block.0);
        assert_eq!(parsed.guard.max_tracked, defaults.guard.max_tracked);
        // Every setting the environment can set is in the file, commented or not.
        for (setting, _) in ENV_SETTINGS {
            let leaf = setting.rsplit('.').next().unwrap();
            assert!(text.contains(leaf), "sesame.example.toml lacks {setting}");
        }
    }
}
