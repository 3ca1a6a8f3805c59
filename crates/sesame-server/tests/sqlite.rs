//! The embedded SQLite store behind the API: a restart keeps every session,
//! its data, its version and every ended session's reason.

mod common;

use common::restart::restart_keeps_every_session;
use common::*;

fn sqlite_config(dir: &std::path::Path) -> sesame_server::config::Config {
    let mut config = test_config();
    config.store = None;
    config.data_dir = dir.join("data");
    config
}

#[tokio::test]
async fn a_restart_keeps_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path());
    assert!(config.store_url().starts_with("sqlite://"));
    restart_keeps_every_session(config, "sqlite").await;
}
