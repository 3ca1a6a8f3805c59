//! A networked store that did not answer when `sesame serve` started.
//!
//! PostgreSQL, MySQL, Redis and Memcached are often started beside sesame, or
//! restarted while it runs. Refusing to start until the store answers would
//! make start order matter and turn a brief outage at deploy time into a crash
//! loop, so `serve` starts anyway on a [`Pending`] store: every operation
//! fails with `StoreUnavailable` (503 `store_unavailable` with `Retry-After`;
//! `/readyz` 503 saying the store has not answered yet) while a background
//! task keeps opening the real store, backing off exponentially from
//! [`FIRST_BACKOFF`] to [`MAX_BACKOFF`] and logging one warn line per failed
//! attempt. Once the store opens, every call goes to it; later outages are
//! its own business (the Redis connection and the SQL pools reconnect).
//!
//! Only `serve` waits: the CLI commands open the store directly and fail at
//! once, and a configuration error (a bad URL) or an SQLite file that cannot
//! be opened still stops the server at start-up — a local file does not come
//! back by waiting.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use sesame::dbsc::DbscState;
use sesame::lifecycle::EndedSession;
use sesame::store::{CreateOutcome, LoadMode, LoadWrite, Lookup, Rotation, Timing, Write};
use sesame::{
    CleanupReport, DeviceInfo, EndReason, Error, Patch, Result, SessionId, SessionRecord, Store,
    UserCap, UserId,
};

use crate::error::{ApiError, ErrorCode};

/// The wait before the second connection attempt; it doubles after each.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Why a [`Pending`] store refused an operation: it has never connected.
/// The text names no host and no internals (it reaches `/readyz`).
#[derive(Debug, thiserror::Error)]
#[error(
    "the {kind} store has not answered since start-up ({attempts} connection attempts failed); retrying"
)]
pub struct NotConnected {
    /// The store's kind (`redis`, `postgres`, ...).
    pub kind: &'static str,
    /// Failed connection attempts so far.
    pub attempts: u32,
}

/// A store that is connecting in the background (see the module docs).
pub struct Pending {
    kind: &'static str,
    store: OnceLock<Arc<dyn Store>>,
    attempts: AtomicU32,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("kind", &self.kind)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// A pending store for `url`, whose first attempt failed with `first`;
    /// starts the background connection task (it ends when the store is
    /// open or the `Pending` is dropped). Needs a Tokio runtime.
    pub fn start(url: String, kind: &'static str, first: &Error) -> Arc<Self> {
        let pending = Arc::new(Self {
            kind,
            store: OnceLock::new(),
            attempts: AtomicU32::new(1),
        });
        tracing::warn!(
            store = kind,
            attempt = 1,
            retry_in_ms = millis(FIRST_BACKOFF),
            error = %crate::stores::detail(first),
            "session store not reachable at start-up: serving anyway, answering 503 until it is"
        );
        tokio::spawn(connect(Arc::downgrade(&pending), url, kind));
        pending
    }

    /// True once the real store is open.
    pub fn is_connected(&self) -> bool {
        self.store.get().is_some()
    }

    fn get(&self) -> Result<&Arc<dyn Store>> {
        self.store.get().ok_or_else(|| {
            Error::unavailable(NotConnected {
                kind: self.kind,
                attempts: self.attempts.load(Ordering::Relaxed),
            })
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The background task: open the store until it opens.
async fn connect(pending: Weak<Pending>, url: String, kind: &'static str) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        tokio::time::sleep(backoff).await;
        if pending.strong_count() == 0 {
            return;
        }
        let opened = crate::stores::open(&url, true).await;
        let Some(p) = pending.upgrade() else { return };
        match opened {
            Ok(handle) => {
                let _ = p.store.set(handle.store);
                tracing::info!(
                    store = kind,
                    attempts = p.attempts.load(Ordering::Relaxed) + 1,
                    "session store reachable: ready"
                );
                return;
            }
            Err(e) => {
                let attempt = p.attempts.fetch_add(1, Ordering::Relaxed) + 1;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                tracing::warn!(
                    store = kind,
                    attempt,
                    retry_in_ms = millis(backoff),
                    error = %e,
                    "session store still not reachable"
                );
            }
        }
    }
}

/// The `/readyz` answer for a failed ping: 503 `store_unavailable`, whose
/// message says whether the store has not answered since start-up.
pub fn not_ready(e: Error) -> ApiError {
    if let Error::StoreUnavailable(source) = &e
        && let Some(pending) = source.downcast_ref::<NotConnected>()
    {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StoreUnavailable,
            format!("not ready: {pending}"),
        );
    }
    ApiError::from(e)
}

#[async_trait]
impl Store for Pending {
    async fn create(
        &self,
        session: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        self.get()?.create(session, cap, t).await
    }

    async fn load(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Result<Lookup> {
        self.get()?.load(id, mode, t).await
    }

    async fn load_and_write(
        &self,
        id: &SessionId,
        device: &DeviceInfo,
        write: Write<'_>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<LoadWrite> {
        self.get()?
            .load_and_write(id, device, write, max_data_size, t)
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
        self.get()?
            .update(id, patch, expected_version, max_data_size, t)
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
        self.get()?
            .increment(id, key, delta, max_data_size, t)
            .await
    }

    async fn rotate(&self, rotation: &Rotation, t: &Timing) -> Result<CreateOutcome> {
        self.get()?.rotate(rotation, t).await
    }

    async fn end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        self.get()?.end(id, reason, t).await
    }

    async fn list_user(&self, user: &UserId, t: &Timing) -> Result<Vec<SessionRecord>> {
        self.get()?.list_user(user, t).await
    }

    async fn end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        self.get()?.end_user(user, except, reason, t).await
    }

    async fn swap_dbsc(
        &self,
        id: &SessionId,
        expected: Option<&DbscState>,
        new: Option<&DbscState>,
        t: &Timing,
    ) -> Result<bool> {
        self.get()?.swap_dbsc(id, expected, new, t).await
    }

    async fn cleanup(&self, t: &Timing, batch_size: usize) -> Result<CleanupReport> {
        self.get()?.cleanup(t, batch_size).await
    }

    async fn ping(&self) -> Result<()> {
        self.get()?.ping().await
    }

    async fn close(&self) {
        if let Some(store) = self.store.get() {
            store.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_until_connected_and_says_why() {
        let first = Error::unavailable("refused");
        // Nothing listens on port 1; the task keeps failing in the background.
        let p = Pending::start("redis://127.0.0.1:1".into(), "redis", &first);
        let err = p.ping().await.unwrap_err();
        assert_eq!(err.code(), "store_unavailable");
        let api = not_ready(err);
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.code(), ErrorCode::StoreUnavailable);
        assert!(!p.is_connected());
        // A plain outage keeps the generic answer.
        assert_eq!(
            not_ready(Error::unavailable("down")).code(),
            ErrorCode::StoreUnavailable
        );
    }

    #[tokio::test]
    async fn delegates_once_open() {
        let p = Pending::start("memory://".into(), "memory", &Error::unavailable("not yet"));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !p.is_connected() {
            assert!(std::time::Instant::now() < deadline, "never connected");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        p.ping().await.unwrap();
        let m = sesame::Manager::with_clock(
            p,
            sesame::Policy::default(),
            Arc::new(sesame::SystemClock),
        )
        .unwrap();
        let created = m
            .create(Some("ann"), Default::default(), Default::default())
            .await
            .unwrap();
        let loaded = m
            .load(created.token.expose(), &Default::default())
            .await
            .unwrap();
        assert_eq!(loaded.session.id, created.token.id());
    }
}
