//! Configuration: servers, key prefix, timeouts, from a URL or builders.

use std::time::Duration;

use sesame::Error;

use crate::client::check_key;

/// Longest accepted key prefix, so every key stays under memcached's 250 bytes.
pub const MAX_PREFIX_LEN: usize = 100;

/// How to reach memcached and name keys.
///
/// URL form: `memcache://host:port[,host:port...][?prefix=P&timeout_ms=N&max_connections=N]`
/// (`memcached://` is accepted too). Several servers share the keys by
/// client-side consistent hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemcachedConfig {
    pub(crate) servers: Vec<String>,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) cas_attempts: u32,
    pub(crate) local_locks: bool,
}

impl MemcachedConfig {
    /// One or more servers (`host:port`) with the defaults: prefix
    /// `sesame:`, a 1-second command timeout, 64 connections per server, 200
    /// CAS attempts, local write coordination on.
    pub fn new<S: Into<String>>(servers: impl IntoIterator<Item = S>) -> Result<Self, Error> {
        let servers: Vec<String> = servers.into_iter().map(Into::into).collect();
        if servers.is_empty() || servers.iter().any(|s| s.is_empty() || s.contains('/')) {
            return Err(Error::Config(
                "memcached: give at least one host:port".into(),
            ));
        }
        Ok(Self {
            servers,
            prefix: "sesame:".into(),
            timeout: Duration::from_secs(1),
            max_connections: 64,
            cas_attempts: 200,
            local_locks: true,
        })
    }

    /// Parses `memcache://host:port[,host:port...][?prefix=..&timeout_ms=..&max_connections=..]`.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let bad = |what: &str| Error::Config(format!("memcached URL: {what}"));
        let rest = url
            .strip_prefix("memcache://")
            .or_else(|| url.strip_prefix("memcached://"))
            .ok_or_else(|| bad("must start with memcache:// or memcached://"))?;
        let (hosts, query) = match rest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (rest, None),
        };
        let hosts = hosts.trim_end_matches('/');
        let mut config = Self::new(hosts.split(',').map(str::trim))?;
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| bad("option without '='"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| bad(&format!("{name} must be a number")))
            };
            config = match name {
                "prefix" => config.with_prefix(value)?,
                "timeout_ms" => config.with_timeout(Duration::from_millis(number()?))?,
                "max_connections" => config.with_max_connections(number()? as usize)?,
                other => return Err(bad(&format!("unknown option {other:?}"))),
            };
        }
        Ok(config)
    }

    /// Prefix of every key (default `sesame:`): printable ASCII, no spaces, at
    /// most 100 bytes. Give each application or test its own.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Result<Self, Error> {
        let prefix = prefix.into();
        if prefix.len() > MAX_PREFIX_LEN || (!prefix.is_empty() && check_key(&prefix).is_err()) {
            return Err(Error::Config(
                "memcached prefix: at most 100 bytes of printable ASCII without spaces".into(),
            ));
        }
        self.prefix = prefix;
        Ok(self)
    }

    /// Deadline of every command, connecting included (default 1 s). A dead
    /// server answers `StoreUnavailable` within it.
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Self, Error> {
        if timeout.is_zero() {
            return Err(Error::Config("memcached timeout must be positive".into()));
        }
        self.timeout = timeout;
        Ok(self)
    }

    /// Connections open at once per server (default 64).
    pub fn with_max_connections(mut self, max: usize) -> Result<Self, Error> {
        if max == 0 {
            return Err(Error::Config(
                "memcached max_connections must be positive".into(),
            ));
        }
        self.max_connections = max;
        Ok(self)
    }

    /// How often a read-modify-write retries on a CAS conflict before giving
    /// up with `StoreUnavailable` (default 200, with jittered backoff).
    pub fn with_cas_attempts(mut self, attempts: u32) -> Result<Self, Error> {
        if attempts == 0 {
            return Err(Error::Config(
                "memcached cas_attempts must be positive".into(),
            ));
        }
        self.cas_attempts = attempts;
        Ok(self)
    }

    /// Whether writers in this process to one session (or one user's index)
    /// queue behind a local lock before their CAS (default on). Correctness
    /// never depends on it — CAS decides — but it spares 50 concurrent
    /// writers a retry storm. Off, every conflict goes through CAS retries, as
    /// between processes.
    pub fn with_local_locks(mut self, on: bool) -> Self {
        self.local_locks = on;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The servers.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let c = MemcachedConfig::from_url("memcache://127.0.0.1:11211").unwrap();
        assert_eq!(c.servers, vec!["127.0.0.1:11211"]);
        assert_eq!(c.prefix, "sesame:");
        let c = MemcachedConfig::from_url(
            "memcached://a:1,b:2/?prefix=app1:&timeout_ms=250&max_connections=8",
        )
        .unwrap();
        assert_eq!(c.servers, vec!["a:1", "b:2"]);
        assert_eq!(c.prefix, "app1:");
        assert_eq!(c.timeout, Duration::from_millis(250));
        assert_eq!(c.max_connections, 8);
        for bad in [
            "redis://a:1",
            "memcache://",
            "memcache://a:1?timeout_ms=x",
            "memcache://a:1?nope=1",
            "memcache://a:1?prefix=has space",
            "memcache://a:1?timeout_ms=0",
        ] {
            assert!(
                matches!(MemcachedConfig::from_url(bad), Err(Error::Config(_))),
                "{bad}"
            );
        }
        assert!(
            MemcachedConfig::new(["a:1"])
                .unwrap()
                .with_prefix("x".repeat(101))
                .is_err()
        );
    }
}
