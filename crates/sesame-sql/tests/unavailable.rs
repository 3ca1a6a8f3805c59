//! A database that is down or unreachable is `StoreUnavailable`, fast, and
//! says why (not just "pool timed out").

use std::time::{Duration, Instant};

use sesame::Error;
use sesame_sql::{SqlConfig, SqlStore};

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn assert_unavailable_fast(url: String) {
    let started = Instant::now();
    match SqlStore::connect(&url).await {
        Err(Error::StoreUnavailable(cause)) => {
            assert!(cause.to_string().contains("refused"), "{url}: {cause}");
        }
        other => panic!("expected StoreUnavailable for {url}, got {other:?}"),
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn postgres_on_a_closed_port_is_unavailable_fast() {
    assert_unavailable_fast(format!(
        "postgres://postgres@127.0.0.1:{}/test",
        closed_port()
    ))
    .await;
}

#[tokio::test]
async fn mysql_on_a_closed_port_is_unavailable_fast() {
    assert_unavailable_fast(format!("mysql://root@127.0.0.1:{}/test", closed_port())).await;
}

#[tokio::test]
async fn unknown_scheme_is_a_config_error() {
    assert!(matches!(
        SqlStore::connect("oracle://x").await,
        Err(Error::Config(_))
    ));
    assert!(matches!(
        SqlStore::connect_with(
            "sqlite://x.db",
            SqlConfig::new().with_table_prefix("x; DROP")
        )
        .await,
        Err(Error::Config(_))
    ));
}

/// A statement stuck behind a lock is cut off by the statement timeout and
/// reported as `StoreUnavailable`, within the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_stuck_on_a_lock_times_out() {
    use sesame::{Manager, Patch, Policy};
    use sqlx::{Connection, Executor};
    let Some(url) = sesame::testing::service_url("SESAME_TEST_POSTGRES_URL") else {
        return;
    };
    let prefix = format!("t{}_", sesame::testing::unique_suffix());
    let config = SqlConfig::new()
        .with_table_prefix(&prefix)
        .with_statement_timeout(Duration::from_millis(500));
    let store = SqlStore::connect_with(&url, config).await.unwrap();
    let manager = Manager::new(store.clone(), Policy::default()).unwrap();
    let created = manager
        .create(None, Default::default(), Default::default())
        .await
        .unwrap();
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    let table = store.sessions_table().to_owned();
    blocker.execute("BEGIN").await.unwrap();
    blocker
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM {table} FOR UPDATE"
        )))
        .await
        .unwrap();
    let started = Instant::now();
    let result = manager
        .update(
            created.token.expose(),
            &Patch::new().set("a", 1).unwrap(),
            None,
        )
        .await;
    let took = started.elapsed();
    blocker.execute("ROLLBACK").await.unwrap();
    blocker
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP TABLE {table}; DROP TABLE {prefix}users; DROP TABLE {prefix}schema_migrations"
        )))
        .await
        .unwrap();
    assert!(
        matches!(result, Err(Error::StoreUnavailable(_))),
        "{result:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}
