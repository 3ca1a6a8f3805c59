//! The store factory: a URL chooses the store.
//!
//! Each scheme is one match arm that hands the URL to the crate providing the
//! store, so adding a store is one arm here and one dependency. Every CLI
//! command opens its store through [`open`], which is why the CLI works
//! against the configured store directly, and fails at once when it is down.
//! The server opens it through [`open_for_serve`], which starts anyway when a
//! networked store does not answer yet (see [`crate::pending`]).

use std::path::Path;
use std::sync::Arc;

use sesame::{MemoryStore, Store};
use sesame_memcached::MemcachedStore;
use sesame_redis::{RedisConfig, RedisStore};
use sesame_sql::{SqlConfig, SqlStore};

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
    /// The SQL store, closed on shutdown: its inline SQLite readers first,
    /// then the pools, so the last connection to go can remove the WAL files.
    pub sql: Option<SqlStore>,
}

impl StoreHandle {
    /// Releases the store's connections (after the last request).
    pub async fn close(&self) {
        if let Some(sql) = &self.sql {
            sql.close().await;
        }
    }
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The schemes this build knows.
pub const SCHEMES: &[&str] = &[
    "sqlite",
    "memory",
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "redis",
    "rediss",
    "redis+cluster",
    "rediss+cluster",
    "memcached",
    "memcache",
];

/// The default store URL for a data folder: the embedded SQLite file.
pub fn default_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("sesame.db").display())
}

/// The SQLite URL sqlx needs: `mode=rwc` creates the file, `mode=rw` wants
/// it to exist. A URL that already names a mode is left alone.
fn sqlite_url(url: &str, create: bool) -> Result<String, OpenError> {
    if url.contains("mode=") {
        return Ok(url.to_owned());
    }
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if !create && !path.contains(":memory:") && !Path::new(path).exists() {
        return Err(OpenError::Missing(format!(
            "no database at {path}: run `sesame migrate` or `sesame serve` first"
        )));
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let mode = if create { "rwc" } else { "rw" };
    Ok(format!("{url}{sep}mode={mode}"))
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
    /// The store did not open. The text gives the whole cause chain (e.g.
    /// "connection refused"), which the bare error does not.
    #[error("cannot open the store: {}", detail(.0))]
    Store(#[from] sesame::Error),
    /// The database does not exist yet.
    #[error("{0}")]
    Missing(String),
}

/// Opens the store at `url`. With `create`, makes what the store needs (the
/// SQLite file, the schema); without, the database must exist (CLI commands
/// never create an empty database by accident).
pub async fn open(url: &str, create: bool) -> Result<StoreHandle, OpenError> {
    let sql_config = SqlConfig::default().with_migrate(create);
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
                sql: None,
            })
        }
        "sqlite" => {
            let url = sqlite_url(url, create)?;
            if create {
                create_parent(&url)?;
            }
            let store = SqlStore::connect_with(&url, sql_config).await?;
            Ok(sql_handle(store, "sqlite"))
        }
        "postgres" | "postgresql" => {
            let (url, config) = with_schema(url, sql_config);
            Ok(sql_handle(
                SqlStore::connect_with(&url, config).await?,
                "postgres",
            ))
        }
        "mysql" | "mariadb" => {
            let (url, config) = with_schema(url, sql_config);
            Ok(sql_handle(
                SqlStore::connect_with(&url, config).await?,
                "mysql",
            ))
        }
        "redis" | "rediss" | "redis+cluster" | "rediss+cluster" => {
            let store = RedisStore::connect_with(redis_config(url)?).await?;
            let kind = if store.is_cluster() {
                "redis+cluster"
            } else {
                "redis"
            };
            Ok(StoreHandle {
                store: Arc::new(store),
                kind,
                live_count: None,
                sql: None,
            })
        }
        "memcached" | "memcache" => Ok(StoreHandle {
            store: Arc::new(MemcachedStore::connect(url).await?),
            kind: "memcached",
            live_count: None,
            sql: None,
        }),
        _ => {
            check_url(url)?;
            Err(ConfigError::new("store", "this scheme has no store in this build").into())
        }
    }
}

/// An error and its causes, joined by `: ` (for logs and the CLI; the API
/// never shows it).
pub fn detail(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}

/// The kind of a store that lives in another process and may come later:
/// `None` for SQLite and memory (local, they open or they do not).
fn networked_kind(url: &str) -> Option<&'static str> {
    match scheme(url).ok()? {
        "postgres" | "postgresql" => Some("postgres"),
        "mysql" | "mariadb" => Some("mysql"),
        "redis" | "rediss" => Some("redis"),
        "redis+cluster" | "rediss+cluster" => Some("redis+cluster"),
        "memcached" | "memcache" => Some("memcached"),
        _ => None,
    }
}

/// Opens the store `sesame serve` runs on, creating what it needs. A
/// networked store that is unreachable (`StoreUnavailable`) does not stop the
/// server: it gets a [`crate::pending::Pending`] store that connects in the
/// background and answers 503 until then. Any other failure (a bad URL, an
/// SQLite file that cannot be opened, a failed migration) is returned.
pub async fn open_for_serve(url: &str) -> Result<StoreHandle, OpenError> {
    match open(url, true).await {
        Err(OpenError::Store(e @ sesame::Error::StoreUnavailable(_))) => {
            let Some(kind) = networked_kind(url) else {
                return Err(OpenError::Store(e));
            };
            Ok(StoreHandle {
                store: crate::pending::Pending::start(url.to_owned(), kind, &e),
                kind,
                live_count: None,
                sql: None,
            })
        }
        other => other,
    }
}

/// A Redis URL's config: `prefix=` puts every key under a prefix; `ca=`
/// (a PEM file of root certificates, for a server whose certificate comes
/// from a private CA), `cert=` and `key=` (a client certificate and its key,
/// for mutual TLS) apply to `rediss://` URLs.
fn redis_config(url: &str) -> Result<RedisConfig, sesame::Error> {
    let (url, prefix) = take_param(url, "prefix");
    let (url, ca) = take_param(&url, "ca");
    let (url, cert) = take_param(&url, "cert");
    let (url, key) = take_param(&url, "key");
    let (url, connections) = take_param(&url, "connections");
    let mut config = RedisConfig::new(url);
    if let Some(n) = connections {
        match n.parse::<usize>() {
            Ok(n @ 1..) => config = config.with_connections(n),
            _ => {
                return Err(sesame::Error::Config(format!(
                    "redis url: connections={n}: give a number of connections, 1 or more"
                )));
            }
        }
    }
    if let Some(prefix) = prefix {
        config = config.with_prefix(prefix);
    }
    if let Some(ca) = ca {
        config = config.with_root_certificates(read_pem("ca", &ca)?);
    }
    match (cert, key) {
        (Some(cert), Some(key)) => {
            config =
                config.with_client_certificate(read_pem("cert", &cert)?, read_pem("key", &key)?);
        }
        (None, None) => {}
        _ => {
            return Err(sesame::Error::Config(
                "redis url: cert= and key= go together (a client certificate and its key)".into(),
            ));
        }
    }
    Ok(config)
}

/// Reads the PEM file a URL parameter names.
fn read_pem(param: &str, path: &str) -> Result<Vec<u8>, sesame::Error> {
    std::fs::read(path)
        .map_err(|e| sesame::Error::Config(format!("redis url: {param}={path}: cannot read: {e}")))
}

/// Removes `name=value` from the URL's query; returns the URL and the value.
/// (`redis://host?prefix=app1:` puts every key under `app1:`, so several
/// deployments can share one Redis.)
fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut value = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.split_once('=') {
            Some((k, v)) if k == name => {
                value = Some(v.to_owned());
                false
            }
            _ => true,
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, value)
}

/// Takes `schema=NAME` off a PostgreSQL or MySQL URL into the SQL config:
/// the tables live in that PostgreSQL schema or MySQL database, so several
/// deployments (or test runs) can share one server.
fn with_schema(url: &str, config: SqlConfig) -> (String, SqlConfig) {
    match take_param(url, "schema") {
        (url, Some(schema)) => (url, config.with_schema(schema)),
        (url, None) => (url, config),
    }
}

fn sql_handle(store: SqlStore, kind: &'static str) -> StoreHandle {
    StoreHandle {
        store: Arc::new(store.clone()),
        kind,
        live_count: None,
        sql: Some(store),
    }
}

/// Creates the SQLite database's folder (0700) and the file itself (empty,
/// 0600) if missing.
fn create_parent(url: &str) -> Result<(), OpenError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = Path::new(path.split('?').next().unwrap_or(path));
    if path.as_os_str().to_string_lossy().contains(":memory:") {
        return Ok(());
    }
    let cannot = |at: &Path, e: std::io::Error| {
        OpenError::Missing(format!("cannot create {}: {e}", at.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_fs::create_dir(dir).map_err(|e| cannot(dir, e))?;
    }
    // Made 0600 before SQLite opens it: its -wal and -shm files take the
    // database file's mode.
    crate::private_fs::create_file(path).map_err(|e| cannot(path, e))
}

/// Applies the store's schema migrations; a message saying what was done.
pub async fn migrate(url: &str) -> Result<String, OpenError> {
    match scheme(url)? {
        s @ ("sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb") => {
            let config = SqlConfig::default().with_migrate(false);
            let (url, config) = if s == "sqlite" {
                let u = sqlite_url(url, true)?;
                create_parent(&u)?;
                (u, config)
            } else {
                with_schema(url, config)
            };
            let store = SqlStore::connect_with(&url, config).await?;
            let ran = store.migrate().await?;
            Ok(format!(
                "{s}: {ran} migration(s) applied; the schema is current"
            ))
        }
        _ => {
            let handle = open(url, true).await?;
            Ok(format!("{}: nothing to migrate", handle.kind))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_give_the_cause() {
        let e = OpenError::Store(sesame::Error::unavailable(std::io::Error::other(
            "connection refused",
        )));
        assert_eq!(
            e.to_string(),
            "cannot open the store: session store unavailable: connection refused"
        );
    }

    #[tokio::test]
    async fn serve_starts_on_an_unreachable_networked_store_only() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Nothing listens there once the listener above is dropped.
        let url = format!("redis://127.0.0.1:{port}");
        assert!(matches!(
            open(&url, true).await,
            Err(OpenError::Store(sesame::Error::StoreUnavailable(_)))
        ));
        let handle = open_for_serve(&url).await.unwrap();
        assert_eq!(handle.kind, "redis");
        assert_eq!(
            handle.store.ping().await.unwrap_err().code(),
            "store_unavailable"
        );
        // A bad URL is still a start-up error.
        assert!(matches!(
            open_for_serve("redis://127.0.0.1:1?prefix=a{b").await,
            Err(OpenError::Store(sesame::Error::Config(_)))
        ));
    }

    #[tokio::test]
    async fn redis_url_parameters_are_checked_at_start() {
        let config_error = |r: Result<StoreHandle, OpenError>| match r {
            Err(OpenError::Store(sesame::Error::Config(message))) => message,
            Err(_) => panic!("expected a config error, got another error"),
            Ok(_) => panic!("expected a config error, the store opened"),
        };
        let missing =
            config_error(open_for_serve("rediss://127.0.0.1:1?ca=/nonexistent/ca.pem").await);
        assert!(missing.contains("ca=/nonexistent/ca.pem"), "{missing}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let junk = junk.display();
        let unreadable =
            config_error(open_for_serve(&format!("rediss://127.0.0.1:1?ca={junk}")).await);
        assert!(unreadable.contains("certificate"), "{unreadable}");
        let half = config_error(open_for_serve(&format!("rediss://127.0.0.1:1?cert={junk}")).await);
        assert!(half.contains("cert= and key="), "{half}");
        for bad in ["0", "many", "-1"] {
            let url = format!("redis://127.0.0.1:1?connections={bad}");
            let message = config_error(open_for_serve(&url).await);
            assert!(message.contains(&format!("connections={bad}")), "{message}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            take_param("redis://h:1?prefix=a:&db=2", "prefix"),
            ("redis://h:1?db=2".to_owned(), Some("a:".to_owned()))
        );
        assert_eq!(
            take_param("redis://h:1", "prefix"),
            ("redis://h:1".to_owned(), None)
        );
        assert_eq!(
            default_url(Path::new("./data")),
            "sqlite://./data/sesame.db"
        );
        assert!(check_url("redis+cluster://a:1,b:2").is_ok());
        assert_eq!(check_url("ftp://x").unwrap_err().setting, "store");
        assert_eq!(check_url("nothing").unwrap_err().setting, "store");
        assert!(matches!(
            sqlite_url("sqlite:///nonexistent/dir/x.db", false),
            Err(OpenError::Missing(_))
        ));
        assert_eq!(
            networked_kind("rediss+cluster://a:1"),
            Some("redis+cluster")
        );
        assert_eq!(networked_kind("mariadb://h/db"), Some("mysql"));
        assert_eq!(networked_kind("sqlite://x.db"), None);
        assert_eq!(networked_kind("memory://"), None);
        assert_eq!(
            sqlite_url("sqlite://x.db?cache=shared", true).unwrap(),
            "sqlite://x.db?cache=shared&mode=rwc"
        );
    }
}
