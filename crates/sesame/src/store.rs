//! The store contract: the narrow waist between the engine and a database.
//!
//! Every operation that must be atomic is **one** call here, and a networked
//! store should make it one round trip: creating a session together with its
//! per-user index entry and the evictions the cap requires; loading together
//! with the touch; patching together with the version check; rotating; ending a
//! user's sessions. The manager never composes two store calls where a race
//! between them could break an invariant.
//!
//! # Invariants every store keeps
//! - A session ends exactly once. Ending it leaves a [`Tombstone`] with the
//!   reason until `ended_at + tombstone_ttl`.
//! - A live session whose idle or absolute expiry has passed is never returned
//!   as live. `load` and `cleanup` turn it into a tombstone and report it
//!   (`Lookup::Ended { just_ended: true, .. }`, [`CleanupReport::expired`]);
//!   other operations refuse it with `Error::Ended` and leave it for them, so
//!   each expiry is reported once.
//! - The per-user index holds only live sessions after any operation that
//!   writes it: ending a session removes its entry, and `create`, `rotate`,
//!   `list_user` and `end_user` drop entries of sessions that expired.
//! - With a cap, no operation leaves a user with more live sessions than
//!   `cap.max`, under any interleaving of concurrent calls.
//! - `update` and `increment` change only the keys they name, never the whole
//!   map, and bump the version by one; `expected_version` is checked in the
//!   same atomic step.
//! - Any write counts as a use: it sets `last_accessed` and extends the idle
//!   expiry. A load with [`LoadMode::Touch`] does so only when the last use is
//!   older than the touch interval, and writes nothing otherwise.
//!
//! - The DBSC state ([`SessionRecord::dbsc`]) changes only through
//!   [`Store::swap_dbsc`], a compare-and-set: of concurrent swaps from the
//!   same state exactly one succeeds. It is not session data: a swap
//!   neither bumps the version nor counts as a use. Rotation carries it to
//!   the new id; ending a session drops it.
//!
//! # A load and a write in one step
//! A request that loads its session and then changes it would cost two calls
//! (two round trips on a networked store). [`Store::load_and_write`] lets a
//! store do both in one: the load's checks (live, unexpired, touch when due)
//! and then the write ([`Write`]: a patch or an increment), applied only if
//! the session is bound to exactly the request's device — so a request the
//! device binding would refuse never writes. Anything else (another device,
//! an ended session, a rotated token within its grace) returns the load alone
//! and the manager finishes with today's second call. Its default does just
//! that, so a store that cannot combine the two stays correct.
//!
//! The conformance suite in `sesame::testing` (feature `testing`) checks all of
//! this, including the concurrent cases, against any store.

use std::time::Duration;

use async_trait::async_trait;

use crate::Result;
use crate::clock::Timestamp;
use crate::data::{Data, Patch};
use crate::dbsc::DbscState;
use crate::device::DeviceInfo;
use crate::lifecycle::{EndReason, EndedSession, Tombstone};
use crate::policy::UserCap;
use crate::token::SessionId;
use crate::user::UserId;

/// A live session as a store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// SHA-256 of the token.
    pub id: SessionId,
    /// The user, or `None` for an anonymous session.
    pub user_id: Option<UserId>,
    /// The data map.
    pub data: Data,
    /// Bumped by every data change; the basis of compare-and-set.
    pub version: u64,
    /// When the session was created (or, after a login rotation, logged in).
    pub created_at: Timestamp,
    /// When the current token was issued; renewal is measured from here.
    pub token_issued_at: Timestamp,
    /// Last recorded use (to within the touch interval).
    pub last_accessed: Timestamp,
    /// Ends if unused until then: `min(last_accessed + idle, absolute)`.
    pub idle_expires_at: Timestamp,
    /// Ends at this instant whatever happens.
    pub absolute_expires_at: Timestamp,
    /// The client the session is bound to.
    pub device: DeviceInfo,
    /// The session's DBSC registration (its browser key), if it has one.
    /// Carried along by rotations; changed only by [`Store::swap_dbsc`].
    /// Boxed: most sessions have none, and a record is moved on every load.
    pub dbsc: Option<Box<DbscState>>,
}

impl SessionRecord {
    /// The nearer of the idle and absolute expiry.
    pub fn expires_at(&self) -> Timestamp {
        self.idle_expires_at.min(self.absolute_expires_at)
    }

    /// The expiry reason if the session has expired at `now`.
    pub fn expired_reason(&self, now: Timestamp) -> Option<EndReason> {
        expired_reason(self.idle_expires_at, self.absolute_expires_at, now)
    }

    /// Records a use at `t.now`: sets `last_accessed` and extends the idle expiry.
    pub fn touch(&mut self, t: &Timing) {
        self.last_accessed = t.now;
        self.idle_expires_at = t.idle_expiry(self.absolute_expires_at);
    }

    /// The tombstone this session leaves when it ends for `reason` at `at`.
    pub fn tombstone(&self, reason: EndReason, at: Timestamp) -> Tombstone {
        Tombstone {
            id: self.id,
            user_id: self.user_id.clone(),
            reason,
            ended_at: at,
            successor: None,
        }
    }
}

/// The clock reading and policy timings a store operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The current time, from the manager's clock.
    pub now: Timestamp,
    /// The policy's idle timeout.
    pub idle_timeout: Duration,
    /// The policy's touch interval.
    pub touch_interval: Duration,
    /// How long a tombstone is kept.
    pub tombstone_ttl: Duration,
}

impl Timing {
    /// True when a load at `now` must record a use, given the last one.
    pub fn needs_touch(&self, last_accessed: Timestamp) -> bool {
        self.now.since(last_accessed) >= self.touch_interval
    }

    /// The idle expiry of a session used now: `now + idle`, capped by the
    /// absolute expiry.
    pub fn idle_expiry(&self, absolute_expires_at: Timestamp) -> Timestamp {
        self.now.plus(self.idle_timeout).min(absolute_expires_at)
    }

    /// When a tombstone for a session that ended at `ended_at` may be purged.
    pub fn purge_at(&self, ended_at: Timestamp) -> Timestamp {
        ended_at.plus(self.tombstone_ttl)
    }
}

/// The expiry reason of a session with these expiry instants at `now`, if it
/// has expired. Absolute expiry wins when both have passed.
pub fn expired_reason(
    idle_expires_at: Timestamp,
    absolute_expires_at: Timestamp,
    now: Timestamp,
) -> Option<EndReason> {
    if absolute_expires_at <= now {
        Some(EndReason::AbsoluteTimeout)
    } else if idle_expires_at <= now {
        Some(EndReason::IdleTimeout)
    } else {
        None
    }
}

/// Whether a load records a use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// Record a use if the last one is older than the touch interval.
    Touch,
    /// Read only (inspection, compare-and-set retries).
    Peek,
}

/// What a load found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// A live session.
    Live(SessionRecord),
    /// An ended session's tombstone.
    Ended {
        /// The tombstone.
        tombstone: Tombstone,
        /// True when this very call ended it (it had just expired), so the
        /// caller reports the end.
        just_ended: bool,
    },
    /// Nothing under this id (never existed, or purged).
    Missing,
}

/// What creating (or rotating into) a session did.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateOutcome {
    /// The new live session.
    pub session: SessionRecord,
    /// Sessions of the same user the cap evicted to make room.
    pub evicted: Vec<SessionId>,
}

/// A rotation: the session `from` continues under the new id `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The current id; it must be live.
    pub from: SessionId,
    /// The new id.
    pub to: SessionId,
    /// Set the session's user (login); `None` keeps the current one.
    pub user_id: Option<UserId>,
    /// Restart the lifetime (login): `created_at` becomes now and the absolute
    /// expiry this instant. `None` keeps both (renewal, privilege change).
    pub restart_absolute_expiry: Option<Timestamp>,
    /// The old id resolves to the new session until `now + grace`; zero ends it
    /// at once.
    pub grace: Duration,
    /// The cap to enforce on the (possibly new) user.
    pub cap: Option<UserCap>,
}

/// A write made in the same step as a load ([`Store::load_and_write`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Write<'a> {
    /// [`Store::update`]: apply `patch`, checking `expected_version`.
    Update {
        /// The field-level changes.
        patch: &'a Patch,
        /// Compare-and-set: the version the session must be at.
        expected_version: Option<u64>,
    },
    /// [`Store::increment`]: add `delta` to the integer at `key`.
    Increment {
        /// The data key (already validated).
        key: &'a str,
        /// What to add.
        delta: i64,
    },
}

/// What a [`Write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The patch was applied.
    Updated,
    /// The increment was applied; the new value.
    Incremented(i64),
}

/// What [`Store::load_and_write`] did.
#[derive(Debug)]
pub struct LoadWrite {
    /// What the load found. When the write was applied, the live session as it
    /// is after the write (data, version, last use).
    pub lookup: Lookup,
    /// `None`: the write was not attempted — the session is not live, its
    /// device is not exactly the request's, or the store cannot combine the
    /// two. `Some(Err(_))`: the write was refused (`Conflict`, `DataTooLarge`,
    /// `NotAnInteger`) and nothing but the load's touch was written.
    pub write: Option<Result<Written>>,
}

/// What a cleanup pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CleanupReport {
    /// Records examined.
    pub scanned: u64,
    /// Records removed (expired sessions and tombstones past their time).
    pub deleted: u64,
    /// Live sessions this pass found expired and ended, for reporting.
    pub expired: Vec<EndedSession>,
    /// Time the pass took.
    pub duration: Duration,
}

/// A session store. See the module docs for the invariants.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts `session` (its id is new) and, for a user with a cap, drops
    /// expired index entries, then evicts the user's least recently created
    /// sessions or fails with `Error::LimitReached`, all in one atomic step.
    async fn create(
        &self,
        session: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome>;

    /// Looks a session up; with [`LoadMode::Touch`] records a use when due. An
    /// expired live session is ended here and returned as `just_ended`.
    async fn load(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Result<Lookup>;

    /// A load with [`LoadMode::Touch`] and, in the same atomic step, `write`
    /// (with `update`'s or `increment`'s rules and errors) — applied only when
    /// the session is live and its device equals `device` exactly. See
    /// [`LoadWrite`] for what comes back.
    ///
    /// The default loads and never writes (`write: None`): the manager then
    /// checks the device and makes the write as a second call. A networked
    /// store overrides it to save that round trip.
    ///
    /// # Errors
    /// The load's errors (`StoreUnavailable`, `Corrupt`, ...); the write's own
    /// refusals are in [`LoadWrite::write`].
    async fn load_and_write(
        &self,
        id: &SessionId,
        device: &DeviceInfo,
        write: Write<'_>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<LoadWrite> {
        let _ = (device, write, max_data_size);
        Ok(LoadWrite {
            lookup: self.load(id, LoadMode::Touch, t).await?,
            write: None,
        })
    }

    /// Applies `patch` to a live session, checking `expected_version` and the
    /// size limit atomically; returns the updated session. Fails with
    /// `Conflict`, `DataTooLarge`, `Ended` or `NotFound`.
    async fn update(
        &self,
        id: &SessionId,
        patch: &Patch,
        expected_version: Option<u64>,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<SessionRecord>;

    /// Adds `delta` to the integer at `key` (absent counts as 0) atomically and
    /// returns the new value. Fails with `NotAnInteger` for any other value or
    /// on overflow.
    async fn increment(
        &self,
        id: &SessionId,
        key: &str,
        delta: i64,
        max_data_size: usize,
        t: &Timing,
    ) -> Result<i64>;

    /// Moves a live session to a new id, leaving a `Rotated` tombstone that
    /// names the successor; of two concurrent rotations of one session exactly
    /// one succeeds, the other fails with `Ended { reason: Rotated }`.
    async fn rotate(&self, rotation: &Rotation, t: &Timing) -> Result<CreateOutcome>;

    /// Ends a live session. `None` when it was not live (already ended,
    /// expired, or unknown).
    async fn end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>>;

    /// The user's live sessions, oldest first.
    async fn list_user(&self, user: &UserId, t: &Timing) -> Result<Vec<SessionRecord>>;

    /// Ends all the user's live sessions except `except`; returns the ended ids.
    async fn end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>>;

    /// Replaces the DBSC state of a live, unexpired session by `new` if it
    /// is still `expected` (`None`: the session has none), in one atomic
    /// step; `Ok(false)` when it is not (someone else changed it first).
    /// Nothing else in the record changes: not the data, not the version,
    /// not the last use. Stores compare the states as
    /// [`DbscState::encode`] writes them.
    ///
    /// This is what makes a DBSC challenge single-use across processes
    /// sharing the store, and a registration happen once.
    ///
    /// The default refuses every swap: a store that does not override it
    /// cannot hold DBSC registrations (sesame's own stores all do).
    ///
    /// # Errors
    /// `NotFound`, `Ended` (also for a session past its expiry),
    /// `StoreUnavailable`; `Config` from the default.
    async fn swap_dbsc(
        &self,
        id: &SessionId,
        expected: Option<&DbscState>,
        new: Option<&DbscState>,
        t: &Timing,
    ) -> Result<bool> {
        let _ = (id, expected, new, t);
        Err(crate::Error::Config(
            "this session store cannot keep DBSC registrations".into(),
        ))
    }

    /// Ends expired sessions and purges tombstones past their time, touching
    /// at most `batch_size` records per statement or lock hold.
    async fn cleanup(&self, t: &Timing, batch_size: usize) -> Result<CleanupReport>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<()>;

    /// Releases the store's connections, after the last request: a server
    /// calls it on shutdown through its `dyn Store`. Later operations fail
    /// with `Error::StoreUnavailable`. The default does nothing — a store
    /// whose connections close when it is dropped needs no more.
    async fn close(&self) {}
}
