//! Conformance cases of the combined step, [`Store::load_and_write`]: it must
//! behave as a load followed by the write, whether the store makes it one step
//! or two.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;

use super::Harness;
use super::cases::steady_policy;
use crate::data::Patch;
use crate::device::{DeviceBinding, DeviceInfo, MismatchAction};
use crate::lifecycle::EndReason;
use crate::store::{Store, Write, Written};
use crate::{Error, LoadedWrite, Result};

type Dyn = Arc<dyn Store>;

fn increment(key: &str, delta: i64) -> Write<'_> {
    Write::Increment { key, delta }
}

fn ended_reason(result: Result<LoadedWrite>) -> EndReason {
    match result {
        Err(Error::Ended { reason }) => reason,
        other => panic!("expected Ended, got {other:?}"),
    }
}

/// The write lands with the load: the answer holds the session after it, the
/// write counts as a use, and a refused write changes nothing.
pub async fn load_and_write_writes_with_the_load(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let token = h.create(Some(&h.user)).await.token;
    h.clock.advance(Duration::from_secs(120));
    let step = h
        .manager
        .load_and_write(token.expose(), &h.device, increment("n", 2))
        .await
        .unwrap();
    assert_eq!(step.written.unwrap(), Written::Incremented(2));
    assert_eq!(step.loaded.session.data.get("n"), Some(&json!(2)));
    let after = h.session(&token).await;
    assert_eq!(after.data.get("n"), Some(&json!(2)));
    assert_eq!(after.version, 2);
    assert_eq!(after.last_accessed, h.manager.now(), "a write is a use");
    assert_eq!(
        after.idle_expires_at,
        h.manager.now().plus(h.manager.policy().idle_timeout())
    );

    let patch = Patch::new().set("a", "x").unwrap().remove("n").unwrap();
    let write = Write::Update {
        patch: &patch,
        expected_version: Some(2),
    };
    let step = h
        .manager
        .load_and_write(token.expose(), &h.device, write)
        .await
        .unwrap();
    assert_eq!(step.written.unwrap(), Written::Updated);
    assert_eq!(step.loaded.session.version, 3);
    assert_eq!(step.loaded.session.data.get("a"), Some(&json!("x")));
    assert!(step.loaded.session.data.get("n").is_none());

    let stale = h
        .manager
        .load_and_write(token.expose(), &h.device, write)
        .await
        .unwrap();
    assert!(matches!(
        stale.written,
        Err(Error::Conflict { current_version: 3 })
    ));
    let not_int = h
        .manager
        .load_and_write(token.expose(), &h.device, increment("a", 1))
        .await
        .unwrap();
    assert!(matches!(not_int.written, Err(Error::NotAnInteger { .. })));
    assert!(matches!(
        h.manager
            .load_and_write(token.expose(), &h.device, increment("", 1))
            .await,
        Err(Error::InvalidKey(_))
    ));
    let last = h.session(&token).await;
    assert_eq!(last.version, 3);
    assert_eq!(last.data.len(), 1);
    assert_eq!(last.data.get("a"), Some(&json!("x")));
}

/// What a load refuses, the combined step refuses, writing nothing; another
/// device writes only where the binding lets it; a rotated token within its
/// grace writes to its successor.
pub async fn load_and_write_refuses_what_load_refuses(store: Dyn) {
    let h = Harness::new(store.clone(), steady_policy());
    let stranger = crate::SessionToken::generate().unwrap();
    assert!(matches!(
        h.manager
            .load_and_write(stranger.expose(), &h.device, increment("n", 1))
            .await,
        Err(Error::NotFound)
    ));

    let out = h.create(Some(&h.user)).await.token;
    h.manager
        .destroy(out.expose(), EndReason::LoggedOut)
        .await
        .unwrap();
    let write = h
        .manager
        .load_and_write(out.expose(), &h.device, increment("n", 1))
        .await;
    assert_eq!(ended_reason(write), EndReason::LoggedOut);

    let idle = h.create(Some(&h.user)).await.token;
    h.clock.advance(h.manager.policy().idle_timeout());
    let write = h
        .manager
        .load_and_write(idle.expose(), &h.device, increment("n", 1))
        .await;
    assert_eq!(ended_reason(write), EndReason::IdleTimeout);
    let expiries = h.events.end_reasons();
    assert_eq!(
        expiries
            .iter()
            .filter(|r| **r == EndReason::IdleTimeout)
            .count(),
        1,
        "the expiry is reported once"
    );

    let thief = DeviceInfo::default().with_user_agent("curl/8");
    let stolen = h.create(Some(&h.user)).await.token;
    let write = h
        .manager
        .load_and_write(stolen.expose(), &thief, increment("n", 1))
        .await;
    assert_eq!(ended_reason(write), EndReason::DeviceMismatch);
    let inspected = h.manager.inspect(stolen.expose()).await.unwrap();
    assert_eq!(inspected.end_reason, Some(EndReason::DeviceMismatch));

    let flag = steady_policy()
        .with_device_binding(DeviceBinding::default().with_on_mismatch(MismatchAction::Flag))
        .with_rotation_grace(Duration::from_secs(30));
    let h = Harness::new(store, flag);
    let token = h.create(Some(&h.user)).await.token;
    let flagged = h
        .manager
        .load_and_write(token.expose(), &thief, increment("n", 1))
        .await
        .unwrap();
    assert!(flagged.loaded.device_flagged);
    assert_eq!(flagged.written.unwrap(), Written::Incremented(1));
    let new = h.manager.rotate(token.expose()).await.unwrap().token;
    let via_old = h
        .manager
        .load_and_write(token.expose(), &h.device, increment("n", 1))
        .await
        .unwrap();
    assert!(via_old.loaded.via_grace);
    assert_eq!(via_old.written.unwrap(), Written::Incremented(2));
    assert_eq!(h.session(&new).await.data.get("n"), Some(&json!(2)));
}

/// 20 tasks × 25 combined increments of one key and 10 tasks × 10 combined
/// patches of their own keys, all at once, lose nothing.
pub async fn concurrent_load_and_writes_lose_nothing(store: Dyn) {
    let h = Arc::new(Harness::new(store, steady_policy()));
    let token = h.create(Some(&h.user)).await.token;
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    for _ in 0..20 {
        let (h, token) = (h.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let step = h
                    .manager
                    .load_and_write(token.expose(), &h.device, increment("n", 1));
                step.await.unwrap().written.unwrap();
            }
        }));
    }
    for task in 0..10 {
        let (h, token) = (h.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let patch = Patch::new().set(format!("k{task}"), i).unwrap();
                let write = Write::Update {
                    patch: &patch,
                    expected_version: None,
                };
                let step = h.manager.load_and_write(token.expose(), &h.device, write);
                step.await.unwrap().written.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.expect("task panicked");
    }
    let session = h.session(&token).await;
    assert_eq!(session.data.get("n"), Some(&json!(500)));
    for task in 0..10 {
        assert_eq!(session.data.get(&format!("k{task}")), Some(&json!(9)));
    }
    assert_eq!(session.version, 1 + 500 + 100);
}
