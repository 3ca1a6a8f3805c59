//! The conformance suite and SQLite-specific behaviour on a temporary file.

mod common;

sesame::store_conformance_tests!(|| common::sqlite());
sesame::store_history_tests!(|| common::sqlite());

mod specific {
    use sesame::{Error, Manager, Policy};
    use sesame_sql::SqlStore;
    use sqlx::{Connection, Row};

    use super::common;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corrupt_json_is_an_error_for_that_session_only() {
        common::corrupt_json_is_an_error_for_that_session_only(common::sqlite().await.unwrap())
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_cases_never_deadlock() {
        common::concurrent_cases_never_deadlock(common::sqlite().await.unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cleanup_goes_in_batches() {
        common::cleanup_goes_in_batches(common::sqlite().await.unwrap()).await;
    }

    /// The file is in WAL mode, synced FULL, and migrating twice runs nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wal_mode_and_idempotent_migrations() {
        let t = common::sqlite().await.unwrap();
        assert_eq!(t.store.migrate().await.unwrap(), 0);
        let url = format!("sqlite://{}", t.path.as_ref().unwrap().display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(mode, "wal");
        assert_eq!(
            sesame_sql::migrate(&url, sesame_sql::SqlConfig::new())
                .await
                .unwrap(),
            0
        );
    }

    /// A database opened read-only answers reads, and refuses writes with
    /// `StoreUnavailable` rather than a panic or a generic error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_only_file_is_unavailable_for_writes() {
        let t = common::sqlite().await.unwrap();
        let manager = Manager::new(t.store.clone(), Policy::default()).unwrap();
        let created = manager
            .create(Some("alice"), Default::default(), Default::default())
            .await
            .unwrap();
        t.store.close().await;
        let url = format!("sqlite://{}?mode=ro", t.path.as_ref().unwrap().display());
        let ro = SqlStore::connect(&url)
            .await
            .expect("a migrated file opens read-only");
        let manager = Manager::new(ro, Policy::default()).unwrap();
        assert!(manager.inspect(created.token.expose()).await.unwrap().live);
        let started = std::time::Instant::now();
        match manager
            .create(Some("bob"), Default::default(), Default::default())
            .await
        {
            Err(Error::StoreUnavailable(_)) => {}
            other => panic!("expected StoreUnavailable, got {other:?}"),
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        match manager
            .destroy(created.token.expose(), sesame::EndReason::LoggedOut)
            .await
        {
            Err(Error::StoreUnavailable(_)) => {}
            other => panic!("expected StoreUnavailable, got {other:?}"),
        }
    }

    /// A file that cannot be created (its directory does not exist) is
    /// `StoreUnavailable` at connect.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_directory_is_unavailable() {
        let url = "sqlite:///nonexistent-dir-for-sesame/sessions.db?mode=rwc";
        match SqlStore::connect(url).await {
            Err(Error::StoreUnavailable(_)) => {}
            other => panic!("expected StoreUnavailable, got {other:?}"),
        }
    }
}
