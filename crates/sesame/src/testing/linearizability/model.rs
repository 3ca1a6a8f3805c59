//! The sequential model of the store contract, for one user.
//!
//! The state is what a perfect, single-threaded store would hold for one
//! user: each session it ever saw, live (version and data) or ended (the
//! tombstone's reason). [`step`] says which states may follow an operation
//! that returned a given outcome — none when the outcome is impossible.
//!
//! The histories run at one fixed instant with long timeouts, so nothing
//! expires and loads never touch: expiry is the conformance suite's business
//! (it moves a manual clock), not a concurrency question. Eviction picks the
//! user's least recently *created* sessions; at one instant those tie, so the
//! model accepts any live sessions as the evicted ones, as long as exactly the
//! right number goes. A lost answer ([`Outcome::Unknown`]) allows every state
//! the operation could lead to, and the state before it.

use std::collections::BTreeMap;

use super::history::{Op, Outcome};
use crate::lifecycle::EndReason;
use crate::policy::{CapAction, UserCap};
use crate::token::SessionId;

/// One session in the model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Live at this version with this data.
    Live {
        /// Its version.
        version: u64,
        /// Its data.
        data: BTreeMap<String, i64>,
    },
    /// Ended for this reason (its tombstone).
    Ended(EndReason),
}

/// The model's state for one user. A session absent from the map was never
/// created (or its creation is not yet linearized).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UserState {
    sessions: BTreeMap<SessionId, Slot>,
}

impl UserState {
    fn live(&self) -> Vec<SessionId> {
        self.sessions
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Live { .. }))
            .map(|(id, _)| *id)
            .collect()
    }

    fn with(&self, id: SessionId, slot: Slot) -> Self {
        let mut next = self.clone();
        next.sessions.insert(id, slot);
        next
    }

    fn ending(&self, ids: &[SessionId], reason: EndReason) -> Self {
        let mut next = self.clone();
        for id in ids {
            next.sessions.insert(*id, Slot::Ended(reason));
        }
        next
    }

    /// The outcome a read of `id` must have: live, ended or missing.
    fn read(&self, id: &SessionId) -> Outcome {
        match self.sessions.get(id) {
            Some(Slot::Live { version, data }) => Outcome::Live {
                version: *version,
                data: data.clone(),
            },
            Some(Slot::Ended(reason)) => Outcome::Ended(*reason),
            None => Outcome::Missing,
        }
    }
}

/// The states that may follow `op` answered with `outcome` in `state`; empty
/// when that answer is impossible there.
pub fn step(state: &UserState, op: &Op, outcome: &Outcome) -> Vec<UserState> {
    if *outcome == Outcome::Unknown {
        return unknown(state, op);
    }
    let next = match op {
        Op::Create { id, cap } => create(state, *id, *cap, outcome),
        Op::Load { id } => (state.read(id) == *outcome).then(|| state.clone()),
        Op::Update {
            id,
            key,
            value,
            expected_version,
        } => write(state, id, outcome, |version, data| {
            if expected_version.is_some_and(|e| e != version) {
                return Err(Outcome::Conflict {
                    current_version: version,
                });
            }
            data.insert(key.clone(), *value);
            Ok(Outcome::Updated {
                version: version + 1,
            })
        }),
        Op::Increment { id, key, delta } => write(state, id, outcome, |_, data| {
            let n = data.get(key).copied().unwrap_or(0) + delta;
            data.insert(key.clone(), n);
            Ok(Outcome::Incremented(n))
        }),
        Op::Rotate { from, to, .. } => rotate(state, from, *to, outcome),
        Op::End { id, reason } => {
            let live = matches!(state.sessions.get(id), Some(Slot::Live { .. }));
            match outcome {
                Outcome::EndedOne(true) if live => Some(state.ending(&[*id], *reason)),
                Outcome::EndedOne(false) if !live => Some(state.clone()),
                _ => None,
            }
        }
        Op::EndUser { reason } => match outcome {
            Outcome::EndedUser(ids) if same_set(ids, &state.live()) => {
                Some(state.ending(ids, *reason))
            }
            _ => None,
        },
    };
    next.into_iter().collect()
}

fn same_set(a: &[SessionId], b: &[SessionId]) -> bool {
    let mut a = a.to_vec();
    a.sort();
    a.dedup();
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// How many live sessions a create must evict, or `None` when it must be
/// refused (`RejectNew` at the cap).
fn must_evict(live: usize, cap: UserCap) -> Option<usize> {
    match cap.on_limit {
        CapAction::RejectNew => (live < cap.max).then_some(0),
        CapAction::EvictOldest => Some((live + 1).saturating_sub(cap.max)),
    }
}

fn create(state: &UserState, id: SessionId, cap: UserCap, outcome: &Outcome) -> Option<UserState> {
    if state.sessions.contains_key(&id) {
        return None;
    }
    let live = state.live();
    match (outcome, must_evict(live.len(), cap)) {
        (Outcome::LimitReached, None) => Some(state.clone()),
        (Outcome::Created { evicted }, Some(n)) => {
            let mut distinct = evicted.clone();
            distinct.sort();
            distinct.dedup();
            let valid = distinct.len() == evicted.len()
                && evicted.len() == n
                && evicted.iter().all(|e| live.contains(e));
            valid.then(|| state.ending(evicted, EndReason::Evicted).with(id, fresh()))
        }
        _ => None,
    }
}

fn fresh() -> Slot {
    Slot::Live {
        version: 1,
        data: BTreeMap::new(),
    }
}

/// A write to a live session: `apply` changes the data and says what the
/// store must answer (or the refusal it must give, changing nothing).
fn write(
    state: &UserState,
    id: &SessionId,
    outcome: &Outcome,
    apply: impl FnOnce(u64, &mut BTreeMap<String, i64>) -> Result<Outcome, Outcome>,
) -> Option<UserState> {
    let Some(Slot::Live { version, data }) = state.sessions.get(id) else {
        return (state.read(id) == *outcome).then(|| state.clone());
    };
    let mut data = data.clone();
    match apply(*version, &mut data) {
        Ok(expected) if expected == *outcome => Some(state.with(
            *id,
            Slot::Live {
                version: version + 1,
                data,
            },
        )),
        Err(refusal) if refusal == *outcome => Some(state.clone()),
        _ => None,
    }
}

fn rotate(
    state: &UserState,
    from: &SessionId,
    to: SessionId,
    outcome: &Outcome,
) -> Option<UserState> {
    let Some(Slot::Live { version, data }) = state.sessions.get(from) else {
        return (state.read(from) == *outcome).then(|| state.clone());
    };
    let expected = Outcome::Rotated {
        version: *version,
        evicted: Vec::new(),
    };
    (expected == *outcome && !state.sessions.contains_key(&to)).then(|| {
        state.ending(&[*from], EndReason::Rotated).with(
            to,
            Slot::Live {
                version: *version,
                data: data.clone(),
            },
        )
    })
}

/// Every state an operation whose answer was lost may have left: the state
/// before it, or any state an answer that applied it would have led to.
fn unknown(state: &UserState, op: &Op) -> Vec<UserState> {
    let mut out = vec![state.clone()];
    for answer in applying_answers(state, op) {
        for next in step(state, op, &answer) {
            if !out.contains(&next) {
                out.push(next);
            }
        }
    }
    out
}

/// The answers with which `op` would have changed `state`.
fn applying_answers(state: &UserState, op: &Op) -> Vec<Outcome> {
    let live = state.live();
    let slot = |id: &SessionId| match state.sessions.get(id) {
        Some(Slot::Live { version, data }) => Some((*version, data.clone())),
        _ => None,
    };
    match op {
        Op::Load { .. } => Vec::new(),
        Op::Create { cap, .. } => match must_evict(live.len(), *cap) {
            None => Vec::new(),
            Some(n) => choose(&live, n)
                .into_iter()
                .map(|evicted| Outcome::Created { evicted })
                .collect(),
        },
        Op::Update {
            id,
            expected_version,
            ..
        } => slot(id)
            .filter(|(v, _)| expected_version.is_none_or(|e| e == *v))
            .map(|(v, _)| Outcome::Updated { version: v + 1 })
            .into_iter()
            .collect(),
        Op::Increment { id, key, delta } => slot(id)
            .map(|(_, data)| Outcome::Incremented(data.get(key).copied().unwrap_or(0) + delta))
            .into_iter()
            .collect(),
        Op::Rotate { from, .. } => slot(from)
            .map(|(version, _)| Outcome::Rotated {
                version,
                evicted: Vec::new(),
            })
            .into_iter()
            .collect(),
        Op::End { .. } => vec![Outcome::EndedOne(true)],
        Op::EndUser { .. } => vec![Outcome::EndedUser(live)],
    }
}

/// Every way to pick `n` of `items` (a few at most: `n` is bounded by the
/// cap, which the histories keep small).
fn choose(items: &[SessionId], n: usize) -> Vec<Vec<SessionId>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    if items.len() < n {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, first) in items.iter().enumerate() {
        for mut rest in choose(&items[i + 1..], n - 1) {
            rest.insert(0, *first);
            out.push(rest);
        }
    }
    out
}
