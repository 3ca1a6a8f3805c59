//! The store conformance suite (feature `testing`).
//!
//! Every store runs the same cases, so "works on memory" means "works on
//! Redis". A store crate runs them all with one macro:
//!
//! ```text
//! sesame::store_conformance_tests!(|| async { Some(MyStore::connect(...).await.unwrap()) });
//! ```
//!
//! The factory returns a fresh store (its own key prefix, schema or database)
//! for each case, or `None` when its service is not configured — see
//! [`service_url`]. Each case drives the store through a [`Manager`] on a
//! [`ManualClock`], so expiry is tested by moving time, never by sleeping. The
//! concurrent cases (200 creates against a cap of 5, 50 × 100 patches,
//! 50 × 100 increments, racing rotations, 600 combined loads and writes) run
//! on a multi-threaded runtime. Two more cases record histories of random
//! concurrent operations on single sessions — one clean, one with calls
//! abandoned mid-flight — and check them with the [`linearizability`]
//! checker; `store_history_tests!` adds the histories of every operation
//! (binding caps, "log out everywhere") for stores that do those in one
//! atomic step.

pub mod cases;
mod combined;
mod concurrency;
pub mod errors;
mod histories;
pub mod linearizability;

use std::sync::Arc;

use crate::clock::ManualClock;
use crate::device::DeviceInfo;
use crate::events::RecordingSink;
use crate::policy::Policy;
use crate::store::Store;
use crate::{Created, Manager};

#[doc(hidden)]
pub use tokio;

/// The URL of a test service from the environment variable `var`.
///
/// When it is unset, says so on stderr and returns `None` (the test passes
/// without running), unless `SESAME_REQUIRE_SERVICES=1`, when it panics so
/// that CI cannot skip a store silently.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("SESAME_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{var} is not set and SESAME_REQUIRE_SERVICES=1: this test needs it");
            }
            eprintln!("SKIPPED: {var} is not set; set it to run this test against the service");
            None
        }
    }
}

/// A unique, short suffix for key prefixes, schema names and user ids.
pub fn unique_suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("OS random number generator");
    hex::encode(bytes)
}

/// A manager on a manual clock over one store, recording events.
pub struct Harness {
    /// The manager under test.
    pub manager: Manager,
    /// Its clock; move it to expire sessions.
    pub clock: ManualClock,
    /// Every event the manager reported.
    pub events: Arc<RecordingSink>,
    /// A user id unique to this harness.
    pub user: String,
    /// The device sessions are created with.
    pub device: DeviceInfo,
}

impl Harness {
    /// A harness over `store` with `policy`.
    pub fn new(store: Arc<dyn Store>, policy: Policy) -> Self {
        let clock = ManualClock::starting_now();
        let manager = Manager::with_clock(store, policy, Arc::new(clock.clone()))
            .expect("the conformance policies are valid");
        let events = Arc::new(RecordingSink::new());
        manager.subscribe(events.clone());
        Self {
            manager,
            clock,
            events,
            user: format!("user-{}", unique_suffix()),
            device: DeviceInfo::default()
                .with_user_agent("conformance/1.0")
                .with_ip("192.0.2.10".parse().expect("literal IP")),
        }
    }

    /// Another user id unique to this harness.
    pub fn other_user(&self, n: usize) -> String {
        format!("{}-{n}", self.user)
    }

    /// The ids of the harness user's live sessions, oldest first.
    pub async fn listed_ids(&self) -> Vec<crate::SessionId> {
        let sessions = self.manager.list_user(&self.user).await.expect("list");
        sessions.iter().map(|s| s.id).collect()
    }

    /// Loads the session of `token` from the harness device; it must be live.
    pub async fn session(&self, token: &crate::SessionToken) -> crate::SessionRecord {
        let loaded = self.manager.load(token.expose(), &self.device).await;
        loaded.expect("a live session").session
    }

    /// Creates a session for `user` (or anonymous) with no data.
    pub async fn create(&self, user: Option<&str>) -> Created {
        self.manager
            .create(user, Default::default(), self.device.clone())
            .await
            .expect("create")
    }
}

/// Runs every conformance case as its own `#[tokio::test]`.
///
/// `$factory` is a closure returning a future of `Option<S>` where `S:
/// Store`: a fresh store per case, or `None` to skip (service not set). The
/// calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as a
/// dev-dependency.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@cases $factory;
            create_and_load,
            anonymous_sessions_have_no_user,
            unknown_token_is_not_found,
            load_touches_only_after_the_touch_interval,
            idle_timeout_ends_the_session_once,
            absolute_lifetime_ends_even_an_active_session,
            tombstone_keeps_the_reason_until_purged,
            patch_sets_and_removes_keys_and_bumps_version,
            stale_compare_and_set_is_a_conflict,
            oversized_data_is_refused_and_nothing_changes,
            increment_counts_and_refuses_non_integers,
            login_rotates_and_kills_the_old_token,
            rotation_grace_and_token_reuse,
            renewal_replaces_the_token_with_grace,
            logout_ends_once,
            list_and_revoke_a_users_sessions,
            end_one_session_by_id,
            cap_evicts_the_oldest,
            cap_rejects_new_when_configured,
            login_into_a_capped_user_evicts,
            expired_sessions_leave_the_user_index,
            cleanup_reports_each_expiry_once_and_purges,
            device_mismatch_destroys_or_flags,
            inspect_reports_without_touching,
            concurrent_creates_respect_the_cap,
            concurrent_creates_with_reject_new_admit_exactly_the_cap,
            concurrent_patches_to_distinct_keys_lose_nothing,
            concurrent_increments_lose_nothing,
            concurrent_modify_loses_nothing,
            concurrent_rotations_have_one_winner,
            load_and_write_writes_with_the_load,
            load_and_write_refuses_what_load_refuses,
            concurrent_load_and_writes_lose_nothing,
            single_session_histories_are_linearizable,
            single_session_histories_with_abandoned_calls_are_linearizable,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $crate::store_cases!($factory; $($case),+);
    };
}

/// The history cases of every operation — binding caps, "log out
/// everywhere" — for a store whose cap and per-user operations are one
/// atomic step (memory, SQL, standalone Redis). Redis Cluster and Memcached
/// run them in several steps and document what that allows; they run only
/// the single-session histories of [`store_conformance_tests!`].
#[macro_export]
macro_rules! store_history_tests {
    ($factory:expr) => {
        $crate::store_cases!($factory;
            histories_are_linearizable,
            histories_with_abandoned_calls_are_linearizable,
        );
    };
}

/// One `#[tokio::test]` per named case of `sesame::testing::cases`.
#[doc(hidden)]
#[macro_export]
macro_rules! store_cases {
    ($factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let factory = $factory;
                let Some(store) = factory().await else { return };
                $crate::testing::cases::$case(::std::sync::Arc::new(store)).await;
            }
        )+
    };
}
