//! The cross-slot operations on a Redis Cluster, as ordered one-slot steps.
//!
//! A session's hash lives in its id's bucket slot; its user's index lives in
//! the user's slot. Where an operation must change both, a cluster cannot run
//! one script, so it runs one-slot scripts in an order chosen so that, once
//! the operation completes (whatever ran concurrently):
//!
//! - **no user has more live sessions than the cap**: every cap decision is
//!   taken by `index.lua` on the user's slot, atomically, and the index never
//!   holds more than `max` entries after it; a session is written *before* it
//!   is indexed (so a live session of a user is always indexed once its create
//!   returns), and the victims the index step drops are ended before the
//!   operation returns;
//! - **no stale index entry remains from the operation**: ending a session
//!   (end, end_user, rotate, eviction) drops its entry right after, and every
//!   index step first drops the entries the caller found ended, expired or
//!   purged (dead is final, so dropping on an older observation is safe).
//!
//! What a cluster cannot promise, and a standalone server does: while an
//! operation is under way, a victim may still be live for a moment; a caller
//! that dies between steps leaves at most one stale index entry (dropped by
//! the next write to that index) or one orphan session whose token was never
//! handed out (the sweep ends and reports it at its idle expiry); and with
//! `RejectNew`, a login that loses a race for the last place (after the
//! pre-check passed) has already ended its old session as rotated, and fails
//! with `LimitReached`. The cap check counts a session as live if it was live
//! when probed, so under races it errs towards evicting or refusing, never
//! towards admitting one too many.

use futures_util::future::join_all;
use redis::Value;
use sesame::lifecycle::{EndReason, EndedSession};
use sesame::policy::{CapAction, UserCap};
use sesame::store::{CreateOutcome, Rotation, Timing, expired_reason};
use sesame::{Error, Result, SessionId, SessionRecord, Timestamp, UserId};

use crate::reply::{status, take, texts};
use crate::store::{RedisStore, cap_args, op_error, sid};
use crate::{codec, keys, scripts};

/// What a probe of one session found.
fn is_live(fields: &[Option<String>], now: Timestamp) -> bool {
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.as_deref())
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (fields.first().and_then(|v| v.as_deref()), num(1), num(2)) {
        (Some("L"), Some(ie), Some(ae)) => {
            expired_reason(Timestamp::from_millis(ie), Timestamp::from_millis(ae), now).is_none()
        }
        _ => false,
    }
}

impl RedisStore {
    async fn index_members(&self, ukey: &str) -> Result<Vec<String>> {
        self.cmd(redis::cmd("ZRANGE").arg(ukey).arg(0).arg(-1))
            .await
    }

    /// The ids among `ids` whose sessions are not live (ended, expired,
    /// purged), probed in parallel.
    async fn dead_among(&self, ids: &[String], t: &Timing) -> Result<Vec<String>> {
        let probes = ids.iter().map(|id| async move {
            let key = keys::session_hex(&self.prefix, id);
            let f: Vec<Option<String>> = self
                .cmd(redis::cmd("HMGET").arg(key).arg("st").arg("ie").arg("ae"))
                .await?;
            Ok::<_, Error>((!is_live(&f, t.now)).then(|| id.clone()))
        });
        join_all(probes)
            .await
            .into_iter()
            .filter_map(|r| r.transpose())
            .collect()
    }

    /// The user-slot step: drop `dead`, check the cap (not counting `skip`),
    /// choose and unindex victims, index `add`. `None` when the cap refuses.
    async fn index_step(
        &self,
        ukey: &str,
        cap: Option<UserCap>,
        add: Option<&SessionRecord>,
        skip: Option<&SessionId>,
        dead: Vec<String>,
        t: &Timing,
    ) -> Result<Option<Vec<String>>> {
        let (max, action) = cap_args(cap);
        let mut args = vec![
            max,
            action,
            add.map(|r| r.id.to_hex()).unwrap_or_default(),
            add.map(|r| r.created_at.as_millis().to_string())
                .unwrap_or_default(),
            add.map(|r| r.absolute_expires_at.as_millis().to_string())
                .unwrap_or_default(),
            skip.map(SessionId::to_hex).unwrap_or_default(),
        ];
        args.extend(dead);
        let (st, mut rest) = status(self.script(&scripts::INDEX, &[ukey], t, args).await?)?;
        match st.as_str() {
            "OK" => Ok(Some(texts(take(&mut rest, 0))?)),
            "LIMIT" => Ok(None),
            other => Err(Error::Internal(format!("index: {other}"))),
        }
    }

    /// Prunes and then runs the index step for `user`.
    async fn pruned_index_step(
        &self,
        user: &UserId,
        cap: Option<UserCap>,
        add: Option<&SessionRecord>,
        skip: Option<&SessionId>,
        t: &Timing,
    ) -> Result<Option<Vec<String>>> {
        let ukey = self.user_key(user);
        let members = self.index_members(&ukey).await?;
        let dead = self.dead_among(&members, t).await?;
        self.index_step(&ukey, cap, add, skip, dead, t).await
    }

    /// Ends the victims an index step chose; returns those it ended.
    async fn end_victims(&self, victims: Vec<String>, t: &Timing) -> Result<Vec<SessionId>> {
        let ends = victims.iter().map(|hex| async move {
            let id = sid(hex)?;
            Ok::<_, Error>(
                self.end_one(&id, EndReason::Evicted, false, t)
                    .await?
                    .map(|_| id),
            )
        });
        join_all(ends)
            .await
            .into_iter()
            .filter_map(|r| r.transpose())
            .collect()
    }

    /// Removes a session that was written but never handed out.
    async fn discard(&self, id: &SessionId) -> Result<()> {
        let hex = id.to_hex();
        let n = usize::from_str_radix(keys::bucket_of(&hex), 16).unwrap_or(0);
        let _: i64 = self
            .cmd(redis::cmd("DEL").arg(self.session_key(id)))
            .await?;
        let _: i64 = self
            .cmd(
                redis::cmd("ZREM")
                    .arg(keys::expiry_bucket(&self.prefix, n))
                    .arg(hex),
            )
            .await?;
        Ok(())
    }

    async fn unindex(&self, user: &UserId, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let _: i64 = self
            .cmd(redis::cmd("ZREM").arg(self.user_key(user)).arg(ids))
            .await?;
        Ok(())
    }

    /// Create for a user: write the session, then the index step (cap),
    /// then end the victims.
    pub(crate) async fn cluster_create(
        &self,
        session: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        let user = session
            .user_id
            .clone()
            .ok_or_else(|| Error::Internal("cluster_create without a user".into()))?;
        let key = self.session_key(&session.id);
        let args = Self::create_args(&session, None)?;
        status(self.script(&scripts::WRITE, &[&key], t, args).await?)?;
        let victims = match self
            .pruned_index_step(&user, cap, Some(&session), None, t)
            .await
        {
            Ok(Some(victims)) => victims,
            Ok(None) => {
                self.discard(&session.id).await?;
                return Err(Error::LimitReached);
            }
            Err(e) => {
                // Best effort: the token was never handed out either way.
                let _ = self.discard(&session.id).await;
                return Err(e);
            }
        };
        let evicted = self.end_victims(victims, t).await?;
        Ok(CreateOutcome { session, evicted })
    }

    /// Rotate: check, move out of the old id, write the new one, index it
    /// (cap), end the victims, unindex the old id.
    pub(crate) async fn cluster_rotate(
        &self,
        rotation: &Rotation,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        let from = rotation.from;
        let peek: Vec<Option<String>> = self
            .cmd(
                redis::cmd("HMGET")
                    .arg(self.session_key(&from))
                    .arg("st")
                    .arg("ie")
                    .arg("ae")
                    .arg("r")
                    .arg("u"),
            )
            .await?;
        let field = |i: usize| peek.get(i).cloned().flatten();
        match field(0).as_deref() {
            None => return Err(Error::NotFound),
            Some("E") => {
                let reason = field(3)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(EndReason::Rotated);
                return Err(Error::Ended { reason });
            }
            _ => {}
        }
        let num = |i: usize| {
            field(i)
                .and_then(|v| v.parse().ok())
                .map(Timestamp::from_millis)
                .ok_or_else(|| Error::Corrupt {
                    id: from.short(),
                    detail: "bad expiry".into(),
                })
        };
        if let Some(reason) = expired_reason(num(1)?, num(2)?, t.now) {
            return Err(Error::Ended { reason });
        }
        let current = field(4).map(UserId::new).transpose()?;
        let new_user = rotation.user_id.clone().or_else(|| current.clone());
        let cap = new_user.as_ref().and(rotation.cap);
        if let (Some(user), Some(c)) = (&new_user, cap)
            && c.on_limit == CapAction::RejectNew
            && self
                .pruned_index_step(user, cap, None, Some(&from), t)
                .await?
                .is_none()
        {
            return Err(Error::LimitReached);
        }
        let grace_until = t.now.plus(rotation.grace);
        let args = vec![
            from.to_hex(),
            rotation.to.to_hex(),
            grace_until.as_millis().to_string(),
        ];
        let key = self.session_key(&from);
        let (st, mut rest) = status(self.script(&scripts::ROTATE_OUT, &[&key], t, args).await?)?;
        if st != "OK" {
            return Err(op_error(&st, &rest, 0, ""));
        }
        let mut record = codec::decode_live(from, &crate::reply::pairs(take(&mut rest, 0))?)?;
        record.id = rotation.to;
        record.user_id = new_user.clone();
        if let Some(absolute) = rotation.restart_absolute_expiry {
            record.created_at = t.now;
            record.absolute_expires_at = absolute;
        }
        record.token_issued_at = t.now;
        record.touch(t);
        let new_key = self.session_key(&record.id);
        let args = Self::create_args(&record, None)?;
        status(self.script(&scripts::WRITE, &[&new_key], t, args).await?)?;
        let mut evicted = Vec::new();
        if let Some(user) = &new_user {
            match self
                .pruned_index_step(user, cap, Some(&record), Some(&from), t)
                .await?
            {
                Some(victims) => evicted = self.end_victims(victims, t).await?,
                None => {
                    self.discard(&record.id).await?;
                    if let Some(cur) = &current {
                        self.unindex(cur, &[from.to_hex()]).await?;
                    }
                    return Err(Error::LimitReached);
                }
            }
        }
        if let Some(cur) = &current {
            self.unindex(cur, &[from.to_hex()]).await?;
        }
        Ok(CreateOutcome {
            session: record,
            evicted,
        })
    }

    /// End: end the session in its slot, then drop its index entry.
    pub(crate) async fn cluster_end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        let ended = self.end_one(id, reason, false, t).await?;
        if let Some(EndedSession {
            user_id: Some(user),
            ..
        }) = &ended
        {
            self.unindex(user, &[id.to_hex()]).await?;
        }
        Ok(ended)
    }

    /// List: read the index, read the sessions, drop the dead entries.
    pub(crate) async fn cluster_list_user(
        &self,
        user: &UserId,
        t: &Timing,
    ) -> Result<Vec<SessionRecord>> {
        let members = self.index_members(&self.user_key(user)).await?;
        let reads = members.iter().map(|hex| async move {
            let id = sid(hex)?;
            let fields: Value = self
                .cmd(redis::cmd("HGETALL").arg(self.session_key(&id)))
                .await?;
            let pairs = crate::reply::pairs(fields)?;
            if pairs.iter().any(|(k, v)| k == "st" && v == "L") {
                let record = codec::decode_live(id, &pairs)?;
                if record.expired_reason(t.now).is_none() {
                    return Ok::<_, Error>(Ok(record));
                }
            }
            Ok(Err(hex.clone()))
        });
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for r in join_all(reads).await {
            match r? {
                Ok(record) => live.push(record),
                Err(hex) => dead.push(hex),
            }
        }
        self.unindex(user, &dead).await?;
        Ok(live)
    }

    /// End all: read the index, end each session in its slot, drop the
    /// entries of all but a live `except`.
    pub(crate) async fn cluster_end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        let members = self.index_members(&self.user_key(user)).await?;
        let keep = except.map(SessionId::to_hex);
        let (kept, others): (Vec<String>, Vec<String>) =
            members.into_iter().partition(|m| Some(m) == keep.as_ref());
        let ends = others.iter().map(|hex| async move {
            let id = sid(hex)?;
            Ok::<_, Error>(self.end_one(&id, reason, false, t).await?.map(|_| id))
        });
        let ended: Vec<SessionId> = join_all(ends)
            .await
            .into_iter()
            .filter_map(|r| r.transpose())
            .collect::<Result<_>>()?;
        let mut drop = others;
        drop.extend(self.dead_among(&kept, t).await?);
        self.unindex(user, &drop).await?;
        Ok(ended)
    }

    /// After a sweep: drop the index entries of the sessions it ended.
    pub(crate) async fn cluster_unindex(&self, expired: &[EndedSession]) -> Result<()> {
        let drops = expired.iter().filter_map(|e| {
            e.user_id
                .as_ref()
                .map(|u| async move { self.unindex(u, &[e.id.to_hex()]).await })
        });
        join_all(drops).await.into_iter().collect()
    }
}
