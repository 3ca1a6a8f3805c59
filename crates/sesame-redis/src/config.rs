//! Connection settings.

use std::time::Duration;

use sesame::{Error, Result};

/// Default per-command timeout.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

/// How to reach Redis and how to name keys. Fields are private; set them
/// with the `with_*` builders.
///
/// URLs:
/// - `redis://[user:password@]host[:port][/db]` — one server (ACL user and
///   password, database number);
/// - `rediss://...` — the same over TLS (feature `tls`, on by default);
/// - `redis+cluster://[user:password@]host:port,host:port,...` (or
///   `rediss+cluster://`) — a Redis Cluster, given any of its nodes
///   (database 0 only: a cluster has no others).
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) command_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect_retries: usize,
    pub(crate) max_backoff: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisConfig")
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisConfig {
    /// Settings for `url` with the defaults: key prefix `sesame:`, 250 ms
    /// per command, 250 ms per connection attempt, reconnect backoff up to
    /// 1 s.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "sesame:".into(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            connect_timeout: DEFAULT_COMMAND_TIMEOUT,
            reconnect_retries: 6,
            max_backoff: Duration::from_secs(1),
        }
    }

    /// Prefix of every key (default `sesame:`); no `{` or `}` (they would
    /// change the cluster hash tags).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Longest wait for any one command (default 250 ms). Past it the
    /// operation fails with `StoreUnavailable`.
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Longest wait for one connection attempt (default 250 ms).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest pause between reconnection attempts (default 1 s); attempts
    /// back off exponentially from 10 ms up to it.
    pub fn with_max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.prefix.contains(['{', '}']) {
            return Err(Error::Config(
                "redis key prefix must not contain '{' or '}'".into(),
            ));
        }
        if self.command_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("redis timeouts must be positive".into()));
        }
        Ok(())
    }

    /// For a cluster URL, the node URLs; `None` for one server.
    pub(crate) fn cluster_nodes(&self) -> Result<Option<Vec<String>>> {
        let (scheme, rest) = if let Some(rest) = self.url.strip_prefix("redis+cluster://") {
            ("redis", rest)
        } else if let Some(rest) = self.url.strip_prefix("rediss+cluster://") {
            ("rediss", rest)
        } else {
            return Ok(None);
        };
        let rest = rest.trim_end_matches('/');
        let (auth, hosts) = match rest.rsplit_once('@') {
            Some((auth, hosts)) => (format!("{auth}@"), hosts),
            None => (String::new(), rest),
        };
        let nodes: Vec<String> = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| format!("{scheme}://{auth}{h}"))
            .collect();
        if nodes.is_empty() {
            return Err(Error::Config("redis cluster url names no node".into()));
        }
        Ok(Some(nodes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_list_their_nodes() {
        let c = RedisConfig::new("redis+cluster://u:p@127.0.0.1:7101,127.0.0.1:7102/");
        assert_eq!(
            c.cluster_nodes().unwrap().unwrap(),
            vec!["redis://u:p@127.0.0.1:7101", "redis://u:p@127.0.0.1:7102"]
        );
        assert!(
            RedisConfig::new("redis://127.0.0.1/2")
                .cluster_nodes()
                .unwrap()
                .is_none()
        );
        assert!(RedisConfig::new("x").with_prefix("a{b").validate().is_err());
    }
}
