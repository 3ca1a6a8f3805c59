//! Histories: what each client asked the store and what it answered, with
//! the instants it asked and learned the answer.
//!
//! An operation whose answer was lost (a timeout, a cancelled call, a
//! `StoreUnavailable`) is recorded as [`Outcome::Unknown`] with no completion
//! instant: it *may* have taken effect, at any time after it was invoked.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use crate::lifecycle::EndReason;
use crate::policy::UserCap;
use crate::token::SessionId;

/// One operation of the store contract, as a client issued it. Every
/// operation belongs to one user (the history's partition key).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `Store::create` of a new session with empty data, under `cap`.
    Create {
        /// The new session's id.
        id: SessionId,
        /// The user's cap.
        cap: UserCap,
    },
    /// `Store::load` with [`LoadMode::Touch`](crate::store::LoadMode::Touch).
    Load {
        /// The session.
        id: SessionId,
    },
    /// `Store::update` setting one integer key.
    Update {
        /// The session.
        id: SessionId,
        /// The key set.
        key: String,
        /// The value set.
        value: i64,
        /// Compare-and-set: the version the session must be at.
        expected_version: Option<u64>,
    },
    /// `Store::increment`.
    Increment {
        /// The session.
        id: SessionId,
        /// The counter's key.
        key: String,
        /// What is added.
        delta: i64,
    },
    /// `Store::rotate` of `from` to the new id `to` (same user, no grace).
    Rotate {
        /// The current id.
        from: SessionId,
        /// The new id.
        to: SessionId,
        /// The user's cap.
        cap: UserCap,
    },
    /// `Store::end`.
    End {
        /// The session.
        id: SessionId,
        /// The reason recorded.
        reason: EndReason,
    },
    /// `Store::end_user` with no exception ("log out everywhere").
    EndUser {
        /// The reason recorded.
        reason: EndReason,
    },
}

impl Op {
    /// The sessions this operation names (none for `EndUser`).
    pub fn sessions(&self) -> Vec<SessionId> {
        match self {
            Op::Create { id, .. }
            | Op::Load { id }
            | Op::Update { id, .. }
            | Op::Increment { id, .. }
            | Op::End { id, .. } => vec![*id],
            Op::Rotate { from, to, .. } => vec![*from, *to],
            Op::EndUser { .. } => Vec::new(),
        }
    }
}

/// What the store answered, reduced to what the sequential model compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `create` succeeded and evicted these sessions.
    Created {
        /// The ids the cap evicted.
        evicted: Vec<SessionId>,
    },
    /// `create` was refused: the cap is reached (`RejectNew`).
    LimitReached,
    /// `load` found the session live.
    Live {
        /// Its version.
        version: u64,
        /// Its data (every value an integer in these histories).
        data: BTreeMap<String, i64>,
    },
    /// The session has ended (a load's tombstone, or `Error::Ended`).
    Ended(EndReason),
    /// Nothing under this id (`Lookup::Missing`, `Error::NotFound`).
    Missing,
    /// `update` applied; the version after it.
    Updated {
        /// The new version.
        version: u64,
    },
    /// `update`'s compare-and-set failed.
    Conflict {
        /// The version the store reported.
        current_version: u64,
    },
    /// `increment` applied; the new value.
    Incremented(i64),
    /// `rotate` succeeded.
    Rotated {
        /// The version of the session under its new id.
        version: u64,
        /// The ids the cap evicted.
        evicted: Vec<SessionId>,
    },
    /// `end`: whether the session was live and this call ended it.
    EndedOne(bool),
    /// `end_user`: the ids it ended.
    EndedUser(Vec<SessionId>),
    /// The answer was lost: the operation may or may not have happened.
    Unknown,
    /// An answer the contract does not allow for this operation (a corrupt
    /// record, a value that is not an integer, ...): always an anomaly.
    Unexpected(String),
}

/// One operation in a history.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The client (task) that issued it.
    pub client: usize,
    /// The user it belongs to.
    pub user: String,
    /// What was asked.
    pub op: Op,
    /// What came back.
    pub outcome: Outcome,
    /// When it was issued.
    pub invoked: Instant,
    /// When the answer arrived; `None` for [`Outcome::Unknown`].
    pub completed: Option<Instant>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "client {} user {}: {:?} -> {:?}",
            self.client, self.user, self.op, self.outcome
        )
    }
}

/// The operations of one run, in no particular order.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every operation.
    pub entries: Vec<Entry>,
}

impl History {
    /// How many operations ended with a lost answer.
    pub fn unknown(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.outcome == Outcome::Unknown)
            .count()
    }

    /// The entries in groups that can be checked on their own
    /// (P-compositionality), each named: by user, since no operation of
    /// one user can affect another's; and a user's operations further by
    /// session (a session and the ones it was rotated into) when nothing in
    /// them couples sessions — no `EndUser`, and caps above the number of
    /// creates, so no cap can bind. Reads whose answer was lost change
    /// nothing and are left out.
    pub fn partitions(&self) -> BTreeMap<String, Vec<&Entry>> {
        let mut users: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
        for e in &self.entries {
            if matches!(e.op, Op::Load { .. }) && e.outcome == Outcome::Unknown {
                continue;
            }
            users.entry(e.user.as_str()).or_default().push(e);
        }
        let mut parts = BTreeMap::new();
        for (user, entries) in users {
            if couples_sessions(&entries) {
                parts.insert(user.to_owned(), entries);
                continue;
            }
            for (root, group) in by_lineage(entries) {
                parts.insert(format!("{user} session {root:?}"), group);
            }
        }
        parts
    }
}

/// True when an operation of these may depend on several sessions.
fn couples_sessions(entries: &[&Entry]) -> bool {
    let creates = entries
        .iter()
        .filter(|e| matches!(e.op, Op::Create { .. }))
        .count();
    entries.iter().any(|e| match &e.op {
        Op::EndUser { .. } => true,
        Op::Create { cap, .. } | Op::Rotate { cap, .. } => cap.max <= creates,
        _ => false,
    })
}

/// Groups entries by session lineage: a session and those rotated from it.
fn by_lineage(entries: Vec<&Entry>) -> BTreeMap<SessionId, Vec<&Entry>> {
    let mut parent: BTreeMap<SessionId, SessionId> = BTreeMap::new();
    fn root(parent: &BTreeMap<SessionId, SessionId>, mut id: SessionId) -> SessionId {
        while let Some(p) = parent.get(&id).filter(|p| **p != id) {
            id = *p;
        }
        id
    }
    for e in &entries {
        if let Op::Rotate { from, to, .. } = e.op {
            let (a, b) = (root(&parent, from), root(&parent, to));
            if a != b {
                parent.insert(b, a);
            }
        }
    }
    let mut groups: BTreeMap<SessionId, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        if let Some(id) = e.op.sessions().first() {
            groups.entry(root(&parent, *id)).or_default().push(e);
        }
    }
    groups
}
