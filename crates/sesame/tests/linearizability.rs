//! The linearizability checker itself: hand-made histories it must accept and
//! refuse, and broken stores it must catch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sesame::policy::{CapAction, UserCap};
use sesame::testing::linearizability::faulty::{Fault, Faulty};
use sesame::testing::linearizability::{Entry, History, Mix, Op, Outcome, Workload, check, record};
use sesame::{EndReason, MemoryStore, SessionId};

const CAP: UserCap = UserCap {
    max: 2,
    on_limit: CapAction::EvictOldest,
};

fn id(n: u8) -> SessionId {
    SessionId::from_bytes([n; 32])
}

/// A history builder: `op(client, from_ms, to_ms, op, outcome)`; `to_ms`
/// `None` is an answer lost.
struct Builder {
    base: Instant,
    history: History,
}

impl Builder {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            history: History::default(),
        }
    }

    fn op(mut self, client: usize, from: u64, to: Option<u64>, op: Op, outcome: Outcome) -> Self {
        let at = |ms| self.base + Duration::from_millis(ms);
        self.history.entries.push(Entry {
            client,
            user: "u".into(),
            op,
            completed: to.map(at),
            outcome,
            invoked: at(from),
        });
        self
    }

    fn linearizable(&self) -> bool {
        check(&self.history).is_linearizable()
    }
}

fn create(n: u8) -> Op {
    Op::Create {
        id: id(n),
        cap: CAP,
    }
}

fn created() -> Outcome {
    Outcome::Created { evicted: vec![] }
}

fn load(n: u8) -> Op {
    Op::Load { id: id(n) }
}

fn live(version: u64, counter: Option<i64>) -> Outcome {
    Outcome::Live {
        version,
        data: counter.map(|c| ("n".to_owned(), c)).into_iter().collect(),
    }
}

fn incr(n: u8) -> Op {
    Op::Increment {
        id: id(n),
        key: "n".into(),
        delta: 1,
    }
}

fn end(n: u8) -> Op {
    Op::End {
        id: id(n),
        reason: EndReason::LoggedOut,
    }
}

#[test]
fn a_sequential_history_that_follows_the_model_is_accepted() {
    let b = Builder::new()
        .op(0, 0, Some(1), create(1), created())
        .op(0, 2, Some(3), incr(1), Outcome::Incremented(1))
        .op(0, 4, Some(5), load(1), live(2, Some(1)))
        .op(0, 6, Some(7), end(1), Outcome::EndedOne(true))
        .op(0, 8, Some(9), load(1), Outcome::Ended(EndReason::LoggedOut));
    assert!(b.linearizable());
}

#[test]
fn a_stale_read_after_a_completed_write_is_refused() {
    let b = Builder::new()
        .op(0, 0, Some(1), create(1), created())
        .op(0, 2, Some(3), incr(1), Outcome::Incremented(1))
        .op(1, 4, Some(5), load(1), live(1, None));
    let verdict = check(&b.history);
    assert_eq!(verdict.anomalies.len(), 1);
    assert!(verdict.anomalies[0].to_string().contains("Load"));
}

#[test]
fn a_read_overlapping_a_write_may_see_either_side() {
    for seen in [live(1, None), live(2, Some(1))] {
        let b = Builder::new()
            .op(0, 0, Some(1), create(1), created())
            .op(0, 2, Some(6), incr(1), Outcome::Incremented(1))
            .op(1, 3, Some(5), load(1), seen);
        assert!(b.linearizable());
    }
}

#[test]
fn two_increments_answering_the_same_value_are_a_lost_update() {
    let b = Builder::new()
        .op(0, 0, Some(1), create(1), created())
        .op(0, 2, Some(6), incr(1), Outcome::Incremented(1))
        .op(1, 3, Some(5), incr(1), Outcome::Incremented(1));
    assert!(!b.linearizable());
}

#[test]
fn an_acknowledged_end_may_not_come_back_to_life() {
    let b = Builder::new()
        .op(0, 0, Some(1), create(1), created())
        .op(0, 2, Some(3), end(1), Outcome::EndedOne(true))
        .op(1, 4, Some(5), load(1), live(1, None));
    assert!(!b.linearizable());
}

#[test]
fn an_end_whose_answer_was_lost_may_or_may_not_have_happened() {
    for after in [live(1, None), Outcome::Ended(EndReason::LoggedOut)] {
        let b = Builder::new()
            .op(0, 0, Some(1), create(1), created())
            .op(0, 2, None, end(1), Outcome::Unknown)
            .op(1, 4, Some(5), load(1), after);
        assert!(b.linearizable());
    }
    // But not both ways: once seen ended, it stays ended.
    let b = Builder::new()
        .op(0, 0, Some(1), create(1), created())
        .op(0, 2, None, end(1), Outcome::Unknown)
        .op(1, 4, Some(5), load(1), Outcome::Ended(EndReason::LoggedOut))
        .op(1, 6, Some(7), load(1), live(1, None));
    assert!(!b.linearizable());
}

#[test]
fn a_create_past_the_cap_must_evict_exactly_the_excess() {
    let base = Builder::new().op(0, 0, Some(1), create(1), created()).op(
        0,
        2,
        Some(3),
        create(2),
        created(),
    );
    let evicting = base.op(
        0,
        4,
        Some(5),
        create(3),
        Outcome::Created {
            evicted: vec![id(1)],
        },
    );
    assert!(evicting.linearizable());
    let leaking = Builder::new()
        .op(0, 0, Some(1), create(1), created())
        .op(0, 2, Some(3), create(2), created())
        .op(0, 4, Some(5), create(3), created());
    assert!(!leaking.linearizable());
}

#[test]
fn end_user_must_end_exactly_the_live_sessions() {
    let b = |ended: Vec<SessionId>| {
        Builder::new()
            .op(0, 0, Some(1), create(1), created())
            .op(0, 2, Some(3), create(2), created())
            .op(0, 4, Some(5), end(1), Outcome::EndedOne(true))
            .op(
                0,
                6,
                Some(7),
                Op::EndUser {
                    reason: EndReason::Revoked,
                },
                Outcome::EndedUser(ended),
            )
    };
    assert!(b(vec![id(2)]).linearizable());
    assert!(!b(vec![id(1), id(2)]).linearizable());
    assert!(!b(vec![]).linearizable());
}

fn uncapped() -> UserCap {
    UserCap {
        max: 1000,
        on_limit: CapAction::RejectNew,
    }
}

/// Counters only, so that nothing ends a session and the final read sees
/// every increment.
fn counters(seed: u64) -> Workload {
    Workload {
        caps: vec![uncapped(), uncapped()],
        mix: Mix::COUNTERS,
        ..Workload::standard(seed)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_memory_store_passes() {
    for seed in 1..=3 {
        let history = record(Arc::new(MemoryStore::new()), &Workload::standard(seed)).await;
        let verdict = check(&history);
        assert!(verdict.is_linearizable(), "{:?}", verdict.anomalies);
        assert_eq!(verdict.operations, history.entries.len());
        assert!(verdict.operations >= 8 * 40);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_loses_one_increment_is_caught() {
    for seed in 1..=3 {
        let store = Arc::new(Faulty::new(MemoryStore::new(), Fault::LoseOneIncrement));
        let history = record(store.clone(), &counters(seed)).await;
        assert!(store.fired(), "the fault never fired (seed {seed})");
        let verdict = check(&history);
        assert_eq!(verdict.anomalies.len(), 1, "seed {seed}: {verdict:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_exceeds_the_cap_is_caught() {
    for seed in 1..=3 {
        let store = Arc::new(Faulty::new(MemoryStore::new(), Fault::IgnoreCap));
        let history = record(store, &Workload::standard(seed)).await;
        let verdict = check(&history);
        // Every user in the standard workload has a cap of 3 and sees more
        // creates than that.
        assert!(!verdict.is_linearizable(), "seed {seed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_are_checked_apart_only_when_nothing_couples_them() {
    let per_session = record(Arc::new(MemoryStore::new()), &Workload::per_session(7)).await;
    let verdict = check(&per_session);
    assert!(verdict.is_linearizable(), "{:?}", verdict.anomalies);
    // Caps of 1000 never bind and nothing ends a user's sessions at once:
    // one partition per session lineage, many more than the 3 users.
    assert!(verdict.partitions > 10, "{}", verdict.partitions);
    let standard = record(Arc::new(MemoryStore::new()), &Workload::standard(7)).await;
    assert_eq!(check(&standard).partitions, 3);
}
