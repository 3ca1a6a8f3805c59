//! SQLite's read paths. The default — pure reads inline on read-only rusqlite
//! connections beside sqlx's writer — runs the conformance suite in
//! `tests/sqlite.rs`; here the suite runs again with reads through sqlx
//! (`SqliteReads::Driver`), and the inline path is checked for what it must
//! never break: a write (from this store or another one on the file, like
//! `sesame sessions revoke`) is seen by the very next read, a locked file is
//! waited for off the async thread, and errors keep their types.

mod common;

mod driver_reads {
    use sesame_sql::SqliteReads;
    sesame::store_conformance_tests!(|| super::common::sqlite_with(
        super::common::config().with_sqlite_reads(SqliteReads::Driver)
    ));
}

mod inline {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use sesame::{DeviceInfo, EndReason, Error, Manager, Patch, Policy};
    use sesame_sql::{SqlConfig, SqlStore, SqliteReads};

    use super::common;

    fn manager(store: &SqlStore) -> Manager {
        Manager::new(store.clone(), Policy::default()).unwrap()
    }

    /// Another store on the same file (a second process, or the CLI) ends,
    /// creates and changes sessions; this store's next read sees each change.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_by_another_store_on_the_file_are_seen_by_the_next_read() {
        let t = common::sqlite().await.unwrap();
        let server = manager(&t.store);
        let cli_store = SqlStore::connect(t.url.as_deref().unwrap()).await.unwrap();
        let cli = manager(&cli_store);
        let device = DeviceInfo::default();

        let created = server
            .create(Some("alice"), Default::default(), device.clone())
            .await
            .unwrap();
        let token = created.token.expose();
        assert!(server.load(token, &device).await.is_ok());
        assert!(cli.destroy(token, EndReason::Revoked).await.unwrap());
        match server.load(token, &device).await {
            Err(Error::Ended {
                reason: EndReason::Revoked,
            }) => {}
            other => panic!("a revoked session must not load, got {other:?}"),
        }

        let bob = cli
            .create(Some("bob"), Default::default(), device.clone())
            .await
            .unwrap();
        assert!(server.inspect(bob.token.expose()).await.unwrap().live);
        assert_eq!(server.list_user("bob").await.unwrap().len(), 1);
        for round in 1..=20_i64 {
            let patch = Patch::new().set("round", round).unwrap();
            let writer = if round % 2 == 0 { &cli } else { &server };
            writer
                .update(bob.token.expose(), &patch, None)
                .await
                .unwrap();
            let seen = server.inspect(bob.token.expose()).await.unwrap();
            assert_eq!(
                seen.data.unwrap().get("round"),
                Some(&serde_json::json!(round))
            );
            assert_eq!(seen.version, Some(1 + round as u64));
        }
        assert_eq!(cli.revoke_user("bob", None).await.unwrap().len(), 1);
        assert!(server.list_user("bob").await.unwrap().is_empty());
        assert!(!server.inspect(bob.token.expose()).await.unwrap().live);
        cli_store.close().await;
    }

    const REVOKER_ENV: &str = "SESAME_SQL_REVOKER_DB";

    /// `sesame sessions revoke` from another process, while this one serves:
    /// the next load here refuses the session. The other process is this
    /// test binary run again with `SESAME_SQL_REVOKER_DB` set; it revokes
    /// alice's sessions in that file and exits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revoke_by_another_process_is_seen_by_the_next_load() {
        if let Ok(path) = std::env::var(REVOKER_ENV) {
            let url = format!("sqlite://{path}");
            let store = SqlStore::connect(&url).await.unwrap();
            let revoked = manager(&store).revoke_user("alice", None).await.unwrap();
            assert_eq!(revoked.len(), 1, "the child found alice's session");
            store.close().await;
            return;
        }
        let t = common::sqlite().await.unwrap();
        let server = manager(&t.store);
        let device = DeviceInfo::default();
        let created = server
            .create(Some("alice"), Default::default(), device.clone())
            .await
            .unwrap();
        let token = created.token.expose();
        for _ in 0..3 {
            assert!(server.load(token, &device).await.is_ok());
        }
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "inline::a_revoke_by_another_process_is_seen_by_the_next_load",
                "--exact",
                "--test-threads=1",
            ])
            .env(REVOKER_ENV, t.path.as_ref().unwrap())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the revoking process failed");
        match server.load(token, &device).await {
            Err(Error::Ended {
                reason: EndReason::Revoked,
            }) => {}
            other => panic!("a session revoked by another process loaded: {other:?}"),
        }
        assert!(server.list_user("alice").await.unwrap().is_empty());
    }

    /// Writes through sqlx's writer and reads on the inline readers of one
    /// store, interleaved from many tasks: every read returns the version
    /// its own task wrote last, or a later one, never an older one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_read_sees_the_write_that_finished_before_it() {
        let t = common::sqlite().await.unwrap();
        let manager = manager(&t.store);
        let created = manager
            .create(None, Default::default(), Default::default())
            .await
            .unwrap();
        let token: Arc<str> = created.token.expose().into();
        let stale = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (manager, token, stale) = (manager.clone(), token.clone(), stale.clone());
                tokio::spawn(async move {
                    for _ in 0..10 {
                        let written = manager
                            .update(&token, &Patch::new().set("x", 1).unwrap(), None)
                            .await
                            .unwrap()
                            .version;
                        let read = manager.inspect(&token).await.unwrap().version.unwrap();
                        if read < written {
                            stale.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(stale.load(Ordering::Relaxed), 0);
        let last = manager.inspect(&token).await.unwrap().version;
        assert_eq!(last, Some(1 + 80));
    }

    /// A file another connection holds locked: the inline read does not wait
    /// on the async thread (its busy timeout is zero); the read goes to
    /// sqlx, whose worker waits, and succeeds when the lock goes. The file is
    /// put in rollback-journal mode so that a writer can lock readers out
    /// (WAL never blocks them).
    #[test]
    fn a_locked_file_is_waited_for_off_the_async_thread() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let t = common::sqlite().await.unwrap();
            let created = manager(&t.store)
                .create(None, Default::default(), Default::default())
                .await
                .unwrap();
            t.store.close().await;
            let path = t.path.clone().unwrap();
            let raw = rusqlite::Connection::open(&path).unwrap();
            let mode: String = raw
                .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "delete");
            drop(raw);
            // Reopen: nothing to migrate, so the file stays in DELETE mode.
            let store = SqlStore::connect_with(t.url.as_deref().unwrap(), common::config())
                .await
                .unwrap();
            let manager = manager(&store);
            assert!(manager.inspect(created.token.expose()).await.unwrap().live);

            let (locked, lock_taken) = std::sync::mpsc::channel();
            let blocker = std::thread::spawn(move || {
                let conn = rusqlite::Connection::open(&path).unwrap();
                conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
                locked.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(400));
                conn.execute_batch("COMMIT").unwrap();
            });
            lock_taken.recv().unwrap();
            // Ticks on this (only) runtime thread while the read waits.
            let ticks = Arc::new(AtomicU64::new(0));
            let ticker = {
                let ticks = ticks.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        ticks.fetch_add(1, Ordering::Relaxed);
                    }
                })
            };
            let started = Instant::now();
            let seen = manager.inspect(created.token.expose()).await.unwrap();
            let waited = started.elapsed();
            ticker.abort();
            blocker.join().unwrap();
            assert!(seen.live);
            assert!(waited >= Duration::from_millis(300), "waited {waited:?}");
            let ticks = ticks.load(Ordering::Relaxed);
            assert!(ticks >= 20, "the runtime thread was blocked: {ticks} ticks");
            store.close().await;
        });
    }

    /// The inline path and sqlx report the same typed errors: a table that
    /// does not exist is `Internal`, a closed store `StoreUnavailable`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_keep_their_types_on_every_read_path() {
        for reads in [SqliteReads::Inline, SqliteReads::Driver] {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
            let config = SqlConfig::new().with_sqlite_reads(reads);
            let bare = SqlStore::connect_with(&url, config.clone().with_migrate(false))
                .await
                .unwrap();
            let token = sesame::SessionToken::generate().unwrap();
            match manager(&bare).inspect(token.expose()).await {
                Err(Error::Internal(_)) => {}
                other => panic!("{reads:?}: a missing table is Internal, got {other:?}"),
            }
            match manager(&bare).list_user("alice").await {
                Err(Error::Internal(_)) => {}
                other => panic!("{reads:?}: a missing table is Internal, got {other:?}"),
            }
            bare.close().await;

            let store = SqlStore::connect_with(&url, config).await.unwrap();
            let created = manager(&store)
                .create(Some("alice"), Default::default(), Default::default())
                .await
                .unwrap();
            assert!(
                manager(&store)
                    .inspect(created.token.expose())
                    .await
                    .unwrap()
                    .live
            );
            store.close().await;
            match manager(&store).inspect(created.token.expose()).await {
                Err(Error::StoreUnavailable(_)) => {}
                other => panic!("{reads:?}: a closed store is unavailable, got {other:?}"),
            }
        }
    }

    /// An in-memory database (private to sqlx's connection) reads through
    /// sqlx whatever the setting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_in_memory_database_reads_through_sqlx() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let manager = manager(&store);
        let created = manager
            .create(Some("alice"), Default::default(), Default::default())
            .await
            .unwrap();
        assert!(manager.inspect(created.token.expose()).await.unwrap().live);
        assert_eq!(manager.list_user("alice").await.unwrap().len(), 1);
    }
}
