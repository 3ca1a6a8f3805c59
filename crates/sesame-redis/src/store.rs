//! `RedisStore`: the `sesame::Store` implementation.
//!
//! Each operation is one Lua script call — one round trip, one atomic step —
//! except, on a cluster, the ones that must change both a session's slot and
//! its user's slot; those are in `cluster.rs`.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::{Cmd, FromRedisValue, Script, Value};
use sesame::clock::duration_millis;
use sesame::data::Patch;
use sesame::lifecycle::{EndReason, EndedSession};
use sesame::policy::{CapAction, UserCap};
use sesame::store::{
    CleanupReport, CreateOutcome, LoadMode, LoadWrite, Lookup, Rotation, Timing, Write,
};
use sesame::{DeviceInfo, Error, PatchOp, Result, SessionId, SessionRecord, Store, UserId};

use crate::codec::{self, data_field};
use crate::config::RedisConfig;
use crate::conn::{Connections, bounded, map_err};
use crate::reply::{self, int, pairs, status, take, text, texts};
use crate::{combined, keys, scripts};

/// A session store on Redis or Redis Cluster. Cheap to clone; clones share
/// the connections.
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) conns: Connections,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("cluster", &self.is_cluster())
            .finish()
    }
}

/// The id of a reply's session, as hex, back to a `SessionId`.
pub(crate) fn sid(hex: &str) -> Result<SessionId> {
    SessionId::from_hex(hex).map_err(|_| Error::Internal("bad session id in a redis reply".into()))
}

pub(crate) fn user_of(text: &str) -> Result<Option<UserId>> {
    if text.is_empty() {
        return Ok(None);
    }
    UserId::new(text).map(Some)
}

pub(crate) fn reason_of(v: &Value) -> Result<EndReason> {
    text(v)?
        .parse()
        .map_err(|_| Error::Internal("unknown end reason in a redis reply".into()))
}

/// The load script's `[status, fields]` reply: a live session, a tombstone
/// (`X`: this very call ended it) or nothing.
pub(crate) fn decode_load_reply(id: SessionId, reply: Value) -> Result<Lookup> {
    let (st, mut rest) = status(reply)?;
    let mut fields = || pairs(take(&mut rest, 0));
    match st.as_str() {
        "L" => Ok(Lookup::Live(codec::decode_live(id, &fields()?)?)),
        "E" | "X" => Ok(Lookup::Ended {
            tombstone: codec::decode_tomb(id, &fields()?)?,
            just_ended: st == "X",
        }),
        "MISSING" => Ok(Lookup::Missing),
        other => Err(Error::Internal(format!("load: {other}"))),
    }
}

/// The cap as script arguments: max (or '') and action.
pub(crate) fn cap_args(cap: Option<UserCap>) -> (String, String) {
    match cap {
        None => (String::new(), "evict".into()),
        Some(c) => (
            c.max.to_string(),
            match c.on_limit {
                CapAction::EvictOldest => "evict",
                CapAction::RejectNew => "reject",
            }
            .into(),
        ),
    }
}

impl RedisStore {
    /// Connects with the default settings (see [`RedisConfig::new`]).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(RedisConfig::new(url)).await
    }

    /// Connects as `config` says. Fails with `StoreUnavailable` when Redis
    /// does not answer within the connect timeout.
    pub async fn connect_with(config: RedisConfig) -> Result<Self> {
        config.validate()?;
        let conns = Connections::open(&config).await?;
        Ok(Self {
            conns,
            prefix: config.prefix,
            timeout: config.command_timeout,
        })
    }

    /// True when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conns.is_cluster()
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs one command, bounded by the command timeout.
    pub(crate) async fn cmd<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        let mut conn = self.conns.next();
        bounded(self.timeout, cmd.query_async::<T>(&mut conn))
            .await?
            .map_err(map_err)
    }

    /// Runs one script on `keys` with the common arguments (prefix and
    /// timings) followed by `args`, bounded by the command timeout.
    pub(crate) async fn script(
        &self,
        script: &Script,
        keys: &[&str],
        t: &Timing,
        args: Vec<String>,
    ) -> Result<Value> {
        let mut inv = script.prepare_invoke();
        for k in keys {
            inv.key(*k);
        }
        inv.arg(&self.prefix)
            .arg(t.now.as_millis())
            .arg(duration_millis(t.idle_timeout))
            .arg(duration_millis(t.touch_interval))
            .arg(duration_millis(t.tombstone_ttl));
        for a in args {
            inv.arg(a);
        }
        let mut conn = self.conns.next();
        bounded(self.timeout, inv.invoke_async::<Value>(&mut conn))
            .await?
            .map_err(map_err)
    }

    pub(crate) fn session_key(&self, id: &SessionId) -> String {
        keys::session(&self.prefix, id)
    }

    pub(crate) fn user_key(&self, user: &UserId) -> String {
        keys::user_index(&self.prefix, user)
    }

    /// The create/write arguments: id, user, cap, times, then the fields.
    pub(crate) fn create_args(
        session: &SessionRecord,
        cap: Option<UserCap>,
    ) -> Result<Vec<String>> {
        let (max, action) = cap_args(cap);
        let mut args = vec![
            session.id.to_hex(),
            session
                .user_id
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
            max,
            action,
            session.created_at.as_millis().to_string(),
            session.idle_expires_at.as_millis().to_string(),
            session.absolute_expires_at.as_millis().to_string(),
        ];
        args.extend(codec::encode(session)?);
        Ok(args)
    }

    /// Ends one session in its slot; with `unindex`, drops its index entry in
    /// the same script (standalone only). Returns what ended, if it was live.
    pub(crate) async fn end_one(
        &self,
        id: &SessionId,
        reason: EndReason,
        unindex: bool,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        let key = self.session_key(id);
        let args = vec![
            id.to_hex(),
            reason.as_str().to_owned(),
            if unindex { "1" } else { "0" }.to_owned(),
        ];
        let (st, rest) = status(self.script(&scripts::END, &[&key], t, args).await?)?;
        if st != "OK" {
            return Ok(None);
        }
        let user = user_of(&text(rest.first().unwrap_or(&Value::Nil))?)?;
        Ok(Some(EndedSession {
            id: *id,
            user_id: user,
            reason,
        }))
    }

    async fn cleanup_bucket(
        &self,
        n: usize,
        t: &Timing,
        batch: usize,
        report: &mut CleanupReport,
    ) -> Result<()> {
        let key = keys::expiry_bucket(&self.prefix, n);
        let unindex = if self.is_cluster() { "0" } else { "1" };
        loop {
            let args = vec![batch.to_string(), unindex.to_owned()];
            let mut r = reply::array(self.script(&scripts::CLEANUP, &[&key], t, args).await?)?;
            if r.len() != 4 {
                return Err(Error::Internal("unexpected cleanup reply".into()));
            }
            report.scanned += int(&r[0])? as u64;
            report.deleted += int(&r[1])? as u64;
            let taken = int(&r[2])? as usize;
            let expired = reply::array(take(&mut r, 3))?;
            for e in expired.chunks(3) {
                let [id, user, reason] = e else {
                    return Err(Error::Internal("unexpected cleanup reply".into()));
                };
                report.expired.push(EndedSession {
                    id: sid(&text(id)?)?,
                    user_id: user_of(&text(user)?)?,
                    reason: reason_of(reason)?,
                });
            }
            if taken < batch {
                return Ok(());
            }
        }
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn create(
        &self,
        session: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        if self.is_cluster() && session.user_id.is_some() {
            return self.cluster_create(session, cap, t).await;
        }
        // Anonymous sessions touch only their own slot, on a cluster too.
        let key = self.session_key(&session.id);
        let args = Self::create_args(&session, cap)?;
        let (st, mut rest) = status(self.script(&scripts::CREATE, &[&key], t, args).await?)?;
        match st.as_str() {
            "OK" => {
                let evicted = texts(take(&mut rest, 0))?
                    .iter()
                    .map(|h| sid(h))
                    .collect::<Result<_>>()?;
                Ok(CreateOutcome { session, evicted })
            }
            "LIMIT" => Err(Error::LimitReached),
            other => Err(Error::Internal(format!("create: {other}"))),
        }
    }

    async fn load(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Result<Lookup> {
        let key = self.session_key(id);
        // The hot path: one native HGETALL (an atomic snapshot). Only when
        // that snapshot calls for a write — a touch is due, or the session
        // has just expired — does the script run, and it decides again
        // atomically. So a load inside the touch interval writes nothing and
        // costs one plain read.
        let snapshot = pairs(self.cmd(redis::cmd("HGETALL").arg(&key)).await?)?;
        let record = match codec::decode_hash(*id, &snapshot)? {
            Lookup::Live(record) => record,
            other => return Ok(other),
        };
        let touch_due = mode == LoadMode::Touch && t.needs_touch(record.last_accessed);
        if record.expired_reason(t.now).is_none() && !touch_due {
            return Ok(Lookup::Live(record));
        }
        let mode = match mode {
            LoadMode::Touch => "T",
            LoadMode::Peek => "P",
        };
        let args = vec![id.to_hex(), mode.to_owned()];
        decode_load_reply(*id, self.script(&scripts::LOAD, &[&key], t, args).await?)
    }

    async fn load_and_write(
        &self,
        id: &SessionId,
        device: &DeviceInfo,
        write: Write<'_>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<LoadWrite> {
        let key = self.session_key(id);
        let dev = serde_json::to_string(device).map_err(|e| Error::Serialization(e.to_string()))?;
        let mut args = vec![id.to_hex(), dev, max_data_size.to_string()];
        match write {
            Write::Increment { key, delta } => {
                args.extend(["I".to_owned(), data_field(key), delta.to_string()]);
            }
            Write::Update {
                patch,
                expected_version,
            } => {
                args.push("U".to_owned());
                args.push(expected_version.map(|v| v.to_string()).unwrap_or_default());
                patch_args(&mut args, patch)?;
            }
        }
        let reply = self.script(&scripts::LOAD_WRITE, &[&key], t, args).await?;
        combined::load_write_reply(*id, reply, write, max_data_size, t)
    }

    async fn update(
        &self,
        id: &SessionId,
        patch: &Patch,
        expected_version: Option<u64>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<SessionRecord> {
        let key = self.session_key(id);
        let mut args = Vec::with_capacity(3 + 3 * patch.ops().len());
        args.push(id.to_hex());
        args.push(expected_version.map(|v| v.to_string()).unwrap_or_default());
        args.push(max_data_size.to_string());
        patch_args(&mut args, patch)?;
        let (st, mut rest) = status(self.script(&scripts::UPDATE, &[&key], t, args).await?)?;
        match st.as_str() {
            "OK" => codec::decode_live(*id, &pairs(take(&mut rest, 0))?),
            other => Err(op_error(other, &rest, max_data_size, "")),
        }
    }

    async fn increment(
        &self,
        id: &SessionId,
        key: &str,
        delta: i64,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<i64> {
        let skey = self.session_key(id);
        let args = vec![
            id.to_hex(),
            data_field(key),
            delta.to_string(),
            max_data_size.to_string(),
        ];
        let (st, rest) = status(self.script(&scripts::INCREMENT, &[&skey], t, args).await?)?;
        match st.as_str() {
            "OK" => text(rest.first().unwrap_or(&Value::Nil))?
                .parse()
                .map_err(|_| Error::Internal("increment: bad value".into())),
            other => Err(op_error(other, &rest, max_data_size, key)),
        }
    }

    async fn rotate(&self, rotation: &Rotation, t: &Timing) -> Result<CreateOutcome> {
        if self.is_cluster() {
            return self.cluster_rotate(rotation, t).await;
        }
        let key = self.session_key(&rotation.from);
        let (max, action) = cap_args(rotation.cap);
        let args = vec![
            rotation.from.to_hex(),
            rotation.to.to_hex(),
            rotation
                .user_id
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
            rotation
                .restart_absolute_expiry
                .map(|a| a.as_millis().to_string())
                .unwrap_or_default(),
            duration_millis(rotation.grace).to_string(),
            max,
            action,
        ];
        let (st, mut rest) = status(self.script(&scripts::ROTATE, &[&key], t, args).await?)?;
        match st.as_str() {
            "OK" => {
                let evicted = texts(take(&mut rest, 0))?
                    .iter()
                    .map(|h| sid(h))
                    .collect::<Result<_>>()?;
                let session = codec::decode_live(rotation.to, &pairs(take(&mut rest, 1))?)?;
                Ok(CreateOutcome { session, evicted })
            }
            other => Err(op_error(other, &rest, 0, "")),
        }
    }

    async fn end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        if self.is_cluster() {
            return self.cluster_end(id, reason, t).await;
        }
        self.end_one(id, reason, true, t).await
    }

    async fn list_user(&self, user: &UserId, t: &Timing) -> Result<Vec<SessionRecord>> {
        if self.is_cluster() {
            return self.cluster_list_user(user, t).await;
        }
        let key = self.user_key(user);
        let args = vec![user.as_str().to_owned()];
        let (_, mut rest) = status(self.script(&scripts::LIST_USER, &[&key], t, args).await?)?;
        let flat = reply::array(take(&mut rest, 0))?;
        let mut out = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(id), Some(fields)) = (it.next(), it.next()) {
            out.push(codec::decode_live(sid(&text(&id)?)?, &pairs(fields)?)?);
        }
        Ok(out)
    }

    async fn end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        if self.is_cluster() {
            return self.cluster_end_user(user, except, reason, t).await;
        }
        let key = self.user_key(user);
        let args = vec![
            user.as_str().to_owned(),
            except.map(SessionId::to_hex).unwrap_or_default(),
            reason.as_str().to_owned(),
        ];
        let (_, mut rest) = status(self.script(&scripts::END_USER, &[&key], t, args).await?)?;
        texts(take(&mut rest, 0))?.iter().map(|h| sid(h)).collect()
    }

    async fn cleanup(&self, t: &Timing, batch_size: usize) -> Result<CleanupReport> {
        let started = Instant::now();
        let batch = batch_size.max(1);
        let mut report = CleanupReport::default();
        for n in 0..keys::BUCKETS {
            self.cleanup_bucket(n, t, batch, &mut report).await?;
        }
        if self.is_cluster() {
            self.cluster_unindex(&report.expired).await?;
        }
        report.duration = started.elapsed();
        Ok(report)
    }

    async fn ping(&self) -> Result<()> {
        let _: String = self.cmd(&redis::cmd("PING")).await?;
        Ok(())
    }
}

/// A patch as script arguments: triples of ('S' | 'R', field, JSON value).
fn patch_args(args: &mut Vec<String>, patch: &Patch) -> Result<()> {
    for (k, op) in patch.ops() {
        let (code, value) = match op {
            PatchOp::Set(v) => (
                "S",
                serde_json::to_string(v).map_err(|e| Error::Serialization(e.to_string()))?,
            ),
            PatchOp::Remove => ("R", String::new()),
        };
        args.push(code.to_owned());
        args.push(data_field(k));
        args.push(value);
    }
    Ok(())
}

/// The error a script's failure status stands for.
pub(crate) fn op_error(status: &str, rest: &[Value], limit: usize, key: &str) -> Error {
    let first = rest.first().unwrap_or(&Value::Nil);
    match status {
        "MISSING" => Error::NotFound,
        "ENDED" => match reason_of(first) {
            Ok(reason) => Error::Ended { reason },
            Err(e) => e,
        },
        "CONFLICT" => match int(first) {
            Ok(v) => Error::Conflict {
                current_version: v as u64,
            },
            Err(e) => e,
        },
        "LIMIT" => Error::LimitReached,
        "TOOBIG" => Error::DataTooLarge {
            size: int(first).unwrap_or(0) as usize,
            limit,
        },
        "NOTINT" => Error::NotAnInteger {
            key: key.to_owned(),
        },
        other => Error::Internal(format!("unexpected script status {other}")),
    }
}
