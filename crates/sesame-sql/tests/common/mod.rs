//! Test stores on each database, each in its own file, schema or database,
//! removed when the store is dropped.
#![allow(dead_code)]

use std::time::Duration;

use async_trait::async_trait;
use sesame::lifecycle::{EndReason, EndedSession};
use sesame::policy::UserCap;
use sesame::store::{CleanupReport, CreateOutcome, LoadMode, Lookup, Rotation, Timing};
use sesame::testing::{service_url, unique_suffix};
use sesame::{Patch, Result, SessionId, SessionRecord, Store, UserId};
use sesame_sql::{SqlConfig, SqlStore};
use sqlx::{AssertSqlSafe, Connection, Executor};

/// What to remove when a test store goes.
enum Cleanup {
    Dir(tempfile::TempDir),
    Postgres { url: String, schema: String },
    MySql { url: String, database: String },
}

/// A `SqlStore` that removes its file, schema or database when dropped.
pub struct TestStore {
    pub store: SqlStore,
    /// The file, for SQLite.
    pub path: Option<std::path::PathBuf>,
    /// The admin URL and the schema/database name, for the services.
    pub url: Option<String>,
    pub schema: Option<String>,
    cleanup: Option<Cleanup>,
}

pub fn config() -> SqlConfig {
    SqlConfig::new().with_max_connections(8)
}

/// A store in a fresh SQLite file.
pub async fn sqlite() -> Option<TestStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sessions.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = SqlStore::connect_with(&url, config())
        .await
        .expect("open sqlite");
    Some(TestStore {
        store,
        path: Some(path),
        url: Some(url),
        schema: None,
        cleanup: Some(Cleanup::Dir(dir)),
    })
}

/// A store in a fresh PostgreSQL schema, or `None` when the service is not set.
pub async fn postgres() -> Option<TestStore> {
    let url = service_url("SESAME_TEST_POSTGRES_URL")?;
    let schema = format!("sesame_t_{}", unique_suffix());
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("connect postgres");
    conn.execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .expect("create schema");
    conn.close().await.ok();
    let store = SqlStore::connect_with(&url, config().with_schema(&schema))
        .await
        .expect("open postgres");
    Some(TestStore {
        store,
        path: None,
        url: Some(url.clone()),
        schema: Some(schema.clone()),
        cleanup: Some(Cleanup::Postgres { url, schema }),
    })
}

/// A store in a fresh MySQL/MariaDB database, or `None` when the service is
/// not set.
pub async fn mysql() -> Option<TestStore> {
    let url = service_url("SESAME_TEST_MYSQL_URL")?;
    let database = format!("sesame_t_{}", unique_suffix());
    let mut conn = sqlx::MySqlConnection::connect(&url)
        .await
        .expect("connect mysql");
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .await
        .expect("create database");
    conn.close().await.ok();
    let store = SqlStore::connect_with(&url, config().with_schema(&database))
        .await
        .expect("open mysql");
    Some(TestStore {
        store,
        path: None,
        url: Some(url.clone()),
        schema: Some(database.clone()),
        cleanup: Some(Cleanup::MySql { url, database }),
    })
}

/// Runs `sql` on the database behind a test store, outside the store.
pub async fn raw(t: &TestStore, sql: String) {
    match (&t.path, &t.url) {
        (Some(path), _) => {
            let url = format!("sqlite://{}", path.display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            conn.execute(AssertSqlSafe(sql)).await.unwrap();
        }
        (None, Some(url)) if url.starts_with("postgres") => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            conn.execute(AssertSqlSafe(sql)).await.unwrap();
        }
        (None, Some(url)) => {
            let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
            conn.execute(AssertSqlSafe(sql)).await.unwrap();
        }
        _ => unreachable!(),
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let cleanup = self.cleanup.take();
        let drop_sql = match cleanup {
            None | Some(Cleanup::Dir(_)) => return,
            Some(Cleanup::Postgres { url, schema }) => {
                (url, format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            }
            Some(Cleanup::MySql { url, database }) => {
                (url, format!("DROP DATABASE IF EXISTS {database}"))
            }
        };
        let store = self.store.clone();
        // Drop runs inside the test's runtime; do the async work on a thread
        // of its own and wait for it.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                store.close().await;
                let (url, sql) = drop_sql;
                let work = async {
                    if url.starts_with("postgres") {
                        let mut c = sqlx::PgConnection::connect(&url).await?;
                        c.execute(AssertSqlSafe(sql)).await?;
                    } else {
                        let mut c = sqlx::MySqlConnection::connect(&url).await?;
                        c.execute(AssertSqlSafe(sql)).await?;
                    }
                    Ok::<(), sqlx::Error>(())
                };
                if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(10), work).await {
                    eprintln!("could not drop the test schema: {e}");
                }
            });
        })
        .join()
        .ok();
    }
}

#[async_trait]
impl Store for TestStore {
    async fn create(
        &self,
        s: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        self.store.create(s, cap, t).await
    }
    async fn load(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Result<Lookup> {
        self.store.load(id, mode, t).await
    }
    async fn update(
        &self,
        id: &SessionId,
        patch: &Patch,
        expected_version: Option<u64>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<SessionRecord> {
        self.store
            .update(id, patch, expected_version, max_data_size, t)
            .await
    }
    async fn increment(
        &self,
        id: &SessionId,
        key: &str,
        delta: i64,
        max: usize,
        t: &Timing,
    ) -> Result<i64> {
        self.store.increment(id, key, delta, max, t).await
    }
    async fn rotate(&self, rotation: &Rotation, t: &Timing) -> Result<CreateOutcome> {
        self.store.rotate(rotation, t).await
    }
    async fn end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        self.store.end(id, reason, t).await
    }
    async fn list_user(&self, user: &UserId, t: &Timing) -> Result<Vec<SessionRecord>> {
        self.store.list_user(user, t).await
    }
    async fn end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        self.store.end_user(user, except, reason, t).await
    }
    async fn cleanup(&self, t: &Timing, batch_size: usize) -> Result<CleanupReport> {
        self.store.cleanup(t, batch_size).await
    }
    async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }
}
