//! The store: sessions as CAS-versioned JSON items, a CAS-guarded per-user
//! index, and an expiry index for cleanup.
//!
//! Memcached has no transactions and no multi-key atomicity. Each invariant
//! therefore rests on a single key's `cas`:
//! - a session's changes (patch, increment, touch, end) are read with `gets`
//!   and written with `cas`, retried on conflict, so nothing is lost and a
//!   session ends exactly once (the `cas` from live to tombstone);
//! - the per-user cap is decided by the `cas` of the user's index: the index
//!   never lists more than `cap.max` sessions, and the sessions it drops to
//!   make room are tombstoned right after, by the writer or — if that writer
//!   died — by the next writer of the index (they stay listed as `pending`).
//!
//! The order in `create`: the new session is written first with `add` (its
//! token is not yet known to anyone, so it is unreachable), then admitted by
//! the index `cas`, then the evicted sessions get their tombstones. A
//! `RejectNew` refusal deletes the unreachable record again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use sesame::data::{Patch, apply_increment, apply_patch, check_version};
use sesame::lifecycle::{EndReason, EndedSession, Successor};
use sesame::policy::{CapAction, UserCap};
use sesame::store::{
    CleanupReport, CreateOutcome, LoadMode, Lookup, Rotation, SessionRecord, Store, Timing,
};
use sesame::{Error, Result, SessionId, Timestamp, UserId};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, MutexGuard};

use crate::client::{Client, ClientError, Item, StoreCmd, Stored as Reply};
use crate::config::MemcachedConfig;
use crate::record::{Ended, Index, Live, Stored};
use crate::retry::{Attempt, is_contention, retry};

/// An item read with its CAS token.
type Read = (Stored, u64);

/// Memcached's longest relative expiry; beyond it, exptime is a Unix time.
const MAX_RELATIVE_TTL: u64 = 30 * 24 * 3600;
/// Slack added to every physical TTL over the logical deadline: memcached's
/// clock ticks in whole seconds.
const TTL_MARGIN_SECS: u64 = 2;
const LOCK_STRIPES: usize = 1024;

/// A session store on one or more memcached servers.
///
/// Cheap to share (`Arc` it); it connects lazily and reconnects by itself
/// after a server comes back.
pub struct MemcachedStore {
    pub(crate) client: Client,
    pub(crate) prefix: String,
    cas_attempts: u32,
    locks: Option<Arc<Locks>>,
}

impl std::fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemcachedStore")
            .field("client", &self.client)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Striped in-process locks: writers to one session (or one user's index)
/// in this process take turns instead of racing their CAS.
struct Locks {
    sessions: Box<[Mutex<()>]>,
    users: Box<[Mutex<()>]>,
}

pub(crate) fn map_err(e: ClientError) -> Error {
    if e.is_too_large() {
        return Error::Internal("session record is over memcached's item size limit (-I)".into());
    }
    match e {
        ClientError::InvalidKey => Error::Internal("invalid memcached key".into()),
        other => Error::unavailable(other),
    }
}

/// The exptime for an item that must live until `until` (logical time).
pub(crate) fn exptime(now: Timestamp, until: Timestamp) -> u32 {
    let secs = now.until(until).as_millis().div_ceil(1000) as u64 + TTL_MARGIN_SECS;
    if secs <= MAX_RELATIVE_TTL {
        secs as u32
    } else {
        u32::try_from(now.as_secs().saturating_add(secs)).unwrap_or(u32::MAX)
    }
}

/// How long a live record must stay: until its expiry plus the tombstone
/// time, so that an expired session can still be ended and explained.
fn live_until(live: &Live, t: &Timing) -> Timestamp {
    live.expires_at().plus(t.tombstone_ttl)
}

impl MemcachedStore {
    /// A store from a configuration; connects on first use.
    pub fn new(config: MemcachedConfig) -> Self {
        let client = Client::new(config.servers, config.timeout, config.max_connections);
        let locks = config.local_locks.then(|| {
            Arc::new(Locks {
                sessions: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
                users: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            })
        });
        Self {
            client,
            prefix: config.prefix,
            cas_attempts: config.cas_attempts,
            locks,
        }
    }

    /// Parses `url` (see [`MemcachedConfig::from_url`]) and checks that every
    /// server answers.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = Self::new(MemcachedConfig::from_url(url)?);
        store.ping().await?;
        Ok(store)
    }

    /// The low-level client (for tools and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn session_key(&self, id: &SessionId) -> String {
        format!("{}s:{}", self.prefix, id.to_hex())
    }

    fn user_key(&self, user: &UserId) -> String {
        format!(
            "{}u:{}",
            self.prefix,
            hex::encode(Sha256::digest(user.as_str().as_bytes()))
        )
    }

    async fn lock_session(&self, id: &SessionId) -> Option<MutexGuard<'_, ()>> {
        let locks = self.locks.as_ref()?;
        let i =
            usize::from(u16::from_le_bytes([id.as_bytes()[0], id.as_bytes()[1]])) % LOCK_STRIPES;
        Some(locks.sessions[i].lock().await)
    }

    async fn lock_user(&self, user: &UserId) -> Option<MutexGuard<'_, ()>> {
        let locks = self.locks.as_ref()?;
        let digest = Sha256::digest(user.as_str().as_bytes());
        Some(
            locks.users[usize::from(u16::from_le_bytes([digest[0], digest[1]])) % LOCK_STRIPES]
                .lock()
                .await,
        )
    }

    /// Reads one session item.
    async fn read(&self, id: &SessionId) -> Result<Option<(Stored, u64)>> {
        match self
            .client
            .get(&self.session_key(id))
            .await
            .map_err(map_err)?
        {
            None => Ok(None),
            Some(Item { data, cas }) => Ok(Some((Stored::decode(id, &data)?, cas))),
        }
    }

    /// Reads many session items in one request per server.
    pub(crate) async fn read_many(
        &self,
        ids: &[SessionId],
    ) -> Result<HashMap<SessionId, (Stored, u64)>> {
        let keys: Vec<String> = ids.iter().map(|id| self.session_key(id)).collect();
        let mut items = self.client.gets(&keys).await.map_err(map_err)?;
        let mut out = HashMap::with_capacity(ids.len());
        for (id, key) in ids.iter().zip(&keys) {
            if let Some(Item { data, cas }) = items.remove(key) {
                out.insert(*id, (Stored::decode(id, &data)?, cas));
            }
        }
        Ok(out)
    }

    async fn write(
        &self,
        cmd: StoreCmd,
        id: &SessionId,
        value: &Stored,
        until: Timestamp,
        t: &Timing,
    ) -> Result<Reply> {
        self.client
            .store(
                cmd,
                &self.session_key(id),
                &value.encode(),
                exptime(t.now, until),
            )
            .await
            .map_err(map_err)
    }

    /// Why a non-live item refuses a change: gone or ended.
    fn refusal(stored: Option<&Stored>, t: &Timing) -> Error {
        match stored {
            Some(Stored::Ended(e)) if e.purge_at > t.now => Error::Ended { reason: e.reason },
            Some(Stored::Live(live)) => match live.expired_reason(t.now) {
                Some(reason) => Error::Ended { reason },
                None => Error::Internal("live session refused".into()),
            },
            _ => Error::NotFound,
        }
    }

    /// Read-modify-write of a live, unexpired session: `change` edits it and
    /// says whether to write. Retried on CAS conflict.
    async fn change_live<R, C>(&self, id: &SessionId, t: &Timing, change: C) -> Result<R>
    where
        C: FnMut(&mut Live) -> Result<(R, bool)>,
    {
        let _guard = self.lock_session(id).await;
        retry(self.cas_attempts, change, |change| {
            self.change_live_once(id, t, change)
        })
        .await
    }

    async fn change_live_once<R, C>(
        &self,
        id: &SessionId,
        t: &Timing,
        mut change: C,
    ) -> Result<Attempt<C, R>>
    where
        C: FnMut(&mut Live) -> Result<(R, bool)>,
    {
        let mut live = match self.read(id).await? {
            Some((Stored::Live(live), cas)) if live.expired_reason(t.now).is_none() => (live, cas),
            other => return Err(Self::refusal(other.as_ref().map(|(s, _)| s), t)),
        };
        let (result, write) = change(&mut live.0)?;
        if !write {
            return Ok(Attempt::Done(result));
        }
        let (live, cas) = live;
        let until = live_until(&live, t);
        Ok(
            match self
                .write(StoreCmd::Cas(cas), id, &Stored::Live(live), until, t)
                .await?
            {
                Reply::Stored => Attempt::Done(result),
                _ => Attempt::Lost(change),
            },
        )
    }

    /// Ends `id` if it is live and unexpired: one CAS from the live record to
    /// its tombstone, retried on conflict. `Some` only for the call that made
    /// the change. `first` is an item already read.
    async fn end_live(
        &self,
        id: &SessionId,
        reason: EndReason,
        successor: Option<Successor>,
        t: &Timing,
        first: Option<Read>,
    ) -> Result<Option<Live>> {
        retry(self.cas_attempts, first, |first| {
            self.end_live_once(id, reason, successor, t, first)
        })
        .await
    }

    async fn end_live_once(
        &self,
        id: &SessionId,
        reason: EndReason,
        successor: Option<Successor>,
        t: &Timing,
        first: Option<Read>,
    ) -> Result<Attempt<Option<Read>, Option<Live>>> {
        let item = match first {
            Some(item) => Some(item),
            None => self.read(id).await?,
        };
        let Some((Stored::Live(live), cas)) = item else {
            return Ok(Attempt::Done(None));
        };
        if live.expires_at() <= t.now {
            return Ok(Attempt::Done(None));
        }
        let keep_until = successor.map_or(t.now, |s| s.grace_until.max(t.now));
        let purge_at = t.purge_at(keep_until);
        let ended = Stored::Ended(Ended {
            user_id: live.user_id.clone(),
            reason,
            ended_at: t.now,
            purge_at,
            successor: successor.map(|s| (s.id, s.grace_until)),
        });
        match self
            .write(StoreCmd::Cas(cas), id, &ended, purge_at, t)
            .await?
        {
            Reply::Stored => {
                self.file(&[*id], purge_at, t).await;
                Ok(Attempt::Done(Some(live)))
            }
            _ => Ok(Attempt::Lost(None)),
        }
    }

    /// Turns an expired live session into its tombstone (ended at its expiry
    /// instant). `Some` only for the call that made the change.
    pub(crate) async fn end_expired(
        &self,
        id: &SessionId,
        t: &Timing,
        first: Option<Read>,
    ) -> Result<Option<Ended>> {
        retry(self.cas_attempts, first, |first| {
            self.end_expired_once(id, t, first)
        })
        .await
    }

    async fn end_expired_once(
        &self,
        id: &SessionId,
        t: &Timing,
        first: Option<Read>,
    ) -> Result<Attempt<Option<Read>, Option<Ended>>> {
        let item = match first {
            Some(item) => Some(item),
            None => self.read(id).await?,
        };
        let Some((Stored::Live(live), cas)) = item else {
            return Ok(Attempt::Done(None));
        };
        let Some((reason, at)) = live.expiry(t.now) else {
            return Ok(Attempt::Done(None));
        };
        let ended = Ended {
            user_id: live.user_id.clone(),
            reason,
            ended_at: at,
            purge_at: t.purge_at(at),
            successor: None,
        };
        let purge_at = ended.purge_at;
        match self
            .write(
                StoreCmd::Cas(cas),
                id,
                &Stored::Ended(ended.clone()),
                purge_at,
                t,
            )
            .await?
        {
            Reply::Stored => {
                if purge_at > t.now {
                    self.file(&[*id], purge_at, t).await;
                }
                Ok(Attempt::Done(Some(ended)))
            }
            _ => Ok(Attempt::Lost(None)),
        }
    }

    /// Reads a user's index with its CAS token (`None`: absent).
    async fn read_index(&self, key: &str) -> Result<(Index, Option<u64>)> {
        match self.client.get(key).await.map_err(map_err)? {
            Some(item) => Ok((Index::decode(&item.data), Some(item.cas))),
            None => Ok((Index::default(), None)),
        }
    }

    /// Writes an index read with `cas` (`None`: it was absent). False on a
    /// conflict.
    async fn write_index(
        &self,
        key: &str,
        index: &Index,
        cas: Option<u64>,
        t: &Timing,
    ) -> Result<bool> {
        let cmd = match cas {
            Some(cas) => StoreCmd::Cas(cas),
            None => StoreCmd::Add,
        };
        let reply = self
            .client
            .store(
                cmd,
                key,
                &index.encode(),
                exptime(t.now, index.until.max(t.now.plus(t.tombstone_ttl))),
            )
            .await
            .map_err(map_err)?;
        Ok(reply == Reply::Stored)
    }

    /// Admits session `new` (already stored, unreachable) into `user`'s
    /// index, dropping `replaces` and ended or expired entries, and applying
    /// the cap. Returns the sessions this call evicted. On `LimitReached` the
    /// index is unchanged and the caller removes `new`.
    async fn admit(
        &self,
        user: &UserId,
        new: &SessionRecord,
        replaces: Option<SessionId>,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        let key = self.user_key(user);
        let _guard = self.lock_user(user).await;
        retry(self.cas_attempts, Vec::new(), |evicted| {
            self.admit_once(&key, new, replaces, cap, t, evicted)
        })
        .await
    }

    /// One attempt of [`Self::admit`]; `evicted` are the sessions earlier
    /// attempts ended.
    async fn admit_once(
        &self,
        key: &str,
        new: &SessionRecord,
        replaces: Option<SessionId>,
        cap: Option<UserCap>,
        t: &Timing,
        mut evicted: Vec<SessionId>,
    ) -> Result<Attempt<Vec<SessionId>, Vec<SessionId>>> {
        let (index, cas) = self.read_index(key).await?;
        let mut ids: Vec<SessionId> = index.sessions.iter().map(|(_, id)| *id).collect();
        ids.extend(index.pending.iter().copied());
        let mut records = self.read_many(&ids).await?;
        // Finish evictions a writer decided but may not have carried out.
        for id in &index.pending {
            if let Some(item) = records.remove(id)
                && self
                    .end_live(id, EndReason::Evicted, None, t, Some(item))
                    .await?
                    .is_some()
            {
                evicted.push(*id);
            }
        }
        let mut kept: Vec<(Timestamp, SessionId, Timestamp)> = index
            .sessions
            .iter()
            .filter(|(_, id)| Some(*id) != replaces && *id != new.id)
            .filter_map(|(created, id)| match records.get(id) {
                Some((Stored::Live(live), _)) if live.expires_at() > t.now => {
                    Some((*created, *id, live.absolute_expires_at))
                }
                _ => None,
            })
            .collect();
        kept.sort();
        let mut victims = Vec::new();
        if let Some(cap) = cap
            && kept.len() >= cap.max
        {
            if cap.on_limit == CapAction::RejectNew {
                return Err(Error::LimitReached);
            }
            let excess = kept.len() + 1 - cap.max;
            victims = kept.drain(..excess).map(|(_, id, _)| id).collect();
        }
        let until = kept
            .iter()
            .map(|(_, _, abs)| *abs)
            .chain([new.absolute_expires_at])
            .max()
            .unwrap_or(t.now)
            .plus(t.tombstone_ttl);
        let mut sessions: Vec<(Timestamp, SessionId)> =
            kept.into_iter().map(|(c, id, _)| (c, id)).collect();
        sessions.push((new.created_at, new.id));
        let next = Index {
            sessions,
            pending: victims.clone(),
            until,
        };
        if self.write_index(key, &next, cas, t).await? {
            for id in victims {
                if self
                    .end_live(&id, EndReason::Evicted, None, t, None)
                    .await?
                    .is_some()
                {
                    evicted.push(id);
                }
            }
            return Ok(Attempt::Done(evicted));
        }
        Ok(Attempt::Lost(evicted))
    }

    /// Counts the user's live sessions other than `except` (for the
    /// `RejectNew` check before a login rotation).
    async fn count_live(&self, user: &UserId, except: &SessionId, t: &Timing) -> Result<usize> {
        let (index, _) = self.read_index(&self.user_key(user)).await?;
        let ids: Vec<SessionId> = index
            .sessions
            .iter()
            .map(|(_, id)| *id)
            .filter(|id| id != except)
            .collect();
        let records = self.read_many(&ids).await?;
        Ok(records
            .values()
            .filter(|(s, _)| matches!(s, Stored::Live(l) if l.expires_at() > t.now))
            .count())
    }

    /// Removes `id` from the user's index. Best effort: a stale entry is
    /// harmless (every reader checks the session itself) and the next writer
    /// prunes it.
    async fn unindex(&self, user: &UserId, id: &SessionId, t: &Timing) {
        let key = self.user_key(user);
        let _guard = self.lock_user(user).await;
        // At most 20 attempts, and giving up is fine (see above).
        let _ = retry(self.cas_attempts.min(20), (), |()| {
            self.unindex_once(&key, id, t)
        })
        .await;
    }

    async fn unindex_once(&self, key: &str, id: &SessionId, t: &Timing) -> Result<Attempt<(), ()>> {
        let Ok((mut index, Some(cas))) = self.read_index(key).await else {
            return Ok(Attempt::Done(()));
        };
        let before = index.sessions.len();
        index.sessions.retain(|(_, sid)| sid != id);
        if index.sessions.len() == before {
            return Ok(Attempt::Done(()));
        }
        Ok(match self.write_index(key, &index, Some(cas), t).await {
            Ok(true) | Err(_) => Attempt::Done(()),
            Ok(false) => Attempt::Lost(()),
        })
    }
}

#[async_trait]
impl Store for MemcachedStore {
    async fn create(
        &self,
        session: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        let live = Live::from_record(session.clone());
        let until = live_until(&live, t);
        let expires_at = live.expires_at();
        match self
            .write(StoreCmd::Add, &session.id, &Stored::Live(live), until, t)
            .await?
        {
            Reply::Stored => {}
            _ => return Err(Error::Internal("session id already stored".into())),
        }
        self.file(&[session.id], expires_at, t).await;
        let Some(user) = &session.user_id else {
            return Ok(CreateOutcome {
                session,
                evicted: Vec::new(),
            });
        };
        match self.admit(user, &session, None, cap, t).await {
            Ok(evicted) => Ok(CreateOutcome { session, evicted }),
            Err(e) => {
                // Nobody holds its token: removing it is safe, and best effort.
                let _ = self.client.delete(&self.session_key(&session.id)).await;
                Err(e)
            }
        }
    }

    async fn load(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Result<Lookup> {
        // The common load writes nothing and takes no lock. A due touch tries
        // its `cas` at once; only after a conflict does it queue behind the
        // session's local lock and read again.
        retry(self.cas_attempts, None, |guard| {
            self.load_once(id, mode, t, guard)
        })
        .await
    }

    async fn update(
        &self,
        id: &SessionId,
        patch: &Patch,
        expected_version: Option<u64>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<SessionRecord> {
        self.change_live(id, t, |live| {
            check_version(live.version, expected_version)?;
            apply_patch(&mut live.data, patch, max_data_size)?;
            live.version += 1;
            live.touch(t);
            Ok((live.to_record(*id), true))
        })
        .await
    }

    async fn increment(
        &self,
        id: &SessionId,
        key: &str,
        delta: i64,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<i64> {
        self.change_live(id, t, |live| {
            let value = apply_increment(&mut live.data, key, delta, max_data_size)?;
            live.version += 1;
            live.touch(t);
            Ok((value, true))
        })
        .await
    }

    async fn rotate(&self, rotation: &Rotation, t: &Timing) -> Result<CreateOutcome> {
        let from = rotation.from;
        let guard = self.lock_session(&from).await;
        let (current, cas) = match self.read(&from).await? {
            Some((Stored::Live(live), cas)) if live.expired_reason(t.now).is_none() => (live, cas),
            other => return Err(Self::refusal(other.as_ref().map(|(s, _)| s), t)),
        };
        let current_user = current.user_id.clone();
        let new_user = rotation.user_id.clone().or_else(|| current_user.clone());
        if let (Some(cap), Some(user)) = (rotation.cap, &new_user)
            && cap.on_limit == CapAction::RejectNew
            && self.count_live(user, &from, t).await? >= cap.max
        {
            return Err(Error::LimitReached);
        }
        let successor = Successor {
            id: rotation.to,
            grace_until: t.now.plus(rotation.grace),
        };
        // The successor first (unreachable until the old record names it),
        // then the one CAS that decides the rotation.
        let first = RotationState {
            next: successor_of(&current, rotation, new_user.as_ref(), t),
            old: (current, cas),
            cmd: StoreCmd::Add,
        };
        let rotated = retry(self.cas_attempts, first, |state| {
            self.rotate_once(rotation, new_user.as_ref(), successor, t, state)
        })
        .await;
        drop(guard);
        let RotationState { next, old, .. } = match rotated {
            Ok(state) => state,
            Err(e) => {
                if is_contention(&e) {
                    let _ = self.client.delete(&self.session_key(&rotation.to)).await;
                }
                return Err(e);
            }
        };
        self.file(&[rotation.to], next.expires_at(), t).await;
        let record = next.to_record(rotation.to);
        let evicted = match &new_user {
            Some(user) => match self.admit(user, &record, Some(from), rotation.cap, t).await {
                Ok(evicted) => evicted,
                Err(Error::LimitReached) => {
                    // The cap filled between the check and the rotation: put
                    // the old session back, as if the login had been refused.
                    self.restore(&from, old.0, t).await;
                    let _ = self.client.delete(&self.session_key(&rotation.to)).await;
                    return Err(Error::LimitReached);
                }
                Err(e) => return Err(e),
            },
            None => Vec::new(),
        };
        // Leave the old user's index only once the new one admitted it, so a
        // refused login restores a session that is still indexed.
        if let Some(user) = &current_user
            && Some(user) != new_user.as_ref()
        {
            self.unindex(user, &from, t).await;
        }
        Ok(CreateOutcome {
            session: record,
            evicted,
        })
    }

    async fn end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        let ended = {
            let _guard = self.lock_session(id).await;
            self.end_live(id, reason, None, t, None).await?
        };
        let Some(live) = ended else {
            return Ok(None);
        };
        if let Some(user) = &live.user_id {
            self.unindex(user, id, t).await;
        }
        Ok(Some(EndedSession {
            id: *id,
            user_id: live.user_id,
            reason,
        }))
    }

    async fn list_user(&self, user: &UserId, t: &Timing) -> Result<Vec<SessionRecord>> {
        let key = self.user_key(user);
        let (index, cas) = self.read_index(&key).await?;
        let ids: Vec<SessionId> = index.sessions.iter().map(|(_, id)| *id).collect();
        let records = self.read_many(&ids).await?;
        let mut live: Vec<(Timestamp, SessionRecord)> = index
            .sessions
            .iter()
            .filter_map(|(created, id)| match records.get(id) {
                Some((Stored::Live(l), _)) if l.expires_at() > t.now => {
                    Some((*created, l.to_record(*id)))
                }
                _ => None,
            })
            .collect();
        live.sort_by_key(|(created, r)| (*created, r.id));
        if (live.len() < index.sessions.len() || !index.pending.is_empty())
            && let Some(cas) = cas
        {
            let _guard = self.lock_user(user).await;
            for id in &index.pending {
                let _ = self.end_live(id, EndReason::Evicted, None, t, None).await;
            }
            let pruned = Index {
                sessions: live.iter().map(|(c, r)| (*c, r.id)).collect(),
                pending: Vec::new(),
                until: index.until,
            };
            // One attempt: a concurrent writer prunes as well.
            let _ = self.write_index(&key, &pruned, Some(cas), t).await;
        }
        Ok(live.into_iter().map(|(_, r)| r).collect())
    }

    async fn end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        let key = self.user_key(user);
        let _guard = self.lock_user(user).await;
        retry(self.cas_attempts, Vec::new(), |ended| {
            self.end_user_once(&key, except, reason, t, ended)
        })
        .await
    }

    async fn cleanup(&self, t: &Timing, batch_size: usize) -> Result<CleanupReport> {
        self.sweep(t, batch_size).await
    }

    async fn ping(&self) -> Result<()> {
        self.client.version().await.map(drop).map_err(map_err)
    }
}

/// What a rotation's attempts pass on: the successor record, the old
/// record with its CAS token, and how the successor is written.
struct RotationState {
    next: Live,
    old: (Live, u64),
    cmd: StoreCmd,
}

/// The record that replaces `live` in a rotation.
fn successor_of(live: &Live, rotation: &Rotation, user: Option<&UserId>, t: &Timing) -> Live {
    let mut next = live.clone();
    next.user_id = user.cloned();
    if let Some(absolute) = rotation.restart_absolute_expiry {
        next.created_at = t.now;
        next.absolute_expires_at = absolute;
    }
    next.token_issued_at = t.now;
    next.touch(t);
    next
}

impl MemcachedStore {
    /// One attempt of [`Store::rotate`]: write the successor, then the CAS
    /// from the old record to its tombstone. A lost CAS reads the old record
    /// again: patched meanwhile, the successor is rebuilt from it; ended by
    /// someone else, the rotation is refused and the successor removed.
    async fn rotate_once(
        &self,
        rotation: &Rotation,
        new_user: Option<&UserId>,
        successor: Successor,
        t: &Timing,
        state: RotationState,
    ) -> Result<Attempt<RotationState, RotationState>> {
        let RotationState { next, old, cmd } = state;
        let from = rotation.from;
        match self
            .write(
                cmd,
                &rotation.to,
                &Stored::Live(next.clone()),
                live_until(&next, t),
                t,
            )
            .await?
        {
            Reply::Stored => {}
            _ => return Err(Error::Internal("session id already stored".into())),
        }
        let keep_until = successor.grace_until.max(t.now);
        let purge_at = t.purge_at(keep_until);
        let tomb = Stored::Ended(Ended {
            user_id: old.0.user_id.clone(),
            reason: EndReason::Rotated,
            ended_at: t.now,
            purge_at,
            successor: Some((successor.id, successor.grace_until)),
        });
        if self
            .write(StoreCmd::Cas(old.1), &from, &tomb, purge_at, t)
            .await?
            == Reply::Stored
        {
            self.file(&[from], purge_at, t).await;
            return Ok(Attempt::Done(RotationState {
                next,
                old,
                cmd: StoreCmd::Set,
            }));
        }
        match self.read(&from).await? {
            Some((Stored::Live(live), cas)) if live.expired_reason(t.now).is_none() => {
                Ok(Attempt::Lost(RotationState {
                    next: successor_of(&live, rotation, new_user, t),
                    old: (live, cas),
                    cmd: StoreCmd::Set,
                }))
            }
            other => {
                let _ = self.client.delete(&self.session_key(&rotation.to)).await;
                Err(match other {
                    Some((Stored::Ended(e), _)) if e.purge_at > t.now => {
                        Error::Ended { reason: e.reason }
                    }
                    other => Self::refusal(other.as_ref().map(|(s, _)| s), t),
                })
            }
        }
    }

    /// One attempt of [`Store::end_user`]; `ended` are the sessions earlier
    /// attempts ended.
    async fn end_user_once(
        &self,
        key: &str,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
        mut ended: Vec<SessionId>,
    ) -> Result<Attempt<Vec<SessionId>, Vec<SessionId>>> {
        let (index, cas) = self.read_index(key).await?;
        let Some(cas) = cas else {
            return Ok(Attempt::Done(ended));
        };
        let mut ids: Vec<SessionId> = index.sessions.iter().map(|(_, id)| *id).collect();
        ids.extend(index.pending.iter().copied());
        let mut records = self.read_many(&ids).await?;
        let mut kept = Vec::new();
        for (created, id) in &index.sessions {
            let Some(item) = records.remove(id) else {
                continue;
            };
            if Some(id) == except {
                if let (Stored::Live(live), _) = &item
                    && live.expires_at() > t.now
                {
                    kept.push((*created, *id, live.absolute_expires_at));
                }
                continue;
            }
            if self
                .end_live(id, reason, None, t, Some(item))
                .await?
                .is_some()
            {
                ended.push(*id);
            }
        }
        for id in &index.pending {
            if let Some(item) = records.remove(id) {
                self.end_live(id, EndReason::Evicted, None, t, Some(item))
                    .await?;
            }
        }
        let until = kept
            .iter()
            .map(|k| k.2)
            .max()
            .unwrap_or(t.now)
            .plus(t.tombstone_ttl);
        let next = Index {
            sessions: kept.into_iter().map(|(c, id, _)| (c, id)).collect(),
            pending: Vec::new(),
            until,
        };
        Ok(if self.write_index(key, &next, Some(cas), t).await? {
            Attempt::Done(ended)
        } else {
            Attempt::Lost(ended)
        })
    }

    /// One attempt of [`Store::load`]; `guard` is the session's local lock
    /// once an attempt lost its touch.
    async fn load_once<'a>(
        &'a self,
        id: &SessionId,
        mode: LoadMode,
        t: &Timing,
        guard: Option<MutexGuard<'a, ()>>,
    ) -> Result<Attempt<Option<MutexGuard<'a, ()>>, Lookup>> {
        let Some((stored, cas)) = self.read(id).await? else {
            return Ok(Attempt::Done(Lookup::Missing));
        };
        let mut live = match stored {
            Stored::Ended(e) if e.purge_at <= t.now => return Ok(Attempt::Done(Lookup::Missing)),
            Stored::Ended(e) => {
                return Ok(Attempt::Done(Lookup::Ended {
                    tombstone: e.tombstone(*id),
                    just_ended: false,
                }));
            }
            Stored::Live(live) if live.expired_reason(t.now).is_some() => {
                let item = Some((Stored::Live(live), cas));
                return Ok(match self.end_expired(id, t, item).await? {
                    Some(ended) => Attempt::Done(Lookup::Ended {
                        tombstone: ended.tombstone(*id),
                        just_ended: true,
                    }),
                    // Someone else changed it first: read again at once.
                    None => Attempt::Queued(guard),
                });
            }
            Stored::Live(live) => live,
        };
        if mode == LoadMode::Peek || !t.needs_touch(live.last_accessed) {
            return Ok(Attempt::Done(Lookup::Live(live.to_record(*id))));
        }
        live.touch(t);
        let record = live.to_record(*id);
        let until = live_until(&live, t);
        Ok(
            match self
                .write(StoreCmd::Cas(cas), id, &Stored::Live(live), until, t)
                .await?
            {
                Reply::Stored => Attempt::Done(Lookup::Live(record)),
                _ if guard.is_none() && self.locks.is_some() => {
                    Attempt::Queued(self.lock_session(id).await)
                }
                _ => Attempt::Lost(guard),
            },
        )
    }

    /// Puts back a session rotated away by a refused login. Only if its
    /// tombstone is still the one the rotation wrote.
    async fn restore(&self, id: &SessionId, live: Live, t: &Timing) {
        if let Ok(Some((Stored::Ended(e), cas))) = self.read(id).await
            && e.reason == EndReason::Rotated
        {
            let until = live_until(&live, t);
            let _ = self
                .write(StoreCmd::Cas(cas), id, &Stored::Live(live), until, t)
                .await;
        }
    }

    /// Ids in a bucket item, in order, without repeats.
    pub(crate) fn parse_ids(data: &[u8]) -> Vec<SessionId> {
        let mut seen = HashSet::new();
        String::from_utf8_lossy(data)
            .split_ascii_whitespace()
            .filter_map(|hex| SessionId::from_hex(hex).ok())
            .filter(|id| seen.insert(*id))
            .collect()
    }
}
