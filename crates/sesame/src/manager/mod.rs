//! The manager: the engine's public face.
//!
//! It parses tokens (a malformed one never reaches the store), hashes them,
//! applies the [`Policy`] — touch interval, device binding, renewal, the
//! per-user cap, size limits — makes exactly one store call for each
//! operation on the hot path, and reports lifecycle events.

mod inspect;
mod results;

use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;

pub use self::inspect::Inspection;
pub use self::results::{Created, Issued, Loaded, LoadedWrite, Rotated};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::data::{Data, Patch, check_size, validate_key};
use crate::device::{DeviceInfo, MismatchAction};
use crate::events::{EventSink, SessionEvent};
use crate::lifecycle::{EndReason, Tombstone};
use crate::policy::{Policy, TokenReuseAction};
use crate::store::{
    CleanupReport, CreateOutcome, LoadMode, Lookup, Rotation, SessionRecord, Store, Timing, Write,
    Written,
};
use crate::token::{SessionId, SessionToken};
use crate::user::UserId;
use crate::{Error, Result};

/// Rows (or records) a cleanup pass touches per statement or lock hold.
pub const CLEANUP_BATCH: usize = 1000;

/// Compare-and-set attempts [`Manager::modify`] makes before giving up.
const MODIFY_ATTEMPTS: usize = 10_000;

/// The session engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    policy: Policy,
    clock: Arc<dyn Clock>,
    sinks: RwLock<Vec<Arc<dyn EventSink>>>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager over `store` with `policy`, on the system clock. Fails with
    /// [`Error::Policy`](crate::Error::Policy) if the policy is inconsistent.
    pub fn new(store: impl Store, policy: Policy) -> Result<Self> {
        Self::with_clock(Arc::new(store), policy, Arc::new(SystemClock))
    }

    /// A manager over a shared store and a chosen clock (tests move a
    /// `ManualClock`).
    pub fn with_clock(
        store: Arc<dyn Store>,
        policy: Policy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        policy.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                policy,
                clock,
                sinks: RwLock::new(Vec::new()),
            }),
        })
    }

    /// Adds a subscriber to lifecycle events.
    pub fn subscribe(&self, sink: Arc<dyn EventSink>) {
        self.inner.sinks.write().push(sink);
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The current time on the manager's clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    fn timing(&self) -> Timing {
        let policy = &self.inner.policy;
        Timing {
            now: self.now(),
            idle_timeout: policy.idle_timeout(),
            touch_interval: policy.touch_interval(),
            tombstone_ttl: policy.tombstone_ttl(),
        }
    }

    fn emit(&self, event: SessionEvent) {
        for sink in self.inner.sinks.read().iter() {
            sink.on_event(&event);
        }
    }

    fn emit_ended(&self, id: SessionId, user_id: Option<UserId>, reason: EndReason) {
        self.emit(SessionEvent::Ended {
            id,
            user_id,
            reason,
        });
    }

    /// Creates a session — for `user` at login, or anonymous with `None` —
    /// enforcing the per-user cap in the same store step. Returns the token
    /// (send it to the client) and the ids of sessions the cap evicted.
    pub async fn create(
        &self,
        user: Option<&str>,
        data: Data,
        device: DeviceInfo,
    ) -> Result<Created> {
        let user_id = user.map(UserId::new).transpose()?;
        for key in data.keys() {
            validate_key(key)?;
        }
        let policy = &self.inner.policy;
        check_size(&data, policy.max_data_size())?;
        let token = SessionToken::generate()?;
        let t = self.timing();
        let absolute_expires_at = t.now.plus(policy.absolute_lifetime());
        let record = SessionRecord {
            id: token.id(),
            user_id,
            data,
            version: 1,
            created_at: t.now,
            token_issued_at: t.now,
            last_accessed: t.now,
            idle_expires_at: t.idle_expiry(absolute_expires_at),
            absolute_expires_at,
            device,
            dbsc: None,
        };
        let cap = record.user_id.as_ref().and(policy.user_cap());
        let outcome = self.inner.store.create(record, cap, &t).await?;
        let created = SessionEvent::Created {
            id: outcome.session.id,
            user_id: outcome.session.user_id.clone(),
        };
        Ok(self.issued(token, outcome, created))
    }

    /// Reports a new token's event and the evictions it caused.
    fn issued(&self, token: SessionToken, outcome: CreateOutcome, event: SessionEvent) -> Issued {
        self.emit(event);
        for id in &outcome.evicted {
            self.emit_ended(*id, outcome.session.user_id.clone(), EndReason::Evicted);
        }
        Issued {
            token,
            session: outcome.session,
            evicted: outcome.evicted,
        }
    }

    /// Resumes the session of `token` for a client described by `device`:
    /// records a use when the touch interval has passed, checks the device
    /// binding, and renews the token when it is due (then
    /// [`Loaded::renewed`] holds the new token to send).
    pub async fn load(&self, token: &str, device: &DeviceInfo) -> Result<Loaded> {
        let token = SessionToken::parse(token)?;
        let t = self.timing();
        match self
            .inner
            .store
            .load(&token.id(), LoadMode::Touch, &t)
            .await?
        {
            Lookup::Live(record) => self.accept(record, device, false).await,
            Lookup::Missing => Err(Error::NotFound),
            Lookup::Ended {
                tombstone,
                just_ended,
            } => {
                if just_ended {
                    self.emit_ended(tombstone.id, tombstone.user_id.clone(), tombstone.reason);
                }
                // Cold paths are boxed here and in `accept`: inline, their
                // state made this future ~2.6 KB, copied on every load.
                Box::pin(self.after_end(tombstone, device, &t)).await
            }
        }
    }

    /// [`Manager::load`], then `write` (a patch or an increment) on the
    /// session — in **one** store step where the store can
    /// ([`Store::load_and_write`]): one round trip on Redis for a request that
    /// reads and changes its session. The store applies the write in that step
    /// only when the session's device is exactly `device`; otherwise (another
    /// device that the binding accepts, a rotated token within its grace, a
    /// store without the combined step) the manager checks the session as
    /// `load` does and makes the write as a second call. A request the device
    /// binding refuses never writes.
    ///
    /// # Errors
    /// The load's errors, as [`Manager::load`]: then nothing was written. The
    /// write's own refusals are in [`LoadedWrite::written`].
    ///
    /// # Examples
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sesame::store::{Write, Written};
    /// use sesame::{DeviceInfo, Manager, MemoryStore, Policy};
    ///
    /// let manager = Manager::new(MemoryStore::new(), Policy::default())?;
    /// let device = DeviceInfo::default().with_user_agent("browser");
    /// let created = manager.create(None, Default::default(), device.clone()).await?;
    /// let write = Write::Increment { key: "visits", delta: 1 };
    /// let step = manager.load_and_write(created.token.expose(), &device, write).await?;
    /// assert_eq!(step.written?, Written::Incremented(1));
    /// # Ok::<_, sesame::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn load_and_write(
        &self,
        token: &str,
        device: &DeviceInfo,
        write: Write<'_>,
    ) -> Result<LoadedWrite> {
        let token = SessionToken::parse(token)?;
        if let Write::Increment { key, .. } = write {
            validate_key(key)?;
        }
        let t = self.timing();
        let max = self.inner.policy.max_data_size();
        let step = self
            .inner
            .store
            .load_and_write(&token.id(), device, write, max, &t)
            .await?;
        let mut loaded = match step.lookup {
            Lookup::Live(record) => {
                let loaded = self.accept(record, device, false).await?;
                if let Some(written) = step.write {
                    return Ok(LoadedWrite { loaded, written });
                }
                loaded
            }
            Lookup::Missing => return Err(Error::NotFound),
            Lookup::Ended {
                tombstone,
                just_ended,
            } => {
                if just_ended {
                    self.emit_ended(tombstone.id, tombstone.user_id.clone(), tombstone.reason);
                }
                Box::pin(self.after_end(tombstone, device, &t)).await?
            }
        };
        let written = Box::pin(self.write_loaded(&mut loaded, write)).await;
        Ok(LoadedWrite { loaded, written })
    }

    /// The second call of [`Manager::load_and_write`], on the loaded session.
    async fn write_loaded(&self, loaded: &mut Loaded, write: Write<'_>) -> Result<Written> {
        let id = loaded.session.id;
        match write {
            Write::Update {
                patch,
                expected_version,
            } => {
                loaded.session = self.update_id(&id, patch, expected_version).await?;
                Ok(Written::Updated)
            }
            Write::Increment { key, delta } => {
                let value = self.increment_id(&id, key, delta).await?;
                loaded
                    .session
                    .data
                    .insert(key.to_owned(), Value::from(value));
                Ok(Written::Incremented(value))
            }
        }
    }

    /// A rotated token within its grace reaches its successor; one presented
    /// later is refused, and — if the rotation had a grace, so that a late
    /// in-flight request cannot explain it — its successor is ended as a
    /// security event.
    async fn after_end(&self, tomb: Tombstone, device: &DeviceInfo, t: &Timing) -> Result<Loaded> {
        let ended = Err(Error::Ended {
            reason: tomb.reason,
        });
        let Some(successor) = tomb.successor else {
            return ended;
        };
        if t.now < successor.grace_until {
            return match self
                .inner
                .store
                .load(&successor.id, LoadMode::Touch, t)
                .await?
            {
                Lookup::Live(record) => self.accept(record, device, true).await,
                _ => ended,
            };
        }
        let had_grace = successor.grace_until > tomb.ended_at;
        if had_grace && self.inner.policy.token_reuse() == TokenReuseAction::EndSuccessor {
            self.end_id(&successor.id, EndReason::TokenReuse).await?;
            return Err(Error::Ended {
                reason: EndReason::TokenReuse,
            });
        }
        ended
    }

    async fn accept(
        &self,
        record: SessionRecord,
        device: &DeviceInfo,
        via_grace: bool,
    ) -> Result<Loaded> {
        let policy = &self.inner.policy;
        let binding = policy.device_binding();
        let mut device_flagged = false;
        if !binding.matches(&record.device, device) {
            match binding.on_mismatch() {
                MismatchAction::Destroy => {
                    Box::pin(self.end_id(&record.id, EndReason::DeviceMismatch)).await?;
                    return Err(Error::Ended {
                        reason: EndReason::DeviceMismatch,
                    });
                }
                MismatchAction::Flag => device_flagged = true,
                MismatchAction::Ignore => {}
            }
        }
        let mut loaded = Loaded {
            session: record,
            renewed: None,
            device_flagged,
            via_grace,
        };
        if let Some(renewal) = policy.renewal()
            && !via_grace
            && self.now().since(loaded.session.token_issued_at) >= renewal.interval
        {
            // A concurrent request may have renewed first; then its response
            // carries the new token and this one goes on with the old.
            let rotation = Box::pin(self.rotate_id(loaded.session.id, None, renewal.grace));
            if let Ok(rotated) = rotation.await {
                loaded.session = rotated.session;
                loaded.renewed = Some(rotated.token);
            }
        }
        Ok(loaded)
    }

    /// Applies `patch` to the session's data. With `expected_version`, fails
    /// with `Error::Conflict` unless the session is still at that version.
    pub async fn update(
        &self,
        token: &str,
        patch: &Patch,
        expected_version: Option<u64>,
    ) -> Result<SessionRecord> {
        let id = SessionToken::parse(token)?.id();
        self.update_id(&id, patch, expected_version).await
    }

    /// [`Manager::update`] by session id, for transports that already loaded it.
    pub async fn update_id(
        &self,
        id: &SessionId,
        patch: &Patch,
        expected_version: Option<u64>,
    ) -> Result<SessionRecord> {
        let t = self.timing();
        let max = self.inner.policy.max_data_size();
        self.inner
            .store
            .update(id, patch, expected_version, max, &t)
            .await
    }

    /// Adds `delta` to the integer at `key` atomically in the store; no
    /// concurrent increment is lost.
    pub async fn increment(&self, token: &str, key: &str, delta: i64) -> Result<i64> {
        let id = SessionToken::parse(token)?.id();
        self.increment_id(&id, key, delta).await
    }

    /// [`Manager::increment`] by session id.
    pub async fn increment_id(&self, id: &SessionId, key: &str, delta: i64) -> Result<i64> {
        validate_key(key)?;
        let t = self.timing();
        let max = self.inner.policy.max_data_size();
        self.inner.store.increment(id, key, delta, max, &t).await
    }

    /// Read-modify-write of one key: `change` maps the current value to the
    /// new one, and the write is a compare-and-set retried on conflict, so no
    /// concurrent change is lost. `change` may run more than once.
    pub async fn modify(
        &self,
        token: &str,
        key: &str,
        mut change: impl FnMut(Option<&Value>) -> Result<Value> + Send,
    ) -> Result<Value> {
        validate_key(key)?;
        let id = SessionToken::parse(token)?.id();
        for _ in 0..MODIFY_ATTEMPTS {
            let t = self.timing();
            let record = match self.inner.store.load(&id, LoadMode::Peek, &t).await? {
                Lookup::Live(record) => record,
                Lookup::Missing => return Err(Error::NotFound),
                Lookup::Ended { tombstone, .. } => {
                    return Err(Error::Ended {
                        reason: tombstone.reason,
                    });
                }
            };
            let value = change(record.data.get(key))?;
            let patch = Patch::new().set(key, &value)?;
            match self.update_id(&id, &patch, Some(record.version)).await {
                Ok(_) => return Ok(value),
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict { current_version: 0 })
    }

    /// Logs `user` in on the session of `token`: a new token replaces the old
    /// one at once (session fixation), the lifetime restarts, and the user's
    /// cap is enforced. Send the returned token to the client.
    pub async fn login(&self, token: &str, user: &str) -> Result<Rotated> {
        let id = SessionToken::parse(token)?.id();
        let user = UserId::new(user)?;
        self.rotate_id(id, Some(user), self.inner.policy.rotation_grace())
            .await
    }

    /// Replaces the token of a session (privilege change) keeping its user and
    /// lifetime; the old token works for the policy's rotation grace.
    pub async fn rotate(&self, token: &str) -> Result<Rotated> {
        let id = SessionToken::parse(token)?.id();
        self.rotate_id(id, None, self.inner.policy.rotation_grace())
            .await
    }

    async fn rotate_id(
        &self,
        from: SessionId,
        login_as: Option<UserId>,
        grace: std::time::Duration,
    ) -> Result<Rotated> {
        let policy = &self.inner.policy;
        let token = SessionToken::generate()?;
        let t = self.timing();
        let restart = login_as
            .is_some()
            .then(|| t.now.plus(policy.absolute_lifetime()));
        let rotation = Rotation {
            from,
            to: token.id(),
            user_id: login_as,
            restart_absolute_expiry: restart,
            grace,
            cap: policy.user_cap(),
        };
        let outcome = self.inner.store.rotate(&rotation, &t).await?;
        let rotated = SessionEvent::Rotated {
            from,
            to: outcome.session.id,
            user_id: outcome.session.user_id.clone(),
        };
        Ok(self.issued(token, outcome, rotated))
    }

    /// Ends the session of `token` (logout: `EndReason::LoggedOut`). Returns
    /// false when it was not live.
    pub async fn destroy(&self, token: &str, reason: EndReason) -> Result<bool> {
        let id = SessionToken::parse(token)?.id();
        self.end_id(&id, reason).await
    }

    /// Ends a session by id ("end this one of my sessions", admin revoke).
    pub async fn end_id(&self, id: &SessionId, reason: EndReason) -> Result<bool> {
        let t = self.timing();
        match self.inner.store.end(id, reason, &t).await? {
            Some(ended) => {
                self.emit_ended(ended.id, ended.user_id, ended.reason);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The user's live sessions, oldest first.
    pub async fn list_user(&self, user: &str) -> Result<Vec<SessionRecord>> {
        let user = UserId::new(user)?;
        self.inner.store.list_user(&user, &self.timing()).await
    }

    /// Ends all of the user's sessions ("log out everywhere", password
    /// change), or all but `except` ("log out other devices").
    pub async fn revoke_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>> {
        let user_id = UserId::new(user)?;
        let t = self.timing();
        let ended = self
            .inner
            .store
            .end_user(&user_id, except, EndReason::Revoked, &t)
            .await?;
        for id in &ended {
            self.emit_ended(*id, Some(user_id.clone()), EndReason::Revoked);
        }
        Ok(ended)
    }

    /// Ends expired sessions, purges old tombstones, and reports each expiry.
    pub async fn cleanup(&self) -> Result<CleanupReport> {
        let report = self
            .inner
            .store
            .cleanup(&self.timing(), CLEANUP_BATCH)
            .await?;
        for ended in &report.expired {
            self.emit_ended(ended.id, ended.user_id.clone(), ended.reason);
        }
        Ok(report)
    }

    /// Everything known about the session of `token`, without touching it.
    pub async fn inspect(&self, token: &str) -> Result<Inspection> {
        let id = SessionToken::parse(token)?.id();
        self.inspect_id(&id).await
    }

    /// [`Manager::inspect`] by session id.
    pub async fn inspect_id(&self, id: &SessionId) -> Result<Inspection> {
        let t = self.timing();
        let lookup = self.inner.store.load(id, LoadMode::Peek, &t).await?;
        if let Lookup::Ended {
            tombstone,
            just_ended: true,
        } = &lookup
        {
            self.emit_ended(tombstone.id, tombstone.user_id.clone(), tombstone.reason);
        }
        Ok(Inspection::of(*id, lookup, t.now))
    }
}
