//! Test stores on each database, each in its own file, schema or database,
//! removed when the store is dropped.
#![allow(dead_code)]

use std::time::Duration;

use async_trait::async_trait;
use sesame::lifecycle::{EndReason, EndedSession};
use sesame::policy::UserCap;
use sesame::store::{
    CleanupReport, CreateOutcome, LoadMode, LoadWrite, Lookup, Rotation, Timing, Write,
};
use sesame::testing::{service_url, unique_suffix};
use sesame::{DeviceInfo, Patch, Result, SessionId, SessionRecord, Store, UserId};
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

/// The test stores' configuration: 8 connections, and a 10 s acquire wait
/// instead of the default 2 s — the concurrency cases queue 50 tasks on one
/// row behind 8 connections, and on a loaded two-core CI machine (another
/// test's load beside them) a 2 s wait for a connection was exceeded once.
/// What they test is that no update is lost, not how fast.
pub fn config() -> SqlConfig {
    SqlConfig::new()
        .with_max_connections(8)
        .with_acquire_timeout(Duration::from_secs(10))
}

/// A store in a fresh SQLite file.
pub async fn sqlite() -> Option<TestStore> {
    sqlite_with(config()).await
}

/// A store in a fresh SQLite file, with `config`.
pub async fn sqlite_with(config: SqlConfig) -> Option<TestStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sessions.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = SqlStore::connect_with(&url, config)
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

/// The single integer `sql` selects on the database behind a (PostgreSQL or
/// MySQL) test store; `{t}` in `sql` is replaced by the store's schema.
pub async fn raw_count(t: &TestStore, sql: &str) -> i64 {
    let sql = sql.replace("{t}", t.schema.as_deref().expect("a service store"));
    let url = t.url.as_deref().expect("a service store");
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap()
    } else {
        let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
        sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap()
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
        // Drop runs inside the test's runtime; do the async work on a thread
        // of its own and wait for it. The store's pool is left alone: its
        // connections belong to the (now blocked) test runtime, and idle
        // connections do not stop a DROP.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
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
    async fn load_and_write(
        &self,
        id: &SessionId,
        device: &DeviceInfo,
        write: Write<'_>,
        max: usize,
        t: &Timing,
    ) -> Result<LoadWrite> {
        self.store.load_and_write(id, device, write, max, t).await
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

/// The id as a literal of the store's database.
fn id_literal(t: &TestStore, id: &SessionId) -> String {
    match t.store.backend() {
        sesame_sql::Backend::Postgres => format!("'\\x{}'::bytea", id.to_hex()),
        _ => format!("X'{}'", id.to_hex()),
    }
}

/// A row whose data is not JSON is `Error::Corrupt` for that session; the
/// others load, and the corrupt one can still be ended.
pub async fn corrupt_json_is_an_error_for_that_session_only(t: TestStore) {
    use sesame::testing::Harness;
    let t = std::sync::Arc::new(t);
    let h = Harness::new(t.clone(), sesame::testing::cases::steady_policy());
    let bad = h.create(Some(&h.user)).await.token;
    let good = h.create(Some(&h.user)).await.token;
    raw(
        &t,
        format!(
            "UPDATE {} SET data = '{{not json' WHERE id = {}",
            t.store.sessions_table(),
            id_literal(&t, &bad.id())
        ),
    )
    .await;
    match h.manager.load(bad.expose(), &h.device).await {
        Err(sesame::Error::Corrupt { id, detail }) => {
            assert_eq!(id, bad.id().short());
            assert!(detail.contains("JSON"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(
        h.manager
            .update(bad.expose(), &Patch::new().set("a", 1).unwrap(), None)
            .await,
        Err(sesame::Error::Corrupt { .. })
    ));
    assert!(h.manager.load(good.expose(), &h.device).await.is_ok());
    assert!(
        h.manager
            .destroy(bad.expose(), EndReason::Revoked)
            .await
            .unwrap()
    );
    assert!(matches!(
        h.manager.load(bad.expose(), &h.device).await,
        Err(sesame::Error::Ended {
            reason: EndReason::Revoked
        })
    ));
}

/// The concurrent conformance cases, on one store, never hit a deadlock (no
/// retry was needed).
pub async fn concurrent_cases_never_deadlock(t: TestStore) {
    use sesame::testing::cases;
    let store = t.store.clone();
    let t: std::sync::Arc<dyn Store> = std::sync::Arc::new(t);
    cases::concurrent_creates_respect_the_cap(t.clone()).await;
    cases::concurrent_creates_with_reject_new_admit_exactly_the_cap(t.clone()).await;
    cases::concurrent_increments_lose_nothing(t.clone()).await;
    cases::concurrent_rotations_have_one_winner(t.clone()).await;
    cases::concurrent_modify_loses_nothing(t).await;
    assert_eq!(store.deadlock_retries(), 0);
}

/// A fresh session of `user` made at `now` that idles out after `idle`,
/// with an hour's absolute lifetime.
pub fn session_at(user: &str, now: sesame::Timestamp, idle: Duration) -> SessionRecord {
    SessionRecord {
        id: sesame::SessionToken::generate().unwrap().id(),
        user_id: Some(UserId::new(user).unwrap()),
        data: Default::default(),
        version: 1,
        created_at: now,
        token_issued_at: now,
        last_accessed: now,
        idle_expires_at: now.plus(idle),
        absolute_expires_at: now.plus(Duration::from_secs(3600)),
        device: Default::default(),
        dbsc: None,
    }
}

/// The cleanup tests' timing at `now`: 60 s idle timeout, 10 s touch
/// interval, tombstones kept 10 minutes.
pub fn cleanup_timing(now: sesame::Timestamp) -> Timing {
    Timing {
        now,
        idle_timeout: Duration::from_secs(60),
        touch_interval: Duration::from_secs(10),
        tombstone_ttl: Duration::from_secs(600),
    }
}

/// Cleanup works in batches: 2,500 expired sessions with a batch of 1,000
/// take three statements' worth, each reported once, tombstones kept until
/// their own time.
pub async fn cleanup_goes_in_batches(t: TestStore) {
    use sesame::Timestamp;
    let store = &t.store;
    let now = Timestamp::from_millis(1_000_000_000);
    let t0 = cleanup_timing(now);
    for i in 0..2_600u32 {
        // The last 100 idle out only with their absolute lifetime.
        let idle = Duration::from_secs(if i < 2_500 { 60 } else { 3600 });
        let record = session_at(&format!("u{}", i % 7), now, idle);
        store.create(record, None, &t0).await.unwrap();
    }
    let later = Timing {
        now: now.plus(Duration::from_secs(61)),
        ..t0
    };
    let report = store.cleanup(&later, 1_000).await.unwrap();
    assert_eq!(report.expired.len(), 2_500);
    assert_eq!(report.scanned, 2_500);
    assert_eq!(report.deleted, 0, "tombstones stay until their own expiry");
    let again = store.cleanup(&later, 1_000).await.unwrap();
    assert_eq!((again.scanned, again.expired.len()), (0, 0));
    let purge = Timing {
        now: later.now.plus(Duration::from_secs(600)),
        ..t0
    };
    let report = store.cleanup(&purge, 1_000).await.unwrap();
    assert_eq!(report.deleted, 2_500);
    assert!(report.expired.is_empty());
}

/// Cleanup deletes the lock rows of users left without a live session, and a
/// user whose row it deleted can sign in again under the cap (PostgreSQL and
/// MySQL; SQLite never writes the `users` table).
pub async fn cleanup_prunes_user_lock_rows(t: TestStore) {
    use sesame::Timestamp;
    use sesame::policy::CapAction;
    let store = &t.store;
    let now = Timestamp::from_millis(1_000_000_000);
    let t0 = cleanup_timing(now);
    let cap = UserCap {
        max: 2,
        on_limit: CapAction::EvictOldest,
    };
    let record = |user: &str, idle: Duration| session_at(user, now, idle);
    for i in 0..10 {
        let short = Duration::from_secs(60);
        store
            .create(record(&format!("gone{i}"), short), Some(cap), &t0)
            .await
            .unwrap();
    }
    let long = Duration::from_secs(3000);
    store
        .create(record("stays", long), Some(cap), &t0)
        .await
        .unwrap();
    let users = "SELECT COUNT(*) FROM {t}.sesame_users";
    assert_eq!(
        raw_count(&t, users).await,
        11,
        "one lock row per capped user"
    );

    let later = Timing {
        now: now.plus(Duration::from_secs(61)),
        ..t0
    };
    let report = store.cleanup(&later, 4).await.unwrap();
    assert_eq!(report.expired.len(), 10);
    assert_eq!(
        raw_count(&t, users).await,
        1,
        "only the user with a live session keeps a row"
    );
    let stays = "SELECT COUNT(*) FROM {t}.sesame_users WHERE user_id = 'stays'";
    assert_eq!(raw_count(&t, stays).await, 1);

    // A pruned user signs in again: the row comes back and the cap holds.
    for _ in 0..3 {
        store
            .create(record("gone0", long), Some(cap), &later)
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .list_user(&UserId::new("gone0").unwrap(), &later)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(raw_count(&t, users).await, 2);
}

/// Cleanup pruning lock rows while capped creates for the same users run:
/// every create succeeds (a vanished row is inserted again) and no user ever
/// ends with more live sessions than the cap.
pub async fn pruning_races_capped_creates(t: TestStore) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use sesame::Timestamp;
    use sesame::policy::CapAction;
    let store = t.store.clone();
    let base = Timestamp::from_millis(1_000_000_000);
    // Steps of 30 s; sessions idle out after 20 s, so a cleanup one step
    // ahead of the creators ends every session made so far and prunes the
    // users' rows, which the creators' next creates must insert again.
    let timing = move |step: u64| Timing {
        now: base.plus(Duration::from_secs(step * 30)),
        idle_timeout: Duration::from_secs(60),
        touch_interval: Duration::from_secs(10),
        tombstone_ttl: Duration::ZERO,
    };
    let cap = UserCap {
        max: 2,
        on_limit: CapAction::EvictOldest,
    };
    const STEPS: u64 = 100;
    let progress = Arc::new(AtomicU64::new(0));
    let creating = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for worker in 0..4u64 {
        let (store, progress) = (store.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            for step in 0..STEPS {
                let t = timing(step);
                let user = format!("racer{}", (worker + step) % 3);
                let record = session_at(&user, t.now, Duration::from_secs(20));
                store.create(record, Some(cap), &t).await.expect("create");
                progress.fetch_max(step, Ordering::Relaxed);
                // Let the cleaner in between steps.
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }));
    }
    let cleaner = {
        let (store, progress, creating) = (store.clone(), progress.clone(), creating.clone());
        tokio::spawn(async move {
            let mut ended = 0;
            while creating.load(Ordering::Relaxed) {
                let ahead = timing(progress.load(Ordering::Relaxed) + 1);
                ended += store
                    .cleanup(&ahead, 100)
                    .await
                    .expect("cleanup")
                    .expired
                    .len();
                tokio::task::yield_now().await;
            }
            ended
        })
    };
    for task in tasks {
        task.await.unwrap();
    }
    creating.store(false, Ordering::Relaxed);
    assert!(
        cleaner.await.unwrap() > 0,
        "cleanup ended sessions while creates ran"
    );
    for user in 0..3 {
        let user = UserId::new(format!("racer{user}")).unwrap();
        let live = store.list_user(&user, &timing(STEPS - 1)).await.unwrap();
        assert!(live.len() <= 2, "{user:?} has {} live sessions", live.len());
    }
    // Pruning locks users before sessions, like every transaction: no cycle.
    assert_eq!(store.deadlock_retries(), 0);
}
