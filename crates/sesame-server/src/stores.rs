//! The store factory: a URL chooses the store.
//!
//! [`SCHEMES`] is the one table of stores: for each URL scheme, the store's
//! kind, whether it lives in another process (networked), how to open it and
//! how to migrate its schema. Adding a store is one row here (and its crate
//! as a dependency). Every CLI command opens its store through [`open`],
//! which is why the CLI works against the configured store directly and fails
//! at once when it is down. The server opens it through [`open_for_serve`],
//! which starts anyway when a networked store does not answer yet (see
//! [`crate::pending`]). A store's connections are released through
//! [`sesame::Store::close`], so the server keeps nothing but the `dyn Store`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use sesame::{MemoryStore, Store};
use sesame_memcached::MemcachedStore;
use sesame_redis::{RedisConfig, RedisStore};
use sesame_sql::{SqlConfig, SqlStore};

/// An opened store, with what the server needs to know about it.
#[derive(Clone)]
pub struct StoreHandle {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The store's kind (for logs and metrics): a [`Scheme::kind`].
    pub kind: &'static str,
    /// Counts live sessions, when the store can do so cheaply.
    pub live_count: Option<Arc<dyn Fn() -> i64 + Send + Sync>>,
}

impl StoreHandle {
    fn new(store: impl Store, kind: &'static str) -> Self {
        Self {
            store: Arc::new(store),
            kind,
            live_count: None,
        }
    }

    /// Releases the store's connections (after the last request).
    pub async fn close(&self) {
        self.store.close().await;
    }
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What opening a store gives.
pub type Opening = Pin<Box<dyn Future<Output = Result<StoreHandle, OpenError>> + Send>>;
/// What migrating a store gives: how many migrations ran.
pub type Migrating = Pin<Box<dyn Future<Output = Result<u32, OpenError>> + Send>>;

/// One URL scheme's store: a row of [`SCHEMES`].
pub struct Scheme {
    /// The URL schemes that name it (`postgres`, `postgresql`).
    pub names: &'static [&'static str],
    /// Its kind, for logs, metrics and messages.
    pub kind: &'static str,
    /// It lives in another process and may come later: `serve` starts
    /// without it ([`crate::pending`]). A local store opens or it does not.
    pub networked: bool,
    /// Opens the store at a URL; with `create`, makes what it needs (the
    /// SQLite file, the schema).
    pub open: fn(String, bool) -> Opening,
    /// Applies its schema migrations; `None`: it has no schema.
    pub migrate: Option<fn(String) -> Migrating>,
}

/// Every store this build has, by URL scheme.
pub const SCHEMES: &[Scheme] = &[
    Scheme {
        names: &["sqlite"],
        kind: "sqlite",
        networked: false,
        open: |url, create| Box::pin(open_sqlite(url, create)),
        migrate: Some(|url| Box::pin(migrate_sql(url, "sqlite"))),
    },
    Scheme {
        names: &["memory"],
        kind: "memory",
        networked: false,
        open: |_, _| Box::pin(async { Ok(open_memory()) }),
        migrate: None,
    },
    Scheme {
        names: &["postgres", "postgresql"],
        kind: "postgres",
        networked: true,
        open: |url, create| Box::pin(open_sql(url, create, "postgres")),
        migrate: Some(|url| Box::pin(migrate_sql(url, "postgres"))),
    },
    Scheme {
        names: &["mysql", "mariadb"],
        kind: "mysql",
        networked: true,
        open: |url, create| Box::pin(open_sql(url, create, "mysql")),
        migrate: Some(|url| Box::pin(migrate_sql(url, "mysql"))),
    },
    Scheme {
        names: &["redis", "rediss"],
        kind: "redis",
        networked: true,
        open: |url, _| Box::pin(open_redis(url)),
        migrate: None,
    },
    Scheme {
        names: &["redis+cluster", "rediss+cluster"],
        kind: "redis+cluster",
        networked: true,
        open: |url, _| Box::pin(open_redis(url)),
        migrate: None,
    },
    Scheme {
        names: &["memcached", "memcache"],
        kind: "memcached",
        networked: true,
        open: |url, _| {
            Box::pin(async move {
                Ok(StoreHandle::new(
                    MemcachedStore::connect(&url).await?,
                    "memcached",
                ))
            })
        },
        migrate: None,
    },
];

/// The default store URL for a data folder: the embedded SQLite file.
pub fn default_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("sesame.db").display())
}

fn scheme_names() -> String {
    SCHEMES
        .iter()
        .flat_map(|s| s.names.iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The row of [`SCHEMES`] for `url`.
///
/// # Errors
/// A message for the `store` setting: not a URL, or a scheme this build
/// does not have.
pub fn scheme(url: &str) -> Result<&'static Scheme, String> {
    let (name, _) = url.split_once("://").ok_or_else(|| {
        format!(
            "{url:?} is not a URL like memory:// (schemes: {})",
            scheme_names()
        )
    })?;
    SCHEMES
        .iter()
        .find(|s| s.names.contains(&name))
        .ok_or_else(|| {
            format!(
                "unknown store scheme {name:?}; this build has: {}",
                scheme_names()
            )
        })
}

/// Checks that the URL names a store this build has.
///
/// # Errors
/// The message of [`scheme`].
pub fn check_url(url: &str) -> Result<(), String> {
    scheme(url).map(drop)
}

/// An error opening a store.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no store of this build.
    #[error("{0}")]
    Url(String),
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
///
/// # Errors
/// [`OpenError`]: the URL, the store's own refusal, or a missing database.
pub async fn open(url: &str, create: bool) -> Result<StoreHandle, OpenError> {
    let scheme = scheme(url).map_err(OpenError::Url)?;
    (scheme.open)(url.to_owned(), create).await
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

/// Opens the store `sesame serve` runs on, creating what it needs. A
/// networked store that is unreachable (`StoreUnavailable`) does not stop the
/// server: it gets a [`crate::pending::Pending`] store that connects in the
/// background and answers 503 until then. Any other failure (a bad URL, an
/// SQLite file that cannot be opened, a failed migration) is returned.
///
/// # Errors
/// As [`open`], except an unreachable networked store.
pub async fn open_for_serve(url: &str) -> Result<StoreHandle, OpenError> {
    match open(url, true).await {
        Err(OpenError::Store(e @ sesame::Error::StoreUnavailable(_))) => {
            let scheme = scheme(url).map_err(OpenError::Url)?;
            if !scheme.networked {
                return Err(OpenError::Store(e));
            }
            Ok(StoreHandle {
                store: crate::pending::Pending::start(url.to_owned(), scheme.kind, &e),
                kind: scheme.kind,
                live_count: None,
            })
        }
        other => other,
    }
}

/// Applies the store's schema migrations; a message saying what was done.
///
/// # Errors
/// As [`open`], and a failed migration.
pub async fn migrate(url: &str) -> Result<String, OpenError> {
    let scheme = scheme(url).map_err(OpenError::Url)?;
    match scheme.migrate {
        Some(migrate) => {
            let ran = migrate(url.to_owned()).await?;
            Ok(format!(
                "{}: {ran} migration(s) applied; the schema is current",
                scheme.kind
            ))
        }
        None => {
            let handle = open(url, true).await?;
            handle.close().await;
            Ok(format!("{}: nothing to migrate", handle.kind))
        }
    }
}

fn open_memory() -> StoreHandle {
    let store = Arc::new(MemoryStore::new());
    let counted = Arc::clone(&store);
    StoreHandle {
        store,
        kind: "memory",
        live_count: Some(Arc::new(move || {
            i64::try_from(counted.live_sessions()).unwrap_or(i64::MAX)
        })),
    }
}

/// The URL and config an SQL store of `kind` is opened with: SQLite's file
/// mode (created or not), PostgreSQL's and MySQL's `schema=`.
fn sql_target(url: &str, create: bool, kind: &str) -> Result<(String, SqlConfig), OpenError> {
    let config = SqlConfig::default().with_migrate(create);
    if kind == "sqlite" {
        let url = sqlite_url(url, create)?;
        if create {
            create_parent(&url)?;
        }
        Ok((url, config))
    } else {
        Ok(with_schema(url, config))
    }
}

async fn open_sql(url: String, create: bool, kind: &'static str) -> Result<StoreHandle, OpenError> {
    let (url, config) = sql_target(&url, create, kind)?;
    Ok(StoreHandle::new(
        SqlStore::connect_with(&url, config).await?,
        kind,
    ))
}

async fn open_sqlite(url: String, create: bool) -> Result<StoreHandle, OpenError> {
    open_sql(url, create, "sqlite").await
}

async fn migrate_sql(url: String, kind: &'static str) -> Result<u32, OpenError> {
    let (url, config) = sql_target(&url, true, kind)?;
    let store = SqlStore::connect_with(&url, config.with_migrate(false)).await?;
    let ran = store.migrate().await;
    store.close().await;
    Ok(ran?)
}

async fn open_redis(url: String) -> Result<StoreHandle, OpenError> {
    let store = RedisStore::connect_with(redis_config(&url)?).await?;
    let kind = if store.is_cluster() {
        "redis+cluster"
    } else {
        "redis"
    };
    Ok(StoreHandle::new(store, kind))
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
    fn every_scheme_name_is_in_one_row() {
        let mut names: Vec<&str> = SCHEMES
            .iter()
            .flat_map(|s| s.names.iter().copied())
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a scheme name is in two rows");
        for row in SCHEMES {
            for name in row.names {
                assert_eq!(scheme(&format!("{name}://x")).unwrap().kind, row.kind);
            }
        }
    }

    #[tokio::test]
    async fn closing_the_handle_closes_the_sql_store() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let handle = open(&url, true).await.unwrap();
        assert_eq!(handle.kind, "sqlite");
        handle.store.ping().await.unwrap();
        handle.close().await;
        assert!(matches!(
            handle.store.ping().await,
            Err(sesame::Error::StoreUnavailable(_))
        ));
        assert_eq!(
            migrate(&url).await.unwrap(),
            "sqlite: 0 migration(s) applied; the schema is current"
        );
        assert_eq!(
            migrate("memory://").await.unwrap(),
            "memory: nothing to migrate"
        );
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
        assert!(
            check_url("ftp://x")
                .unwrap_err()
                .contains("unknown store scheme")
        );
        assert!(check_url("nothing").unwrap_err().contains("not a URL"));
        assert!(matches!(
            sqlite_url("sqlite:///nonexistent/dir/x.db", false),
            Err(OpenError::Missing(_))
        ));
        let networked = |url: &str| {
            let s = scheme(url).unwrap();
            s.networked.then_some(s.kind)
        };
        assert_eq!(networked("rediss+cluster://a:1"), Some("redis+cluster"));
        assert_eq!(networked("mariadb://h/db"), Some("mysql"));
        assert_eq!(networked("sqlite://x.db"), None);
        assert_eq!(networked("memory://"), None);
        assert_eq!(
            sqlite_url("sqlite://x.db?cache=shared", true).unwrap(),
            "sqlite://x.db?cache=shared&mode=rwc"
        );
    }
}
