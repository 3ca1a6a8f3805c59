//! The expiry index: what cleanup reads, since memcached cannot be scanned.
//!
//! Memcached has no way to list keys, so a cleanup pass could not find the
//! sessions that expired. Every write that sets a deadline — a new session's
//! expiry, a tombstone's purge time — also appends the session id to the
//! bucket of that minute, `{prefix}x:{minute}` (`append`, atomic on the
//! server; `add` creates the bucket). A cleanup pass reads the buckets from
//! its cursor (`{prefix}x:cursor`, at most 24 hours back) up to now, and for
//! each id reads the session itself, which is the truth:
//! - live and expired: ended by CAS (so each expiry is reported once, by
//!   whichever of cleanup and `load` gets there first), filed again under its
//!   purge minute;
//! - live and not expired (it was used since): filed again under its new
//!   deadline — touches never write the index, cleanup catches up;
//! - a tombstone past its time: deleted;
//! - missing: already gone (purged, or evicted by memcached).
//!
//! Filing is best effort. When a bucket is lost (memcached evicted it, a
//! write failed), its sessions still end — `load` ends them when used, their
//! items expire by TTL — but cleanup does not report them.

use std::time::Duration;

use sesame::lifecycle::EndedSession;
use sesame::store::{CleanupReport, Timing};
use sesame::{Result, SessionId, Timestamp};

use crate::client::{StoreCmd, Stored as Reply};
use crate::record::Stored;
use crate::store::{MemcachedStore, exptime, map_err};

/// Width of a bucket.
pub(crate) const BUCKET_MS: u64 = 60_000;
/// How far back a cleanup without a cursor looks, and how long buckets live
/// past their minute.
pub(crate) const LOOKBACK_BUCKETS: u64 = 24 * 60;
/// Buckets read per request.
const BUCKETS_PER_GET: usize = 100;

pub(crate) fn bucket(at: Timestamp) -> u64 {
    at.as_millis() / BUCKET_MS
}

impl MemcachedStore {
    fn bucket_key(&self, b: u64) -> String {
        format!("{}x:{b}", self.prefix)
    }

    fn cursor_key(&self) -> String {
        format!("{}x:cursor", self.prefix)
    }

    /// Files `ids` under the minute of `at`. Best effort: see the module docs.
    pub(crate) async fn file(&self, ids: &[SessionId], at: Timestamp, t: &Timing) {
        let b = bucket(at);
        let key = self.bucket_key(b);
        let mut data = String::with_capacity(ids.len() * 65);
        for id in ids {
            data.push_str(&id.to_hex());
            data.push(' ');
        }
        let until = Timestamp::from_millis((b + 1 + LOOKBACK_BUCKETS) * BUCKET_MS);
        for _ in 0..3 {
            match self
                .client
                .store(StoreCmd::Append, &key, data.as_bytes(), 0)
                .await
            {
                Ok(Reply::Stored) | Err(_) => return,
                Ok(_) => {}
            }
            match self
                .client
                .store(StoreCmd::Add, &key, data.as_bytes(), exptime(t.now, until))
                .await
            {
                // NOT_STORED: another writer created it first; append again.
                Ok(Reply::Stored) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// One cleanup pass over the buckets due. See the module docs.
    pub(crate) async fn sweep(&self, t: &Timing, batch_size: usize) -> Result<CleanupReport> {
        let started = std::time::Instant::now();
        let batch = batch_size.max(1);
        let now_b = bucket(t.now);
        let floor = now_b.saturating_sub(LOOKBACK_BUCKETS);
        let cursor_key = self.cursor_key();
        let start = match self.client.get(&cursor_key).await.map_err(map_err)? {
            Some(item) => std::str::from_utf8(&item.data)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(floor)
                .max(floor),
            None => floor,
        };
        let mut report = CleanupReport::default();
        let buckets: Vec<u64> = (start..=now_b).collect();
        for chunk in buckets.chunks(BUCKETS_PER_GET) {
            let keys: Vec<String> = chunk.iter().map(|b| self.bucket_key(*b)).collect();
            let mut items = self.client.gets(&keys).await.map_err(map_err)?;
            for (b, key) in chunk.iter().zip(&keys) {
                let Some(item) = items.remove(key) else {
                    continue;
                };
                let mut pending = Vec::new();
                for ids in Self::parse_ids(&item.data).chunks(batch) {
                    let mut records = self.read_many(ids).await?;
                    for id in ids {
                        report.scanned += 1;
                        if let Some(record) = records.remove(id) {
                            self.settle(id, record, *b, t, &mut report, &mut pending)
                                .await?;
                        }
                    }
                }
                if *b < now_b {
                    self.client.delete(key).await.map_err(map_err)?;
                } else {
                    // The current minute stays, with what is not yet due; a
                    // conflict (someone appended) leaves it whole for next time.
                    let mut data = String::with_capacity(pending.len() * 65);
                    for id in &pending {
                        data.push_str(&id.to_hex());
                        data.push(' ');
                    }
                    let until = Timestamp::from_millis((b + 1 + LOOKBACK_BUCKETS) * BUCKET_MS);
                    self.client
                        .store(
                            StoreCmd::Cas(item.cas),
                            key,
                            data.as_bytes(),
                            exptime(t.now, until),
                        )
                        .await
                        .map_err(map_err)?;
                }
            }
        }
        let until = t
            .now
            .plus(Duration::from_millis(LOOKBACK_BUCKETS * BUCKET_MS));
        self.client
            .store(
                StoreCmd::Set,
                &cursor_key,
                now_b.to_string().as_bytes(),
                exptime(t.now, until),
            )
            .await
            .map_err(map_err)?;
        report.duration = started.elapsed();
        Ok(report)
    }

    /// Settles one id found in bucket `b`.
    async fn settle(
        &self,
        id: &SessionId,
        (stored, cas): (Stored, u64),
        b: u64,
        t: &Timing,
        report: &mut CleanupReport,
        pending: &mut Vec<SessionId>,
    ) -> Result<()> {
        match &stored {
            Stored::Live(live) if live.expired_reason(t.now).is_some() => {
                // `None`: a concurrent load ended (and filed) it first.
                if let Some(ended) = self.end_expired(id, t, Some((stored, cas))).await? {
                    report.expired.push(EndedSession {
                        id: *id,
                        user_id: ended.user_id.clone(),
                        reason: ended.reason,
                    });
                    if ended.purge_at <= t.now
                        && self
                            .client
                            .delete(&self.session_key(id))
                            .await
                            .map_err(map_err)?
                    {
                        report.deleted += 1;
                    }
                }
            }
            Stored::Live(live) => {
                let due = live.expires_at();
                if bucket(due) == b {
                    pending.push(*id);
                } else {
                    self.file(&[*id], due, t).await;
                }
            }
            Stored::Ended(e) if e.purge_at <= t.now => {
                if self
                    .client
                    .delete(&self.session_key(id))
                    .await
                    .map_err(map_err)?
                {
                    report.deleted += 1;
                }
            }
            Stored::Ended(e) => {
                if bucket(e.purge_at) == b {
                    pending.push(*id);
                }
                // Otherwise it was filed under its purge minute when it ended.
            }
        }
        Ok(())
    }
}
