//! The store contract on SQL: each operation is one statement where a
//! conditional `UPDATE` can carry it, and one short transaction otherwise.
//! See the crate docs for the locking order that keeps it deadlock-free.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sesame::data::{apply_increment, apply_patch, check_version};
use sesame::lifecycle::{EndReason, EndedSession, Successor, Tombstone};
use sesame::policy::{CapAction, UserCap};
use sesame::store::{CleanupReport, CreateOutcome, LoadMode, Lookup, Rotation, Timing};
use sesame::{Error, Patch, Result, SessionId, SessionRecord, Store, Timestamp, UserId};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe, Executor, Row, Transaction};

use crate::error::{self, Fail};
use crate::row::{self, Stored, data_json, device_json, ms};
use crate::sqlite_read::{ReadError, Readers};
use crate::{Backend, SqlStore};

type Tx = Transaction<'static, Any>;
type Q = Query<'static, Any, AnyArguments>;

/// How often one operation is retried after a deadlock, a serialization
/// failure or a missing user row.
const ATTEMPTS: u32 = 8;

/// Users per statement when cleanup prunes the `users` table (sorted, so
/// the rows are locked in the order every transaction takes them).
const PRUNE_CHUNK: usize = 500;

/// The pause before retry number `tries` after a deadlock or a
/// serialization failure.
async fn backoff(tries: u32) {
    tokio::time::sleep(Duration::from_millis(u64::from(tries) * 2)).await;
}

fn q(sql: &Arc<str>) -> Q {
    sqlx::query(AssertSqlSafe(sql.clone()))
}

fn id_bytes(id: &SessionId) -> Vec<u8> {
    id.as_bytes().to_vec()
}

/// The live record, or why there is none: `NotFound`, or `Ended` with the
/// tombstone's reason or the expiry that has passed (an expired session is
/// left for `load` and cleanup to end and report).
fn live(stored: Option<Stored>, now: Timestamp) -> Result<SessionRecord> {
    match stored {
        None => Err(Error::NotFound),
        Some(Stored::Ended(t)) => Err(Error::Ended { reason: t.reason }),
        Some(Stored::Live(r)) => match r.expired_reason(now) {
            Some(reason) => Err(Error::Ended { reason }),
            None => Ok(r),
        },
    }
}

/// What a load does with the row it read.
enum Next {
    /// Answer as read: missing, a tombstone, or live with no touch due.
    Done(Lookup),
    /// End the expired session (conditional write), then answer.
    Expire(SessionRecord, EndReason),
    /// Write the touch (conditional), then answer.
    Touch(SessionRecord),
}

fn next(stored: Option<Stored>, mode: LoadMode, t: &Timing) -> Next {
    let record = match stored {
        None => return Next::Done(Lookup::Missing),
        Some(Stored::Ended(tombstone)) => {
            return Next::Done(Lookup::Ended {
                tombstone,
                just_ended: false,
            });
        }
        Some(Stored::Live(r)) => r,
    };
    if let Some(reason) = record.expired_reason(t.now) {
        Next::Expire(record, reason)
    } else if mode == LoadMode::Touch && t.needs_touch(record.last_accessed) {
        Next::Touch(record)
    } else {
        Next::Done(Lookup::Live(record))
    }
}

/// The tombstone an expired session leaves: it ended at its expiry instant.
fn expiry_tombstone(r: &SessionRecord, reason: EndReason) -> Tombstone {
    let ended_at = match reason {
        EndReason::AbsoluteTimeout => r.absolute_expires_at,
        _ => r.idle_expires_at,
    };
    r.tombstone(reason, ended_at)
}

impl SqlStore {
    /// Runs one attempt of an operation until it succeeds or fails for good,
    /// within the operation timeout.
    async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Fail>>,
    {
        let inner = &self.inner;
        let work = async {
            let mut tries = 0;
            loop {
                tries += 1;
                match attempt().await {
                    Ok(v) => return Ok(v),
                    Err(Fail::Store(e)) => return Err(e),
                    Err(Fail::NoUserRow(user)) if tries < ATTEMPTS => {
                        let inserted = q(&inner.sql.insert_user)
                            .bind(user.as_str().to_owned())
                            .execute(&inner.write)
                            .await;
                        match inserted {
                            Ok(_) => {}
                            // A re-insert racing a prune or another
                            // re-insert of the same user may be refused as
                            // a deadlock; like any other, it is retried.
                            Err(e) if error::is_retryable(&e) => {
                                inner.retries.fetch_add(1, Ordering::Relaxed);
                                backoff(tries).await;
                            }
                            Err(e) => return Err(error::map(e)),
                        }
                    }
                    Err(Fail::Sql(e)) if tries < ATTEMPTS && error::is_retryable(&e) => {
                        inner.retries.fetch_add(1, Ordering::Relaxed);
                        backoff(tries).await;
                    }
                    Err(Fail::Sql(e)) => return Err(error::map(e)),
                    Err(Fail::NoUserRow(_)) => {
                        return Err(Error::Internal("the user lock row keeps vanishing".into()));
                    }
                }
            }
        };
        match tokio::time::timeout(inner.op_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(Error::unavailable("the database did not answer in time")),
        }
    }

    /// A write transaction. SQLite: `BEGIN IMMEDIATE` takes the write lock
    /// at once, so no transaction upgrades (and deadlocks) later.
    async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.inner.backend {
            Backend::Sqlite => self.inner.write.begin_with("BEGIN IMMEDIATE").await,
            _ => self.inner.write.begin().await,
        }
    }

    /// Runs a pure read on SQLite's inline readers, on this thread. `None`
    /// when it must go through sqlx instead: no inline readers (other
    /// databases, in-memory, `SqliteReads::Driver`) or the file is locked
    /// (sqlx's worker waits for it, the async thread does not).
    fn inline<T>(
        &self,
        read: impl FnOnce(&Readers) -> Result<T, ReadError>,
    ) -> Option<Result<T, Fail>> {
        let readers = self.inner.readers.get()?;
        match read(readers) {
            Ok(v) => Some(Ok(v)),
            Err(ReadError::Busy) => None,
            Err(ReadError::Store(e)) => Some(Err(Fail::Store(e))),
        }
    }

    /// The row of `id`, outside any transaction.
    async fn read_session(&self, id: &SessionId) -> Result<Option<Stored>, Fail> {
        if let Some(found) = self.inline(|r| r.session(&self.inner.sql.select, id)) {
            return found;
        }
        self.fetch(&self.inner.read, &self.inner.sql.select, id)
            .await
    }

    async fn fetch<'e, E>(
        &self,
        ex: E,
        sql: &Arc<str>,
        id: &SessionId,
    ) -> Result<Option<Stored>, Fail>
    where
        E: Executor<'e, Database = Any>,
    {
        let row: Option<AnyRow> = q(sql).bind(id_bytes(id)).fetch_optional(ex).await?;
        Ok(row.as_ref().map(row::decode).transpose()?)
    }

    /// Locks the users' rows, in sorted order (PostgreSQL, MySQL; SQLite's
    /// `BEGIN IMMEDIATE` already serializes writers).
    async fn lock_users(&self, tx: &mut Tx, users: &[&UserId]) -> Result<(), Fail> {
        if self.inner.backend == Backend::Sqlite {
            return Ok(());
        }
        let mut users: Vec<&UserId> = users.to_vec();
        users.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        users.dedup();
        for user in users {
            let row = q(&self.inner.sql.lock_user)
                .bind(user.as_str().to_owned())
                .fetch_optional(&mut **tx)
                .await?;
            if row.is_none() {
                return Err(Fail::NoUserRow(user.clone()));
            }
        }
        Ok(())
    }

    async fn insert<'e, E>(&self, ex: E, r: &SessionRecord) -> Result<(), Fail>
    where
        E: Executor<'e, Database = Any>,
    {
        q(&self.inner.sql.insert)
            .bind(id_bytes(&r.id))
            .bind(r.user_id.as_ref().map(|u| u.as_str().to_owned()))
            .bind(data_json(&r.data)?)
            .bind(i64::try_from(r.version).unwrap_or(i64::MAX))
            .bind(ms(r.created_at))
            .bind(ms(r.token_issued_at))
            .bind(ms(r.last_accessed))
            .bind(ms(r.idle_expires_at))
            .bind(ms(r.absolute_expires_at))
            .bind(ms(r.expires_at()))
            .bind(device_json(&r.device)?)
            .execute(ex)
            .await?;
        Ok(())
    }

    /// Ends a live, unexpired session; true when this call ended it.
    async fn end_live<'e, E>(
        &self,
        ex: E,
        id: &SessionId,
        reason: EndReason,
        successor: Option<Successor>,
        t: &Timing,
    ) -> Result<bool, Fail>
    where
        E: Executor<'e, Database = Any>,
    {
        let keep_until = successor.map_or(t.now, |s| s.grace_until.max(t.now));
        let done = q(&self.inner.sql.end_live)
            .bind(reason.as_str())
            .bind(ms(t.now))
            .bind(ms(t.purge_at(keep_until)))
            .bind(successor.map(|s| id_bytes(&s.id)))
            .bind(successor.map(|s| ms(s.grace_until)))
            .bind(id_bytes(id))
            .bind(ms(t.now))
            .bind(ms(t.now))
            .execute(ex)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The user's live sessions, oldest first.
    async fn live_ids(
        &self,
        tx: &mut Tx,
        user: &UserId,
        t: &Timing,
    ) -> Result<Vec<SessionId>, Fail> {
        let rows = q(&self.inner.sql.user_live_ids)
            .bind(user.as_str().to_owned())
            .bind(ms(t.now))
            .bind(ms(t.now))
            .fetch_all(&mut **tx)
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        for r in &rows {
            let bytes: Vec<u8> = r.try_get(0)?;
            ids.push(row::session_id(&bytes)?);
        }
        Ok(ids)
    }

    /// Makes room under `cap` for one more session of `user` (not counting
    /// `except`), inside a transaction that holds the user's lock.
    async fn make_room(
        &self,
        tx: &mut Tx,
        user: &UserId,
        except: Option<&SessionId>,
        cap: UserCap,
        t: &Timing,
    ) -> Result<Vec<SessionId>, Fail> {
        let mut ids = self.live_ids(tx, user, t).await?;
        ids.retain(|id| Some(id) != except);
        if ids.len() < cap.max {
            return Ok(Vec::new());
        }
        if cap.on_limit == CapAction::RejectNew {
            return Err(Fail::Store(Error::LimitReached));
        }
        let excess = ids.len() + 1 - cap.max;
        let mut evicted = Vec::with_capacity(excess);
        for id in &ids[..excess] {
            // A session ended meanwhile (logout, cleanup) freed its slot too.
            if self
                .end_live(&mut **tx, id, EndReason::Evicted, None, t)
                .await?
            {
                evicted.push(*id);
            }
        }
        Ok(evicted)
    }

    async fn create_once(
        &self,
        session: &SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome, Fail> {
        let (Some(user), Some(cap)) = (&session.user_id, cap) else {
            // No cap to keep: a single INSERT.
            self.insert(&self.inner.write, session).await?;
            return Ok(CreateOutcome {
                session: session.clone(),
                evicted: Vec::new(),
            });
        };
        let mut tx = self.begin().await?;
        self.lock_users(&mut tx, &[user]).await?;
        let evicted = self.make_room(&mut tx, user, None, cap, t).await?;
        self.insert(&mut *tx, session).await?;
        tx.commit().await?;
        Ok(CreateOutcome {
            session: session.clone(),
            evicted,
        })
    }

    /// The hot path of `load` on SQLite with inline reads: one read, and the
    /// answer when it needs no write (the touch not due, not expired). It
    /// cannot wait on anything, so it skips `run`'s retry loop and timer.
    /// `None`: take the full path (which reads again).
    fn load_inline(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Option<Result<Lookup>> {
        let readers = self.inner.readers.get()?;
        match readers.session(&self.inner.sql.select, id) {
            Ok(stored) => match next(stored, mode, t) {
                Next::Done(found) => Some(Ok(found)),
                Next::Expire(..) | Next::Touch(_) => None,
            },
            Err(ReadError::Busy) => None,
            Err(ReadError::Store(e)) => Some(Err(e)),
        }
    }

    async fn load_once(
        &self,
        id: &SessionId,
        mode: LoadMode,
        t: &Timing,
    ) -> Result<Option<Lookup>, Fail> {
        let sql = &self.inner.sql;
        match next(self.read_session(id).await?, mode, t) {
            Next::Done(found) => Ok(Some(found)),
            Next::Expire(record, reason) => {
                // End it here; the conditional statement lets one caller win.
                let tombstone = expiry_tombstone(&record, reason);
                let purge_at = t.purge_at(tombstone.ended_at);
                let done = if purge_at > t.now {
                    q(&sql.expire)
                        .bind(reason.as_str())
                        .bind(ms(tombstone.ended_at))
                        .bind(ms(purge_at))
                        .bind(id_bytes(id))
                        .bind(ms(t.now))
                        .bind(ms(t.now))
                        .execute(&self.inner.write)
                        .await?
                } else {
                    q(&sql.delete_expired)
                        .bind(id_bytes(id))
                        .bind(ms(t.now))
                        .bind(ms(t.now))
                        .execute(&self.inner.write)
                        .await?
                };
                if done.rows_affected() == 1 {
                    return Ok(Some(Lookup::Ended {
                        tombstone,
                        just_ended: true,
                    }));
                }
                Ok(None) // someone else ended it: read again
            }
            Next::Touch(mut record) => {
                record.touch(t);
                let done = q(&sql.touch)
                    .bind(ms(record.last_accessed))
                    .bind(ms(record.idle_expires_at))
                    .bind(ms(record.expires_at()))
                    .bind(id_bytes(id))
                    .bind(ms(t.now))
                    .bind(ms(t.now))
                    .execute(&self.inner.write)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(None); // it ended meanwhile: read again
                }
                Ok(Some(Lookup::Live(record)))
            }
        }
    }

    /// Locks a live session, lets `change` edit it, and writes data, version
    /// and use back with compare-and-set on the version read.
    async fn change_once<T>(
        &self,
        id: &SessionId,
        t: &Timing,
        change: impl FnOnce(&mut SessionRecord) -> Result<T>,
    ) -> Result<(SessionRecord, T), Fail> {
        let mut tx = self.begin().await?;
        let stored = self
            .fetch(&mut *tx, &self.inner.sql.select_for_update, id)
            .await?;
        let mut record = live(stored, t.now)?;
        let read_version = record.version;
        let out = change(&mut record)?;
        record.touch(t);
        let done = q(&self.inner.sql.write_data)
            .bind(data_json(&record.data)?)
            .bind(ms(record.last_accessed))
            .bind(ms(record.idle_expires_at))
            .bind(ms(record.expires_at()))
            .bind(id_bytes(id))
            .bind(i64::try_from(read_version).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(Fail::Store(Error::Internal(
                "a locked session changed under its lock".into(),
            )));
        }
        tx.commit().await?;
        record.version = read_version + 1;
        Ok((record, out))
    }

    async fn rotate_once(&self, rotation: &Rotation, t: &Timing) -> Result<CreateOutcome, Fail> {
        let sql = &self.inner.sql;
        let from = rotation.from;
        // The owner of an id never changes, so it can be read before locking.
        let current_user = live(self.read_session(&from).await?, t.now)?.user_id;
        let new_user = rotation.user_id.clone().or_else(|| current_user.clone());
        let mut tx = self.begin().await?;
        let users: Vec<&UserId> = current_user.iter().chain(new_user.iter()).collect();
        self.lock_users(&mut tx, &users).await?;
        let old = live(
            self.fetch(&mut *tx, &sql.select_for_update, &from).await?,
            t.now,
        )?;
        let evicted = match (&new_user, rotation.cap) {
            (Some(user), Some(cap)) => self.make_room(&mut tx, user, Some(&from), cap, t).await?,
            _ => Vec::new(),
        };
        let successor = Successor {
            id: rotation.to,
            grace_until: t.now.plus(rotation.grace),
        };
        if !self
            .end_live(&mut *tx, &from, EndReason::Rotated, Some(successor), t)
            .await?
        {
            return Err(Fail::Store(Error::Ended {
                reason: EndReason::Rotated,
            }));
        }
        let mut record = old;
        record.id = rotation.to;
        record.user_id = new_user;
        if let Some(absolute) = rotation.restart_absolute_expiry {
            record.created_at = t.now;
            record.absolute_expires_at = absolute;
        }
        record.token_issued_at = t.now;
        record.touch(t);
        self.insert(&mut *tx, &record).await?;
        tx.commit().await?;
        Ok(CreateOutcome {
            session: record,
            evicted,
        })
    }

    async fn end_once(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>, Fail> {
        // Only the owner is needed (it never changes), so a corrupt row can
        // still be ended.
        let owner = match self.inline(|r| r.owner(&self.inner.sql.select_user, id)) {
            Some(owner) => owner?,
            None => {
                let row = q(&self.inner.sql.select_user)
                    .bind(id_bytes(id))
                    .fetch_optional(&self.inner.read)
                    .await?;
                row.map(|r| r.try_get::<Option<String>, _>(0)).transpose()?
            }
        };
        let Some(user) = owner else { return Ok(None) };
        if !self
            .end_live(&self.inner.write, id, reason, None, t)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(EndedSession {
            id: *id,
            user_id: row::user_id(id.as_bytes(), user)?,
            reason,
        }))
    }

    async fn end_user_once(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>, Fail> {
        let mut tx = self.begin().await?;
        self.lock_users(&mut tx, &[user]).await?;
        let mut ended = Vec::new();
        for id in self.live_ids(&mut tx, user, t).await? {
            if Some(&id) != except && self.end_live(&mut *tx, &id, reason, None, t).await? {
                ended.push(id);
            }
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// One cleanup batch in one short transaction; `scanned` is how many due
    /// rows it took. Also returns the users of those rows, for
    /// [`Self::prune_users`].
    async fn cleanup_batch(
        &self,
        t: &Timing,
        batch: usize,
    ) -> Result<(CleanupReport, Vec<String>), Fail> {
        let sql = &self.inner.sql;
        let mut tx = self.begin().await?;
        let rows = q(&sql.cleanup_select)
            .bind(ms(t.now))
            .bind(i64::try_from(batch).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await?;
        let mut purge: Vec<Vec<u8>> = Vec::new();
        let mut expire: Vec<Vec<u8>> = Vec::new();
        let mut expired = Vec::new();
        let mut users = Vec::new();
        for r in &rows {
            let raw: Vec<u8> = r.try_get(0)?;
            let user: Option<String> = r.try_get(1)?;
            users.extend(user.clone());
            let end_reason: Option<String> = r.try_get(2)?;
            if end_reason.is_some() {
                purge.push(raw);
                continue;
            }
            let idle = Timestamp::from_millis(u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0));
            let absolute =
                Timestamp::from_millis(u64::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0));
            let (reason, ended_at) = if absolute <= t.now {
                (EndReason::AbsoluteTimeout, absolute)
            } else {
                (EndReason::IdleTimeout, idle)
            };
            let Ok(id) = row::session_id(&raw) else {
                purge.push(raw);
                continue;
            };
            expired.push(EndedSession {
                id,
                user_id: row::user_id(&raw, user).ok().flatten(),
                reason,
            });
            if t.purge_at(ended_at) <= t.now {
                purge.push(raw);
            } else {
                expire.push(raw);
            }
        }
        let mut deleted = 0;
        if !purge.is_empty() {
            let mut query = sqlx::query(AssertSqlSafe(sql.delete_ids(purge.len())));
            for id in purge {
                query = query.bind(id);
            }
            deleted = query.execute(&mut *tx).await?.rows_affected();
        }
        if !expire.is_empty() {
            let ttl = i64::try_from(t.tombstone_ttl.as_millis()).unwrap_or(i64::MAX);
            let mut query = sqlx::query(AssertSqlSafe(sql.expire_ids(expire.len())))
                .bind(ms(t.now))
                .bind(ms(t.now))
                .bind(ms(t.now))
                .bind(ttl);
            for id in expire {
                query = query.bind(id);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let report = CleanupReport {
            scanned: rows.len() as u64,
            deleted,
            expired,
            duration: Duration::ZERO,
        };
        Ok((report, users))
    }

    /// Deletes the lock rows of those `users` who have no live session left,
    /// so the `users` table holds only users with live sessions instead of
    /// every user ever seen. A create racing with this either holds the row
    /// first (the delete waits for it) or finds the row gone, inserts it
    /// again and retries (`run`). SQLite takes no row locks and never writes
    /// the table.
    async fn prune_users(&self, users: &[String]) -> Result<(), Fail> {
        if self.inner.backend == Backend::Sqlite {
            return Ok(());
        }
        let mut users: Vec<&str> = users.iter().map(String::as_str).collect();
        users.sort_unstable();
        users.dedup();
        let sql = &self.inner.sql;
        for chunk in users.chunks(PRUNE_CHUNK) {
            let bind_all = |mut query: Q| {
                for user in chunk {
                    query = query.bind((*user).to_owned());
                }
                query
            };
            let mut tx = self.begin().await?;
            bind_all(sqlx::query(AssertSqlSafe(
                sql.lock_users_for_prune(chunk.len()),
            )))
            .fetch_all(&mut *tx)
            .await?;
            bind_all(sqlx::query(AssertSqlSafe(sql.prune_users(chunk.len()))))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Store for SqlStore {
    /// [`SqlStore::close`]: the inline SQLite readers first, then the pools,
    /// so the last connection to go can remove SQLite's WAL files.
    async fn close(&self) {
        SqlStore::close(self).await;
    }

    async fn create(
        &self,
        session: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        self.run(|| self.create_once(&session, cap, t)).await
    }

    async fn load(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Result<Lookup> {
        if let Some(found) = self.load_inline(id, mode, t) {
            return found;
        }
        self.run(|| async {
            for _ in 0..ATTEMPTS {
                if let Some(found) = self.load_once(id, mode, t).await? {
                    return Ok(found);
                }
            }
            Err(Fail::Store(Error::Internal(
                "load kept racing with writers".into(),
            )))
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
        self.run(|| async {
            let (record, ()) = self
                .change_once(id, t, |r| {
                    check_version(r.version, expected_version)?;
                    apply_patch(&mut r.data, patch, max_data_size)
                })
                .await?;
            Ok(record)
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
        self.run(|| async {
            let (_, value) = self
                .change_once(id, t, |r| {
                    apply_increment(&mut r.data, key, delta, max_data_size)
                })
                .await?;
            Ok(value)
        })
        .await
    }

    async fn rotate(&self, rotation: &Rotation, t: &Timing) -> Result<CreateOutcome> {
        self.run(|| self.rotate_once(rotation, t)).await
    }

    async fn end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        self.run(|| self.end_once(id, reason, t)).await
    }

    async fn list_user(&self, user: &UserId, t: &Timing) -> Result<Vec<SessionRecord>> {
        self.run(|| async {
            let stored = match self.inline(|r| r.list(&self.inner.sql.list_user, user, t.now)) {
                Some(stored) => stored?,
                None => {
                    let rows = q(&self.inner.sql.list_user)
                        .bind(user.as_str().to_owned())
                        .bind(ms(t.now))
                        .bind(ms(t.now))
                        .fetch_all(&self.inner.read)
                        .await?;
                    rows.iter().map(row::decode).collect::<Result<Vec<_>>>()?
                }
            };
            Ok(stored
                .into_iter()
                .filter_map(|s| match s {
                    Stored::Live(record) => Some(record),
                    Stored::Ended(_) => None,
                })
                .collect())
        })
        .await
    }

    async fn end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        self.run(|| self.end_user_once(user, except, reason, t))
            .await
    }

    async fn cleanup(&self, t: &Timing, batch_size: usize) -> Result<CleanupReport> {
        let started = Instant::now();
        let batch = batch_size.max(1);
        let mut report = CleanupReport::default();
        loop {
            let (mut part, users) = self.run(|| self.cleanup_batch(t, batch)).await?;
            // The batch has committed: a failed prune must not fail cleanup
            // and lose the report of the sessions it ended. Those users'
            // rows (a few bytes each) stay until a later cleanup ends one of
            // their sessions again.
            if let Err(e) = self.run(|| self.prune_users(&users)).await {
                tracing::warn!(error = %e, users = users.len(), "could not prune the users lock table");
            }
            report.scanned += part.scanned;
            report.deleted += part.deleted;
            report.expired.append(&mut part.expired);
            if part.scanned < batch as u64 {
                break;
            }
        }
        report.duration = started.elapsed();
        Ok(report)
    }

    async fn ping(&self) -> Result<()> {
        self.run(|| async {
            q(&self.inner.sql.ping).execute(&self.inner.read).await?;
            Ok(())
        })
        .await
    }
}
