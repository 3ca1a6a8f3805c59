//! The concurrent conformance cases: what no interleaving may break.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::Harness;
use super::cases::{capped, steady_policy};
use crate::data::Patch;
use crate::lifecycle::EndReason;
use crate::policy::CapAction;
use crate::store::Store;
use crate::{Created, Error};

type Dyn = Arc<dyn Store>;

async fn join_all<T: Send + 'static>(tasks: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.expect("task panicked"));
    }
    out
}

/// Starts `n` concurrent creates for the harness's user.
fn concurrent_creates(h: &Arc<Harness>, n: usize) -> Vec<JoinHandle<crate::Result<Created>>> {
    (0..n)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move {
                h.manager
                    .create(Some(&h.user), Default::default(), h.device.clone())
                    .await
            })
        })
        .collect()
}

/// 200 concurrent creates for one user with a cap of 5 leave exactly 5 live
/// sessions and report the other 195 evicted.
pub async fn concurrent_creates_respect_the_cap(store: Dyn) {
    let h = Arc::new(capped(store, 5, CapAction::EvictOldest));
    let tasks = concurrent_creates(&h, 200);
    let created: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("create under the cap"))
        .collect();
    let live = h.manager.list_user(&h.user).await.unwrap();
    assert_eq!(live.len(), 5);
    let evicted: usize = created.iter().map(|c| c.evicted.len()).sum();
    assert_eq!(evicted, 195);
    let mut still_live = 0;
    for c in &created {
        match h.manager.load(c.token.expose(), &h.device).await {
            Ok(_) => still_live += 1,
            Err(Error::Ended {
                reason: EndReason::Evicted,
            }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(still_live, 5);
}

/// With `RejectNew`, exactly the cap's worth of 200 concurrent creates wins.
pub async fn concurrent_creates_with_reject_new_admit_exactly_the_cap(store: Dyn) {
    let h = Arc::new(capped(store, 5, CapAction::RejectNew));
    let tasks = concurrent_creates(&h, 200);
    let results = join_all(tasks).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(Error::LimitReached)))
        .count();
    assert_eq!((ok, limited), (5, 195));
    assert_eq!(h.manager.list_user(&h.user).await.unwrap().len(), 5);
}

/// 50 tasks × 100 patches, each to a key of its own, lose none of the 5000.
pub async fn concurrent_patches_to_distinct_keys_lose_nothing(store: Dyn) {
    let h = Arc::new(Harness::new(
        store,
        steady_policy().with_max_data_size(1 << 20),
    ));
    let token = h.create(Some(&h.user)).await.token;
    let tasks = (0..50)
        .map(|task| {
            let h = h.clone();
            let token = token.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    let patch = Patch::new().set(format!("t{task}-{i}"), i).unwrap();
                    h.manager
                        .update(token.expose(), &patch, None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    join_all(tasks).await;
    let session = h.session(&token).await;
    assert_eq!(session.data.len(), 5000);
    assert_eq!(session.version, 5001);
}

/// 50 tasks × 100 atomic increments of one key end at exactly 5000.
pub async fn concurrent_increments_lose_nothing(store: Dyn) {
    let h = Arc::new(Harness::new(store, steady_policy()));
    let token = h.create(Some(&h.user)).await.token;
    let tasks = (0..50)
        .map(|_| {
            let h = h.clone();
            let token = token.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    h.manager.increment(token.expose(), "n", 1).await.unwrap();
                }
            })
        })
        .collect();
    join_all(tasks).await;
    let session = h.session(&token).await;
    assert_eq!(session.data.get("n"), Some(&serde_json::json!(5000)));
}

/// Compare-and-set read-modify-write from 10 tasks × 20 loses nothing.
pub async fn concurrent_modify_loses_nothing(store: Dyn) {
    let h = Arc::new(Harness::new(store, steady_policy()));
    let token = h.create(Some(&h.user)).await.token;
    let tasks = (0..10)
        .map(|_| {
            let h = h.clone();
            let token = token.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    h.manager
                        .modify(token.expose(), "list", |v| {
                            let mut items =
                                v.and_then(|v| v.as_array()).cloned().unwrap_or_default();
                            items.push(serde_json::json!(items.len()));
                            Ok(serde_json::Value::Array(items))
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    join_all(tasks).await;
    let session = h.session(&token).await;
    let list = session.data.get("list").and_then(|v| v.as_array()).unwrap();
    assert_eq!(list.len(), 200);
}

/// Of 20 concurrent rotations of one session exactly one wins; the others
/// learn it was rotated, and the user has one session.
pub async fn concurrent_rotations_have_one_winner(store: Dyn) {
    let h = Arc::new(Harness::new(store, steady_policy()));
    let token = h.create(Some(&h.user)).await.token;
    h.clock.advance(Duration::from_secs(1));
    let tasks = (0..20)
        .map(|_| {
            let h = h.clone();
            let token = token.clone();
            tokio::spawn(async move { h.manager.rotate(token.expose()).await })
        })
        .collect();
    let results = join_all(tasks).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    assert!(results.iter().all(|r| match r {
        Ok(_) => true,
        Err(Error::Ended { reason }) => *reason == EndReason::Rotated,
        Err(_) => false,
    }));
    let listed = h.manager.list_user(&h.user).await.unwrap();
    assert_eq!(listed.len(), 1);
    let winner = results.into_iter().find_map(Result::ok).unwrap();
    assert_eq!(listed[0].id, winner.token.id());
}
