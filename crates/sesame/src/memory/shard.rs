//! One shard of the memory store: a map of sessions and an expiry index.
//!
//! The expiry index is a sorted set of `(deadline, id)`, so a cleanup pass
//! reads only the entries that are due — its cost grows with the number of
//! expired sessions, not with the total.

use std::collections::BTreeSet;

use super::compact::{Ended, Entry, Live};
use super::table::IdTable;
use crate::clock::Timestamp;
use crate::lifecycle::{EndReason, EndedSession, Successor, Tombstone};
use crate::store::Timing;
use crate::token::SessionId;
use crate::{Error, Result};

#[derive(Default)]
pub(super) struct Shard {
    entries: IdTable,
    deadlines: BTreeSet<(Timestamp, SessionId)>,
}

impl Shard {
    pub fn get(&self, id: &SessionId) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// Stores `entry` under its id, keeping the expiry index in step.
    pub fn put(&mut self, entry: Entry) {
        let id = *entry.id();
        self.deadlines.insert((entry.deadline(), id));
        if let Some(old) = self.entries.insert(entry) {
            let old_deadline = old.deadline();
            if self.entries.get(&id).map(Entry::deadline) != Some(old_deadline) {
                self.deadlines.remove(&(old_deadline, id));
            }
        }
    }

    fn remove(&mut self, id: &SessionId) -> Option<Entry> {
        let entry = self.entries.remove(id)?;
        self.deadlines.remove(&(entry.deadline(), *id));
        Some(entry)
    }

    /// The live session under `id`, or why there is none. An expired session
    /// is refused but left for `load` or cleanup to end and report.
    pub fn live_mut(&mut self, id: &SessionId, now: Timestamp) -> Result<&mut Live> {
        match self.entries.get_mut(id) {
            None => Err(Error::NotFound),
            Some(Entry::Ended(ended)) => Err(Error::Ended {
                reason: ended.tombstone.reason,
            }),
            Some(Entry::Live(live)) => match live.expired_reason(now) {
                Some(reason) => Err(Error::Ended { reason }),
                None => Ok(live),
            },
        }
    }

    /// Runs `change` on a live session and re-files it in the expiry index if
    /// its expiry moved.
    pub fn change_live<R>(
        &mut self,
        id: &SessionId,
        now: Timestamp,
        change: impl FnOnce(&mut Live) -> Result<R>,
    ) -> Result<R> {
        let live = self.live_mut(id, now)?;
        let before = live.expires_at();
        let result = change(live)?;
        let after = live.expires_at();
        if before != after {
            self.deadlines.remove(&(before, *id));
            self.deadlines.insert((after, *id));
        }
        Ok(result)
    }

    /// True when `id` is live and unexpired at `now`.
    pub fn is_live(&self, id: &SessionId, now: Timestamp) -> bool {
        matches!(self.entries.get(id), Some(Entry::Live(live)) if live.expires_at() > now)
    }

    /// Ends the live, unexpired session `id`, leaving a tombstone. `None` if it
    /// was not live.
    pub fn end(
        &mut self,
        id: &SessionId,
        reason: EndReason,
        successor: Option<Successor>,
        t: &Timing,
    ) -> Option<(EndedSession, Box<Live>)> {
        if !self.is_live(id, t.now) {
            return None;
        }
        let Some(Entry::Live(live)) = self.remove(id) else {
            return None;
        };
        let tombstone = Tombstone {
            id: *id,
            user_id: live.user_id.clone(),
            reason,
            ended_at: t.now,
            successor,
        };
        let keep_until = successor.map_or(t.now, |s| s.grace_until.max(t.now));
        self.put_tombstone(tombstone, t.purge_at(keep_until));
        let ended = EndedSession {
            id: *id,
            user_id: live.user_id.clone(),
            reason,
        };
        Some((ended, live))
    }

    fn put_tombstone(&mut self, tombstone: Tombstone, purge_at: Timestamp) {
        self.put(Entry::Ended(Box::new(Ended {
            tombstone,
            purge_at,
        })));
    }

    /// Ends `id` if it is live but expired at `t.now`; returns its tombstone.
    pub fn end_if_expired(&mut self, id: &SessionId, t: &Timing) -> Option<Tombstone> {
        let tombstone = match self.entries.get(id) {
            Some(Entry::Live(live)) => live.expiry_tombstone(t.now)?,
            _ => return None,
        };
        self.remove(id);
        let purge_at = t.purge_at(tombstone.ended_at);
        if purge_at > t.now {
            self.put_tombstone(tombstone.clone(), purge_at);
        }
        Some(tombstone)
    }

    /// Takes up to `limit` entries whose deadline has passed and settles each:
    /// an expired session is ended (and purged if its tombstone would already
    /// be due), a due tombstone is purged. The due entries are split off the
    /// expiry index in one step, and each costs one map lookup, so the work
    /// follows the number of due entries, not the shard's size.
    pub fn sweep(&mut self, t: &Timing, limit: usize, out: &mut Sweep) -> usize {
        let boundary = (
            Timestamp::from_millis(t.now.as_millis().saturating_add(1)),
            SessionId::from_bytes([0; 32]),
        );
        let not_due = self.deadlines.split_off(&boundary);
        let mut due = std::mem::replace(&mut self.deadlines, not_due);
        if let Some(first_left) = due.iter().nth(limit).copied() {
            let mut left = due.split_off(&first_left);
            self.deadlines.append(&mut left);
        }
        let taken = due.len();
        // A first pass of independent lookups, which the CPU overlaps: in a
        // large table each entry is a cache miss, and the settling pass below
        // then finds them all in cache.
        let mut touched = 0u64;
        for (_, id) in &due {
            if let Some(entry) = self.entries.get(id) {
                touched ^= entry.deadline().as_millis();
            }
        }
        std::hint::black_box(touched);
        for (deadline, id) in due {
            out.scanned += 1;
            let Some(mut slot) = self.entries.slot(&id) else {
                continue;
            };
            if slot.get().deadline() != deadline {
                // A stale index entry: the map is the truth, and its current
                // deadline is filed separately.
                continue;
            }
            match slot.get() {
                Entry::Live(live) => {
                    let Some(tombstone) = live.expiry_tombstone(t.now) else {
                        continue;
                    };
                    out.expired.push(EndedSession {
                        id,
                        user_id: tombstone.user_id.clone(),
                        reason: tombstone.reason,
                    });
                    let purge_at = t.purge_at(tombstone.ended_at);
                    if purge_at > t.now {
                        *slot.get_mut() = Entry::Ended(Box::new(Ended {
                            tombstone,
                            purge_at,
                        }));
                        self.deadlines.insert((purge_at, id));
                    } else {
                        slot.remove();
                        out.deleted += 1;
                    }
                }
                Entry::Ended(_) => {
                    slot.remove();
                    out.deleted += 1;
                }
            }
        }
        taken
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// What sweeping found, across shards.
#[derive(Default)]
pub(super) struct Sweep {
    pub scanned: u64,
    pub deleted: u64,
    pub expired: Vec<EndedSession>,
}
