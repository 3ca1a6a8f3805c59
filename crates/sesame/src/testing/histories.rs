//! The history cases: random concurrent operations, checked for
//! linearizability (see [`super::linearizability`]). How many histories
//! each records: `SESAME_LIN_HISTORIES` (default 1).

use std::sync::Arc;

use super::linearizability::{Workload, assert_linearizable, histories};
use crate::store::Store;

type Dyn = Arc<dyn Store>;

/// Histories of 8 clients × 40 operations on single sessions (creates under
/// caps that never bind, loads, patches with and without a version,
/// increments, rotations, ends) have a linearization. Every store runs it.
pub async fn single_session_histories_are_linearizable(store: Dyn) {
    let n = histories(1);
    assert_linearizable(store, "single sessions", n, Workload::per_session).await;
}

/// The same with one call in five abandoned after up to 2 ms, as a client
/// timeout does: what the store did with it may or may not show, but nothing
/// else may go wrong (a half-applied write, a connection left mid-reply).
pub async fn single_session_histories_with_abandoned_calls_are_linearizable(store: Dyn) {
    let n = histories(1);
    assert_linearizable(store, "single sessions, abandoned calls", n, |seed| {
        Workload::per_session(seed).with_cancellations()
    })
    .await;
}

/// Histories of every operation, with caps of 3 that bind (evicting and
/// rejecting) and "log out everywhere", have a linearization: the cap and
/// the user's sessions change in one atomic step. For the stores that
/// promise that (memory, SQL, standalone Redis: `store_history_tests!`).
pub async fn histories_are_linearizable(store: Dyn) {
    assert_linearizable(store, "all operations", histories(1), Workload::standard).await;
}

/// The same with one call in five abandoned after up to 2 ms.
pub async fn histories_with_abandoned_calls_are_linearizable(store: Dyn) {
    let n = histories(1);
    assert_linearizable(store, "all operations, abandoned calls", n, |seed| {
        Workload::standard(seed).with_cancellations()
    })
    .await;
}
