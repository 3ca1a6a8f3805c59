//! A linearizability checker for the store contract.
//!
//! The conformance cases check chosen interleavings; this checks whatever
//! interleaving happened. [`record`] runs many clients against a store at
//! once — creates under a cap, loads, patches with and without
//! `expected_version`, increments, rotations, ends and "log out everywhere" —
//! noting when each call was made and answered. [`check`] then searches for
//! one order of those calls, consistent with real time (a call answered
//! before another was made comes first), in which a sequential model of the
//! contract ([`model`]) gives every answer the store gave. If there is none,
//! some client saw something no correct store could show: a lost update, a
//! cap exceeded, an ended session alive again, a stale read.
//!
//! Calls whose answer was lost (a timeout, an abandoned call, a
//! `StoreUnavailable`) "may have happened": the search may place them
//! anywhere after they were made, or leave them out.
//!
//! # Why a checker of our own
//! The Rust crates that check linearizability either test in-process data
//! structures by running them (`lincheck`), check histories without the
//! memoisation that keeps the search small (`stateright`'s tester, which is
//! part of a model checker), or are a one-author 0.1 release (`todc-utils`);
//! none takes calls that may or may not have happened. The algorithm is
//! short (Wing–Gong with Lowe's memoisation, [`checker`]); the model of the
//! store contract had to be written anyway.
//!
//! # Examples
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! use std::sync::Arc;
//! use sesame::memory::MemoryStore;
//! use sesame::testing::linearizability::{Workload, check, record};
//!
//! let history = record(Arc::new(MemoryStore::new()), &Workload::standard(1)).await;
//! let verdict = check(&history);
//! assert!(verdict.is_linearizable(), "{:?}", verdict.anomalies);
//! # }
//! ```

pub mod checker;
pub mod faulty;
pub mod history;
pub mod model;
pub mod workload;

use std::sync::Arc;

pub use checker::{Anomaly, Verdict, check};
pub use history::{Entry, History, Op, Outcome};
pub use workload::{Faults, Mix, Workload, record};

use crate::store::Store;

/// How many histories a conformance case records: `SESAME_LIN_HISTORIES`, or
/// `default` (CI keeps it small; a long local run raises it).
pub fn histories(default: u64) -> u64 {
    std::env::var("SESAME_LIN_HISTORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Records `count` histories of `make(seed)` against `store`, checks each,
/// prints one line per run to stderr (`linearizability: ...`), and panics
/// naming the anomalies if any history is not linearizable.
///
/// # Panics
/// On any anomaly: that is the test failing.
pub async fn assert_linearizable(
    store: Arc<dyn Store>,
    label: &str,
    count: u64,
    make: impl Fn(u64) -> Workload,
) {
    let (mut ops, mut unknown) = (0, 0);
    for seed in 1..=count {
        let history = record(store.clone(), &make(seed)).await;
        let verdict = check(&history);
        ops += verdict.operations;
        unknown += verdict.unknown;
        if !verdict.is_linearizable() {
            let report: Vec<String> = verdict.anomalies.iter().map(|a| a.to_string()).collect();
            panic!(
                "{label}: history {seed} is not linearizable:\n{}",
                report.join("\n")
            );
        }
    }
    eprintln!(
        "linearizability: {label}: {count} histories, {ops} operations ({unknown} may have happened), 0 anomalies"
    );
}
