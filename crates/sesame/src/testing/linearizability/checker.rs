//! The search: is there an order of the operations, consistent with their
//! real-time order, in which the sequential model gives every answer the
//! store gave?
//!
//! This is Wing and Gong's algorithm with Lowe's memoisation (as in Knossos
//! and Porcupine): take any operation that could come next — one invoked
//! before the earliest answer still to be explained — apply it to the model,
//! and go on; back up when the model refuses; never revisit a (set of
//! operations done, model state) pair. Operations with a lost answer have no
//! end: they may be placed anywhere after their start, or nowhere. Each user's
//! operations are checked on their own (P-compositionality: no operation
//! touches two users), which keeps the search small.

use std::collections::HashSet;
use std::time::Instant;

use super::history::{Entry, History, Outcome};
use super::model::{UserState, step};
use crate::token::SessionId;

/// The most (done-set, state) pairs one partition's search may visit before
/// it gives up (an anomaly that says so: the history was too tangled to
/// decide, which the workloads here never are — they need a few thousand).
pub const SEARCH_LIMIT: usize = 200_000;

/// A partition the model could not explain.
#[derive(Debug, Clone)]
pub struct Anomaly {
    /// The partition: a user, or one session lineage of a user.
    pub user: String,
    /// Operations in the partition.
    pub operations: usize,
    /// The longest prefix the search could explain.
    pub explained: usize,
    /// The operations that could have come next there, none of which the
    /// model accepts (their `Display` form), or why the search stopped.
    pub stuck_at: Vec<String>,
    /// Every operation on the sessions those name, in the order they were
    /// made, with start and end in µs from the partition's first operation:
    /// the evidence to read.
    pub related: Vec<String>,
}

impl std::fmt::Display for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: not linearizable ({} of {} operations explained); next candidates:",
            self.user, self.explained, self.operations
        )?;
        for s in &self.stuck_at {
            writeln!(f, "  {s}")?;
        }
        writeln!(f, " operations on those sessions:")?;
        for s in &self.related {
            writeln!(f, "  {s}")?;
        }
        Ok(())
    }
}

/// What checking a history found.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Operations checked.
    pub operations: usize,
    /// Of them, with a lost answer ("may have happened").
    pub unknown: usize,
    /// Partitions (users, or a user's sessions) checked.
    pub partitions: usize,
    /// Partitions no order explains; empty means linearizable.
    pub anomalies: Vec<Anomaly>,
}

impl Verdict {
    /// True when every partition has an order that explains it.
    pub fn is_linearizable(&self) -> bool {
        self.anomalies.is_empty()
    }
}

/// Checks every user's operations in `history` against the model.
pub fn check(history: &History) -> Verdict {
    let mut verdict = Verdict {
        operations: history.entries.len(),
        unknown: history.unknown(),
        ..Verdict::default()
    };
    for (user, entries) in history.partitions() {
        verdict.partitions += 1;
        if let Err(anomaly) = check_partition(&user, &entries) {
            verdict.anomalies.push(anomaly);
        }
    }
    verdict
}

/// A fixed-size set of operation indexes.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Done(Box<[u64]>);

impl Done {
    fn empty(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)].into_boxed_slice())
    }
    fn has(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn with(&self, i: usize) -> Self {
        let mut next = self.clone();
        next.0[i / 64] |= 1 << (i % 64);
        next
    }
    fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
}

fn check_partition(user: &str, entries: &[&Entry]) -> Result<(), Anomaly> {
    let n = entries.len();
    // Sorting by invocation lets the candidate scan stop early.
    let mut order: Vec<&Entry> = entries.to_vec();
    order.sort_by_key(|e| e.invoked);
    let invoked: Vec<Instant> = order.iter().map(|e| e.invoked).collect();
    let completed: Vec<Option<Instant>> = order
        .iter()
        .map(|e| e.completed.filter(|_| e.outcome != Outcome::Unknown))
        .collect();
    let required = completed.iter().filter(|c| c.is_some()).count();

    let start = (UserState::default(), Done::empty(n));
    let mut seen: HashSet<(Done, UserState)> = HashSet::new();
    seen.insert((start.1.clone(), start.0.clone()));
    let mut stack = vec![start];
    let mut best: Option<(usize, Done)> = None;
    while let Some((state, done)) = stack.pop() {
        let explained = (0..n)
            .filter(|&i| done.has(i) && completed[i].is_some())
            .count();
        if explained == required {
            return Ok(());
        }
        if best.as_ref().is_none_or(|(b, _)| done.count() > *b) {
            best = Some((done.count(), done.clone()));
        }
        if seen.len() > SEARCH_LIMIT {
            return Err(Anomaly {
                user: user.to_owned(),
                operations: n,
                explained: best.map_or(0, |(b, _)| b),
                stuck_at: vec![format!("search gave up after {SEARCH_LIMIT} states")],
                related: Vec::new(),
            });
        }
        // The earliest answer not yet explained bounds what may come next.
        let horizon = (0..n)
            .filter(|&i| !done.has(i))
            .filter_map(|i| completed[i])
            .min();
        let candidates: Vec<usize> = (0..n)
            .take_while(|&i| horizon.is_none_or(|h| invoked[i] <= h))
            .filter(|&i| !done.has(i))
            .collect();
        // The stack pops last-pushed first: push the calls with a lost
        // answer first and the answered ones latest-invoked first, so the
        // search tries the real-time order of answered calls before
        // anything else (it usually is the linearization).
        let (lost, answered): (Vec<usize>, Vec<usize>) = candidates
            .into_iter()
            .partition(|&i| completed[i].is_none());
        for i in lost.into_iter().chain(answered.into_iter().rev()) {
            for next in step(&state, &order[i].op, &order[i].outcome) {
                // A call with a lost answer that would change nothing is
                // the same as one that never happened, which the search
                // covers by leaving it out; placing it only multiplies
                // the states.
                if completed[i].is_none() && next == state {
                    continue;
                }
                let next_done = done.with(i);
                if seen.insert((next_done.clone(), next.clone())) {
                    stack.push((next, next_done));
                }
            }
        }
    }
    let (explained, done) = best.unwrap_or((0, Done::empty(n)));
    let horizon = (0..n)
        .filter(|&i| !done.has(i))
        .filter_map(|i| completed[i])
        .min();
    let stuck: Vec<usize> = (0..n)
        .filter(|&i| !done.has(i) && horizon.is_none_or(|h| invoked[i] <= h))
        .collect();
    let ids: Vec<SessionId> = stuck.iter().flat_map(|&i| order[i].op.sessions()).collect();
    let t0 = invoked.first().copied();
    let micros = |t: Instant| t0.map_or(0, |t0| t.duration_since(t0).as_micros());
    let related = order
        .iter()
        .filter(|e| e.op.sessions().iter().any(|s| ids.contains(s)))
        .take(60)
        .map(|e| {
            let end = e
                .completed
                .map_or("?".to_owned(), |c| micros(c).to_string());
            format!("[{}..{end}] {e}", micros(e.invoked))
        })
        .collect();
    Err(Anomaly {
        user: user.to_owned(),
        operations: n,
        explained,
        stuck_at: stuck.iter().map(|&i| order[i].to_string()).collect(),
        related,
    })
}
