//! Connection settings.

use std::time::Duration;

use sesame::{Error, Result};

/// Default per-command timeout.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

/// Default number of multiplexed connections to a standalone server.
pub const DEFAULT_CONNECTIONS: usize = 2;

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
///
/// A user name or password with reserved characters (`@`, `:`, `/`, `%`, …)
/// must be percent-encoded in the URL.
///
/// TLS trusts the webpki (Mozilla) roots by default. A server whose
/// certificate comes from a private CA needs
/// [`with_root_certificates`](Self::with_root_certificates); a server that
/// asks for client certificates (mutual TLS) needs
/// [`with_client_certificate`](Self::with_client_certificate).
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) command_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect_retries: usize,
    pub(crate) max_backoff: Duration,
    pub(crate) connections: usize,
    /// PEM root certificates that replace the webpki roots.
    #[cfg(feature = "tls")]
    pub(crate) root_certificates: Option<Vec<u8>>,
    /// PEM client certificate chain and private key for mutual TLS.
    #[cfg(feature = "tls")]
    pub(crate) client_certificate: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisConfig")
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("connections", &self.connections)
            .field("custom_tls", &self.custom_tls())
            .finish_non_exhaustive()
    }
}

impl RedisConfig {
    /// Settings for `url` with the defaults: key prefix `sesame:`, 250 ms
    /// per command, 250 ms per connection attempt, reconnect backoff up to
    /// 1 s, two connections.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "sesame:".into(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            connect_timeout: DEFAULT_COMMAND_TIMEOUT,
            reconnect_retries: 6,
            max_backoff: Duration::from_secs(1),
            connections: DEFAULT_CONNECTIONS,
            #[cfg(feature = "tls")]
            root_certificates: None,
            #[cfg(feature = "tls")]
            client_certificate: None,
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

    /// Multiplexed connections to a standalone server (default 2, at least
    /// 1); commands take them in turn. One connection's reader task caps
    /// the throughput of all callers (docs/BENCHMARKS.md: 62k loads/s with
    /// one, 92k with two, 50 callers on tokio's default runtime). A cluster
    /// keeps one connection per node, whatever this says.
    pub fn with_connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }

    /// Longest pause between reconnection attempts (default 1 s); attempts
    /// back off exponentially from 10 ms up to it.
    pub fn with_max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Trusts the CA certificate(s) in `pem` — one or more `CERTIFICATE`
    /// blocks, as in a `ca.crt` file — for a `rediss://` or
    /// `rediss+cluster://` URL, **instead of** the webpki roots: a Redis
    /// with a certificate from a private CA is then trusted, and one with a
    /// certificate from a public CA is not (unless its root is in `pem`).
    ///
    /// The certificates are given as bytes rather than as a file path so
    /// that they can come from anywhere (a file, a secret store, an
    /// environment variable): `std::fs::read("ca.crt")?`.
    ///
    /// Connecting fails with `Error::Config` when `pem` holds no
    /// certificate or an unreadable one, or when the URL is not a TLS one.
    /// The server's host name (or IP address) is still checked against its
    /// certificate.
    #[cfg(feature = "tls")]
    pub fn with_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates = Some(pem.into());
        self
    }

    /// Presents a client certificate for mutual TLS (Redis's
    /// `tls-auth-clients yes`): `cert_pem` is the certificate chain (the
    /// client's certificate first), `key_pem` its private key (PKCS#8,
    /// PKCS#1 or SEC1 PEM). Works with or without
    /// [`with_root_certificates`](Self::with_root_certificates).
    ///
    /// Connecting fails with `Error::Config` when either cannot be read,
    /// when the key does not fit the certificate, or when the URL is not a
    /// TLS one.
    #[cfg(feature = "tls")]
    pub fn with_client_certificate(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_certificate = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True when root or client certificates were given.
    fn custom_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            self.root_certificates.is_some() || self.client_certificate.is_some()
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }

    /// The certificates for redis-rs, when any were given. Parsed and
    /// checked here (the way rustls will use them), so that a bad PEM is an
    /// `Error::Config` before connecting rather than a failure at connect
    /// time. Error texts never quote the key.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_certificates(&self) -> Result<Option<redis::TlsCertificates>> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        if !self.custom_tls() {
            return Ok(None);
        }
        if !self.is_tls_url() {
            return Err(Error::Config(
                "redis root/client certificates need a rediss:// or rediss+cluster:// url".into(),
            ));
        }
        fn certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::Config(format!("redis {what}: unreadable PEM: {e}")))?;
            if certs.is_empty() {
                return Err(Error::Config(format!(
                    "redis {what}: no PEM CERTIFICATE block found"
                )));
            }
            Ok(certs)
        }
        // Each root is added to a throw-away store only to check it is a
        // usable CA; redis-rs gets the PEM itself.
        let mut roots = rustls::RootCertStore::empty();
        if let Some(pem) = &self.root_certificates {
            for cert in certs(pem, "root certificates")? {
                roots.add(cert).map_err(|e| {
                    Error::Config(format!("redis root certificates: not a usable CA: {e}"))
                })?;
            }
        }
        let client_tls = match &self.client_certificate {
            None => None,
            Some((cert_pem, key_pem)) => {
                let chain = certs(cert_pem, "client certificate")?;
                let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
                    Error::Config(
                        "redis client key: no readable PEM private key (PKCS#8, PKCS#1 or SEC1)"
                            .into(),
                    )
                })?;
                // What redis-rs does at connect time (rustls checks that
                // the key fits the certificate); done here for the error.
                rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| Error::Config(format!("redis tls: {e}")))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Config(format!("redis client certificate and key: {e}")))?;
                Some(redis::ClientTlsConfig {
                    client_cert: cert_pem.clone(),
                    client_key: key_pem.clone(),
                })
            }
        };
        Ok(Some(redis::TlsCertificates {
            client_tls,
            root_cert: self.root_certificates.clone(),
        }))
    }

    /// True for `rediss://` and `rediss+cluster://` (and the other TLS
    /// schemes redis-rs knows, such as `valkeys://`).
    #[cfg(feature = "tls")]
    fn is_tls_url(&self) -> bool {
        use redis::IntoConnectionInfo;
        if self.url.starts_with("rediss+cluster://") {
            return true;
        }
        if self.url.starts_with("redis+cluster://") {
            return false;
        }
        self.url
            .as_str()
            .into_connection_info()
            .is_ok_and(|info| matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }))
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
