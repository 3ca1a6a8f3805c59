//! The in-process store: concurrent, sharded, with an expiry index.
//!
//! Sessions live in 64 shards, each a mutex over a hash map and an expiry
//! index; a second set of shards holds the per-user index. An operation that
//! needs both takes the user shard first and session shards one at a time
//! under it, and no path takes a user shard while holding a session shard, so
//! there is no lock-order deadlock. Holding the user shard across the whole of
//! `create` is what makes the cap atomic.
//!
//! Good for a single process and for tests; sessions are lost on restart.

mod compact;
mod shard;
mod table;

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use parking_lot::{Mutex, MutexGuard};

use self::compact::{Entry, Live};
use self::shard::{Shard, Sweep};
use crate::data::{Patch, apply_increment, apply_patch, check_version};
use crate::dbsc::DbscState;
use crate::device::DeviceInfo;
use crate::lifecycle::{EndReason, EndedSession, Successor};
use crate::policy::{CapAction, UserCap};
use crate::store::{
    CleanupReport, CreateOutcome, LoadMode, LoadWrite, Lookup, Rotation, SessionRecord, Store,
    Timing, Write, Written,
};
use crate::token::SessionId;
use crate::user::UserId;
use crate::{Error, Result};

const SESSION_SHARDS: usize = 64;
const USER_SHARDS: usize = 64;

/// Per-user index: (created_at, id) of each live session.
type UserMap = HashMap<UserId, Vec<(crate::Timestamp, SessionId)>>;

/// A concurrent in-memory session store.
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    users: Box<[Mutex<UserMap>]>,
    user_hasher: RandomState,
    live: AtomicUsize,
    max_sessions: Option<usize>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("live_sessions", &self.live_sessions())
            .field("max_sessions", &self.max_sessions)
            .finish()
    }
}

impl MemoryStore {
    /// An empty store with no bound on the number of sessions.
    pub fn new() -> Self {
        Self {
            shards: (0..SESSION_SHARDS).map(|_| Mutex::default()).collect(),
            users: (0..USER_SHARDS).map(|_| Mutex::default()).collect(),
            user_hasher: RandomState::new(),
            live: AtomicUsize::new(0),
            max_sessions: None,
        }
    }

    /// Refuses new sessions with `Error::StoreFull` beyond `max` live ones.
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = Some(max);
        self
    }

    /// Live sessions held now (including expired ones not yet swept).
    pub fn live_sessions(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Records held now, live and tombstones.
    pub fn records(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    fn shard(&self, id: &SessionId) -> MutexGuard<'_, Shard> {
        self.shards[usize::from(id.as_bytes()[31]) % SESSION_SHARDS].lock()
    }

    fn user_shard_index(&self, user: &UserId) -> usize {
        (self.user_hasher.hash_one(user) as usize) % USER_SHARDS
    }

    fn is_live(&self, id: &SessionId, t: &Timing) -> bool {
        self.shard(id).is_live(id, t.now)
    }

    /// Ends a session and counts it out; the caller fixes the user index.
    fn end_session(
        &self,
        id: &SessionId,
        reason: EndReason,
        successor: Option<Successor>,
        t: &Timing,
    ) -> Option<(EndedSession, Box<Live>)> {
        let ended = self.shard(id).end(id, reason, successor, t)?;
        self.live.fetch_sub(1, Ordering::Relaxed);
        Some(ended)
    }

    fn unindex(&self, user: &UserId, id: &SessionId) {
        let mut users = self.users[self.user_shard_index(user)].lock();
        if let Some(list) = users.get_mut(user) {
            list.retain(|(_, sid)| sid != id);
            if list.is_empty() {
                users.remove(user);
            }
        }
    }

    /// Makes room for one more session of a user whose live list is `list`,
    /// per the cap. Returns the evicted ids.
    fn apply_cap(
        &self,
        list: &mut Vec<(crate::Timestamp, SessionId)>,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        list.retain(|(_, id)| self.is_live(id, t));
        let Some(cap) = cap else {
            return Ok(Vec::new());
        };
        if list.len() < cap.max {
            return Ok(Vec::new());
        }
        if cap.on_limit == CapAction::RejectNew {
            return Err(Error::LimitReached);
        }
        list.sort();
        let excess = list.len() + 1 - cap.max;
        let evicted = list
            .drain(..excess)
            .filter_map(|(_, id)| self.end_session(&id, EndReason::Evicted, None, t))
            .map(|(ended, _)| ended.id)
            .collect();
        Ok(evicted)
    }

    fn check_room(&self) -> Result<()> {
        match self.max_sessions {
            Some(max) if self.live.load(Ordering::Relaxed) >= max => Err(Error::StoreFull),
            _ => Ok(()),
        }
    }

    /// A load: ends the session if it expired (`just_ended`), reports a
    /// tombstone or absence, and otherwise runs `on_live` on the live session
    /// under its shard's lock, refiling its deadline if that moved.
    fn load_with<R>(
        &self,
        id: &SessionId,
        t: &Timing,
        on_live: impl FnOnce(&mut Live) -> Result<(SessionRecord, R)>,
    ) -> Result<(Lookup, Option<R>)> {
        let mut shard = self.shard(id);
        if let Some(tombstone) = shard.end_if_expired(id, t) {
            drop(shard);
            self.live.fetch_sub(1, Ordering::Relaxed);
            if let Some(user) = &tombstone.user_id {
                self.unindex(user, id);
            }
            let lookup = Lookup::Ended {
                tombstone,
                just_ended: true,
            };
            return Ok((lookup, None));
        }
        match shard.get(id) {
            None => return Ok((Lookup::Missing, None)),
            Some(Entry::Ended(ended)) => {
                let lookup = Lookup::Ended {
                    tombstone: ended.tombstone.clone(),
                    just_ended: false,
                };
                return Ok((lookup, None));
            }
            Some(Entry::Live(_)) => {}
        }
        let (record, r) = shard.change_live(id, t.now, on_live)?;
        Ok((Lookup::Live(record), Some(r)))
    }

    fn insert_live(&self, record: SessionRecord) {
        let id = record.id;
        self.shard(&id)
            .put(Entry::Live(Box::new(Live::from_record(record))));
        self.live.fetch_add(1, Ordering::Relaxed);
    }
}

/// The per-user lists of one operation, with their shards locked in index
/// order (so two operations on two users cannot deadlock). Empty lists are
/// dropped when the guard goes.
struct UserLists<'a> {
    store: &'a MemoryStore,
    guards: Vec<(usize, MutexGuard<'a, UserMap>)>,
    users: [Option<UserId>; 2],
}

type UserList = Vec<(crate::Timestamp, SessionId)>;

impl<'a> UserLists<'a> {
    fn lock(store: &'a MemoryStore, users: [Option<&UserId>; 2]) -> Self {
        let mut indexes: Vec<usize> = users
            .iter()
            .flatten()
            .map(|u| store.user_shard_index(u))
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        let guards = indexes
            .into_iter()
            .map(|i| (i, store.users[i].lock()))
            .collect();
        Self {
            store,
            guards,
            users: users.map(|u| u.cloned()),
        }
    }

    /// The user id as the index already holds it, so that every session of a
    /// user shares one allocation; `user` itself if the index has none.
    fn canonical(&mut self, user: &UserId) -> Result<UserId> {
        Ok(self
            .map_of(user)?
            .get_key_value(user)
            .map_or_else(|| user.clone(), |(key, _)| key.clone()))
    }

    /// The list of `user`, which must be one of the users locked.
    fn get(&mut self, user: &UserId) -> Result<&mut UserList> {
        Ok(self.map_of(user)?.entry(user.clone()).or_default())
    }

    fn map_of(&mut self, user: &UserId) -> Result<&mut UserMap> {
        let i = self.store.user_shard_index(user);
        self.guards
            .iter_mut()
            .find(|(gi, _)| *gi == i)
            .map(|(_, guard)| &mut **guard)
            .ok_or_else(|| Error::Internal("user shard not locked".into()))
    }
}

impl Drop for UserLists<'_> {
    /// Drops the lists of this operation's users that it left empty (only
    /// theirs: a scan of the whole shard would cost every operation).
    fn drop(&mut self) {
        for user in std::mem::take(&mut self.users).into_iter().flatten() {
            if let Ok(map) = self.map_of(&user)
                && map.get(&user).is_some_and(Vec::is_empty)
            {
                map.remove(&user);
            }
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create(
        &self,
        session: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        let Some(user) = session.user_id.clone() else {
            self.check_room()?;
            self.insert_live(session.clone());
            return Ok(CreateOutcome {
                session,
                evicted: Vec::new(),
            });
        };
        let mut lists = UserLists::lock(self, [Some(&user), None]);
        // All sessions of a user share one allocation of the user id.
        let mut session = session;
        session.user_id = Some(lists.canonical(&user)?);
        let list = lists.get(&user)?;
        let evicted = self.apply_cap(list, cap, t)?;
        self.check_room()?;
        push_exact(list, (session.created_at, session.id), cap);
        self.insert_live(session.clone());
        Ok(CreateOutcome { session, evicted })
    }

    async fn load(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Result<Lookup> {
        self.load_with(id, t, |live| {
            if mode == LoadMode::Touch && t.needs_touch(live.last_accessed) {
                live.touch(t);
            }
            Ok((live.to_record(), ()))
        })
        .map(|(lookup, _)| lookup)
    }

    async fn load_and_write(
        &self,
        id: &SessionId,
        device: &DeviceInfo,
        write: Write<'_>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<LoadWrite> {
        let (lookup, write) = self.load_with(id, t, |live| {
            let same_device = match &live.device {
                Some(bound) => **bound == *device,
                None => device.is_empty(),
            };
            let written = same_device.then(|| write_live(live, write, max_data_size, t));
            if !matches!(written, Some(Ok(_))) && t.needs_touch(live.last_accessed) {
                live.touch(t);
            }
            Ok((live.to_record(), written))
        })?;
        Ok(LoadWrite {
            lookup,
            write: write.flatten(),
        })
    }

    async fn update(
        &self,
        id: &SessionId,
        patch: &Patch,
        expected_version: Option<u64>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<SessionRecord> {
        let write = Write::Update {
            patch,
            expected_version,
        };
        self.shard(id).change_live(id, t.now, |live| {
            write_live(live, write, max_data_size, t)?;
            Ok(live.to_record())
        })
    }

    async fn increment(
        &self,
        id: &SessionId,
        key: &str,
        delta: i64,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<i64> {
        let write = Write::Increment { key, delta };
        self.shard(id).change_live(id, t.now, |live| {
            match write_live(live, write, max_data_size, t)? {
                Written::Incremented(value) => Ok(value),
                Written::Updated => Err(Error::Internal("increment: not an increment".into())),
            }
        })
    }

    async fn rotate(&self, rotation: &Rotation, t: &Timing) -> Result<CreateOutcome> {
        let from = rotation.from;
        let current_user = self.shard(&from).live_mut(&from, t.now)?.user_id.clone();
        let new_user = rotation.user_id.clone().or_else(|| current_user.clone());
        let mut lists = UserLists::lock(self, [current_user.as_ref(), new_user.as_ref()]);
        // Check the cap first, so that a refused login leaves the old session.
        let mut others = match &new_user {
            Some(user) => {
                let list = lists.get(user)?;
                list.retain(|(_, id)| *id != from && self.is_live(id, t));
                list.clone()
            }
            None => Vec::new(),
        };
        if let (Some(cap), Some(_)) = (rotation.cap, &new_user)
            && others.len() >= cap.max
            && cap.on_limit == CapAction::RejectNew
        {
            return Err(Error::LimitReached);
        }
        let successor = Successor {
            id: rotation.to,
            grace_until: t.now.plus(rotation.grace),
        };
        let Some((_, live)) = self.end_session(&from, EndReason::Rotated, Some(successor), t)
        else {
            // Someone else rotated or ended it since we looked.
            return Err(match self.shard(&from).live_mut(&from, t.now) {
                Err(e) => e,
                Ok(_) => Error::Ended {
                    reason: EndReason::Rotated,
                },
            });
        };
        if let Some(user) = &current_user {
            lists.get(user)?.retain(|(_, id)| *id != from);
        }
        let evicted = match &new_user {
            Some(_) => self.apply_cap(&mut others, rotation.cap, t)?,
            None => Vec::new(),
        };
        let mut record = live.to_record();
        record.id = rotation.to;
        record.user_id = new_user.clone();
        if let Some(absolute) = rotation.restart_absolute_expiry {
            record.created_at = t.now;
            record.absolute_expires_at = absolute;
        }
        record.token_issued_at = t.now;
        record.touch(t);
        if let Some(user) = &new_user {
            let list = lists.get(user)?;
            list.retain(|(_, id)| !evicted.contains(id));
            push_exact(list, (record.created_at, record.id), rotation.cap);
        }
        self.insert_live(record.clone());
        Ok(CreateOutcome {
            session: record,
            evicted,
        })
    }

    async fn swap_dbsc(
        &self,
        id: &SessionId,
        expected: Option<&DbscState>,
        new: Option<&DbscState>,
        t: &Timing,
    ) -> Result<bool> {
        self.shard(id).change_live(id, t.now, |live| {
            if live.dbsc.as_deref() != expected {
                return Ok(false);
            }
            live.dbsc = new.cloned().map(Box::new);
            Ok(true)
        })
    }

    async fn end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        let Some((ended, _)) = self.end_session(id, reason, None, t) else {
            return Ok(None);
        };
        if let Some(user) = &ended.user_id {
            self.unindex(user, id);
        }
        Ok(Some(ended))
    }

    async fn list_user(&self, user: &UserId, t: &Timing) -> Result<Vec<SessionRecord>> {
        let mut lists = UserLists::lock(self, [Some(user), None]);
        let list = lists.get(user)?;
        list.retain(|(_, id)| self.is_live(id, t));
        list.sort();
        let records = list
            .iter()
            .filter_map(|(_, id)| match self.shard(id).get(id) {
                Some(Entry::Live(live)) => Some(live.to_record()),
                _ => None,
            })
            .collect();
        Ok(records)
    }

    async fn end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        let mut lists = UserLists::lock(self, [Some(user), None]);
        let mut ended = Vec::new();
        lists.get(user)?.retain(|(_, id)| {
            if Some(id) == except {
                return self.is_live(id, t);
            }
            if self.end_session(id, reason, None, t).is_some() {
                ended.push(*id);
            }
            false
        });
        Ok(ended)
    }

    async fn cleanup(&self, t: &Timing, batch_size: usize) -> Result<CleanupReport> {
        let started = Instant::now();
        let batch_size = batch_size.max(1);
        let mut sweep = Sweep::default();
        for shard in self.shards.iter() {
            loop {
                let first_new = sweep.expired.len();
                let taken = shard.lock().sweep(t, batch_size, &mut sweep);
                for ended in &sweep.expired[first_new..] {
                    self.live.fetch_sub(1, Ordering::Relaxed);
                    if let Some(user) = &ended.user_id {
                        self.unindex(user, &ended.id);
                    }
                }
                if taken < batch_size {
                    break;
                }
            }
        }
        Ok(CleanupReport {
            scanned: sweep.scanned,
            deleted: sweep.deleted,
            expired: sweep.expired,
            duration: started.elapsed(),
        })
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

/// Appends to a user's list, growing it only to the cap (most users stay
/// below it), not by doubling: a user with 5 sessions costs 5 slots, not 8.
/// Applies `write` to a live session (a use: version bumped, touched), or
/// refuses it and changes nothing.
fn write_live(
    live: &mut Live,
    write: Write<'_>,
    max_data_size: usize,
    t: &Timing,
) -> Result<Written> {
    let written = match write {
        Write::Update {
            patch,
            expected_version,
        } => {
            check_version(live.version, expected_version)?;
            let mut data = live.data.clone();
            apply_patch(&mut data, patch, max_data_size)?;
            live.data = data;
            Written::Updated
        }
        Write::Increment { key, delta } => {
            Written::Incremented(apply_increment(&mut live.data, key, delta, max_data_size)?)
        }
    };
    live.version += 1;
    live.touch(t);
    Ok(written)
}

fn push_exact(list: &mut UserList, entry: (crate::Timestamp, SessionId), cap: Option<UserCap>) {
    if list.len() == list.capacity() {
        let target = cap.map_or(list.len() + 1, |c| c.max.max(list.len() + 1));
        list.reserve_exact(target - list.len());
    }
    list.push(entry);
}
