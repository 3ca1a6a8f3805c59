//! Broken stores, to show that the checker catches what it must.
//!
//! [`Faulty`] wraps a correct store and breaks one rule of the contract. The
//! checker's own tests run histories through it and expect an anomaly; a
//! checker that passed them would be checking nothing.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use crate::Result;
use crate::data::Patch;
use crate::lifecycle::{EndReason, EndedSession};
use crate::policy::UserCap;
use crate::store::{
    CleanupReport, CreateOutcome, LoadMode, Lookup, Rotation, SessionRecord, Store, Timing,
};
use crate::token::SessionId;
use crate::user::UserId;

/// The rule a [`Faulty`] store breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The first increment of a counter already above zero answers as if it
    /// applied, but is never written: one lost update.
    LoseOneIncrement,
    /// Creates ignore the user's cap: the user can exceed it.
    IgnoreCap,
}

/// A store that delegates to `inner` except for its [`Fault`].
pub struct Faulty<S> {
    inner: S,
    fault: Fault,
    fired: AtomicBool,
}

impl<S: Store> Faulty<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, fault: Fault) -> Self {
        Self {
            inner,
            fault,
            fired: AtomicBool::new(false),
        }
    }

    /// True once the fault has changed an answer.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl<S: Store> Store for Faulty<S> {
    async fn create(
        &self,
        session: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        let cap = match self.fault {
            Fault::IgnoreCap => {
                self.fired.store(true, Ordering::SeqCst);
                None
            }
            Fault::LoseOneIncrement => cap,
        };
        self.inner.create(session, cap, t).await
    }

    async fn load(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Result<Lookup> {
        self.inner.load(id, mode, t).await
    }

    async fn update(
        &self,
        id: &SessionId,
        patch: &Patch,
        expected_version: Option<u64>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<SessionRecord> {
        self.inner
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
        if self.fault == Fault::LoseOneIncrement
            && let Lookup::Live(record) = self.inner.load(id, LoadMode::Peek, t).await?
            && let Some(n) = record.data.get(key).and_then(|v| v.as_i64())
            && n > 0
            && !self.fired.swap(true, Ordering::SeqCst)
        {
            return Ok(n + delta);
        }
        self.inner.increment(id, key, delta, max_data_size, t).await
    }

    async fn rotate(&self, rotation: &Rotation, t: &Timing) -> Result<CreateOutcome> {
        self.inner.rotate(rotation, t).await
    }

    async fn end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        self.inner.end(id, reason, t).await
    }

    async fn list_user(&self, user: &UserId, t: &Timing) -> Result<Vec<SessionRecord>> {
        self.inner.list_user(user, t).await
    }

    async fn end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        self.inner.end_user(user, except, reason, t).await
    }

    async fn cleanup(&self, t: &Timing, batch_size: usize) -> Result<CleanupReport> {
        self.inner.cleanup(t, batch_size).await
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}
