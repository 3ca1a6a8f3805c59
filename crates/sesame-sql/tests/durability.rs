//! SQLite durability: a writer killed with SIGKILL in the middle of a loop of
//! creates loses none that it acknowledged, and the file passes
//! `PRAGMA integrity_check`.
//!
//! The writer is this test binary run again with `SESAME_SQL_WRITER_DB` set:
//! then `writer` loops creates forever, printing each acknowledged id.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sesame::store::{LoadMode, Lookup, Timing};
use sesame::{SessionRecord, SessionToken, Store, Timestamp, UserId};
use sesame_sql::SqlStore;
use sqlx::{Connection, Row};

const WRITER_ENV: &str = "SESAME_SQL_WRITER_DB";

fn timing() -> Timing {
    Timing {
        now: Timestamp::from_millis(1_700_000_000_000),
        idle_timeout: Duration::from_secs(3600),
        touch_interval: Duration::from_secs(60),
        tombstone_ttl: Duration::from_secs(600),
    }
}

fn record(i: u64) -> SessionRecord {
    let t = timing();
    let mut data = sesame::Data::new();
    data.insert("n".into(), i.into());
    SessionRecord {
        id: SessionToken::generate().unwrap().id(),
        user_id: Some(UserId::new(format!("user-{}", i % 10)).unwrap()),
        data,
        version: 1,
        created_at: t.now,
        token_issued_at: t.now,
        last_accessed: t.now,
        idle_expires_at: t.now.plus(t.idle_timeout),
        absolute_expires_at: t.now.plus(Duration::from_secs(86_400)),
        device: Default::default(),
        dbsc: None,
    }
}

/// Creates `count` sessions (forever with `None`), printing each id once the
/// store acknowledged it; returns the ids.
async fn write_loop(store: &SqlStore, count: Option<u64>) -> Vec<String> {
    let mut ids = Vec::new();
    let mut i = 0;
    while count.is_none_or(|c| i < c) {
        let r = record(i);
        let id = r.id.to_hex();
        store.create(r, None, &timing()).await.expect("create");
        // println! is line-buffered, and captured outside the child.
        println!("ACK {id}");
        ids.push(id);
        i += 1;
    }
    ids
}

/// In the child: the writer. Otherwise: a short loop whose every create
/// reads back, the same code path the killed writer runs.
#[tokio::test]
async fn writer() {
    if let Ok(path) = std::env::var(WRITER_ENV) {
        let store = SqlStore::connect(&format!("sqlite://{path}?mode=rwc"))
            .await
            .unwrap();
        write_loop(&store, None).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    for id in write_loop(&store, Some(20)).await {
        let id = sesame::SessionId::from_hex(&id).unwrap();
        assert!(matches!(
            store.load(&id, LoadMode::Peek, &timing()).await.unwrap(),
            Lookup::Live(_)
        ));
    }
}

#[tokio::test]
async fn sigkill_mid_write_loses_no_acknowledged_create() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(WRITER_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = Vec::new();
        let started = Instant::now();
        // Let it write a while (a few hundred creates), then kill it mid-loop.
        while acked.len() < 150 + round * 50 && started.elapsed() < Duration::from_secs(30) {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(id) = line.strip_prefix("ACK ") {
                        acked.push(id.to_owned());
                    }
                }
                _ => break,
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Everything printed before the kill was acknowledged too.
        for line in lines.map_while(Result::ok) {
            if let Some(id) = line.strip_prefix("ACK ")
                && id.len() == 64
            {
                acked.push(id.to_owned());
            }
        }
        assert!(
            acked.len() >= 150,
            "the writer acknowledged only {}",
            acked.len()
        );

        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = SqlStore::connect(&url).await.unwrap();
        for id in &acked {
            let id = sesame::SessionId::from_hex(id).unwrap();
            match store.load(&id, LoadMode::Peek, &timing()).await.unwrap() {
                Lookup::Live(_) => {}
                other => panic!("acknowledged create {id:?} lost after SIGKILL: {other:?}"),
            }
        }
        store.close().await;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let check: String = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(check, "ok");
        conn.close().await.unwrap();
    }
}
