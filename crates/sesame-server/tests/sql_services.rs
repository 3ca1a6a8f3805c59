//! `sesame serve` on PostgreSQL and MariaDB, end to end: the restart scenario
//! of the SQLite test, each run in a fresh PostgreSQL schema or MariaDB
//! database named by the store URL's `schema=` (dropped afterwards), so runs
//! never share tables. Needs SESAME_TEST_POSTGRES_URL / SESAME_TEST_MYSQL_URL.

mod common;

use common::restart::restart_keeps_every_session;
use common::*;
use sesame::testing::{service_url, unique_suffix};
use sqlx::{AssertSqlSafe, Connection, Executor};

/// Runs one statement on the service, outside sesame.
async fn admin(url: &str, sql: String) {
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        conn.execute(AssertSqlSafe(sql))
            .await
            .expect("admin statement");
    } else {
        let mut conn = sqlx::MySqlConnection::connect(url).await.expect("connect");
        conn.execute(AssertSqlSafe(sql))
            .await
            .expect("admin statement");
    }
}

/// The restart scenario in a fresh namespace (`CREATE SCHEMA` on
/// PostgreSQL, `CREATE DATABASE` on MariaDB).
async fn run_in_fresh_namespace(url: &str, kind: &str, namespace: &str) {
    let name = format!("sesame_srv_{}", unique_suffix());
    admin(url, format!("CREATE {namespace} {name}")).await;
    let mut config = test_config();
    let sep = if url.contains('?') { '&' } else { '?' };
    config.store = Some(format!("{url}{sep}schema={name}"));
    restart_keeps_every_session(config, kind).await;
    let cascade = if namespace == "SCHEMA" {
        " CASCADE"
    } else {
        ""
    };
    admin(url, format!("DROP {namespace} {name}{cascade}")).await;
}

#[tokio::test]
async fn postgres_restart_keeps_every_session() {
    let Some(url) = service_url("SESAME_TEST_POSTGRES_URL") else {
        return;
    };
    run_in_fresh_namespace(&url, "postgres", "SCHEMA").await;
}

#[tokio::test]
async fn mysql_restart_keeps_every_session() {
    let Some(url) = service_url("SESAME_TEST_MYSQL_URL") else {
        return;
    };
    run_in_fresh_namespace(&url, "mysql", "DATABASE").await;
}
