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
pub mod dbsc;
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
/// When it is unset, [`skip`]s the test (`None`: the test returns without
/// running), which fails it under `SESAME_REQUIRE_SERVICES=1` so that CI
/// cannot skip a store silently.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip(&format!(
                "{var} is not set; set it to run this test against the service"
            ));
            None
        }
    }
}

/// The environment variable naming the file where skipped tests are
/// recorded (`scripts/test.sh` sets it and lists the file at the end).
pub const SKIP_LOG_VAR: &str = "SESAME_SKIP_LOG";

/// Says that the calling test cannot run here, and why; the test then
/// returns without running.
///
/// Under `SESAME_REQUIRE_SERVICES=1` (CI) it panics instead: nothing is
/// skipped silently there. Otherwise it prints `SKIPPED: <reason>` on stderr
/// and, when [`SKIP_LOG_VAR`] names a file, appends a line
/// `<test binary> <test>: <reason>` to it — the test harness hides a passing
/// test's stderr, so that file is how `scripts/test.sh` can say what did not
/// run.
///
/// # Panics
/// Under `SESAME_REQUIRE_SERVICES=1`, always.
pub fn skip(reason: &str) {
    assert!(
        std::env::var("SESAME_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "SESAME_REQUIRE_SERVICES=1 and this test cannot run: {reason}"
    );
    eprintln!("SKIPPED: {reason}");
    if let Some(log) = std::env::var_os(SKIP_LOG_VAR).filter(|v| !v.is_empty()) {
        record_skip(std::path::Path::new(&log), reason);
    }
}

/// Appends the skip to `log` (one `write` of one line, with `O_APPEND`, so
/// concurrent tests do not interleave). A log that cannot be written is
/// reported on stderr and otherwise ignored: the skip itself is already said.
fn record_skip(log: &std::path::Path, reason: &str) {
    use std::io::Write as _;
    // The test harness names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    // `target/debug/deps/postgres-0123abcd` → `postgres`.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
            _ => stem,
        })
        .unwrap_or_else(|| "?".into());
    let line = format!("{binary} {test}: {}\n", reason.replace('\n', " "));
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot record the skip in {}: {e}", log.display());
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

    /// The timing the manager passes to its store now (for calling store
    /// operations directly).
    pub fn manager_timing(&self) -> crate::store::Timing {
        let policy = self.manager.policy();
        crate::store::Timing {
            now: self.manager.now(),
            idle_timeout: policy.idle_timeout(),
            touch_interval: policy.touch_interval(),
            tombstone_ttl: policy.tombstone_ttl(),
        }
    }

    /// Creates a session for `user` (or anonymous) with no data.
    pub async fn create(&self, user: Option<&str>) -> Created {
        self.manager
            .create(user, Default::default(), self.device.clone())
            .await
            .expect("create")
    }
}

/// Runs the DBSC conformance cases ([`dbsc`]: `Store::swap_dbsc` and the
/// DBSC state's life with the session) as `#[tokio::test]`s, with the same
/// factory as [`store_conformance_tests!`].
#[macro_export]
macro_rules! store_dbsc_conformance_tests {
    ($factory:expr) => {
        $crate::store_dbsc_conformance_tests!(@cases $factory;
            dbsc_swap_is_compare_and_set,
            dbsc_state_survives_rotation,
            dbsc_challenges_are_single_use,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let factory = $factory;
                let Some(store) = factory().await else { return };
                $crate::testing::dbsc::$case(::std::sync::Arc::new(store)).await;
            }
        )+
    };
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_skip_is_recorded_with_its_test_and_reason() {
        let log = std::env::temp_dir().join(format!("sesame-skips-{}.txt", super::unique_suffix()));
        super::record_skip(&log, "needs a\nservice");
        super::record_skip(&log, "again");
        let text = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_file(&log).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        // `sesame testing::tests::a_skip_...: needs a service` (binary, test, reason).
        assert!(
            lines[0].starts_with(
                "sesame testing::tests::a_skip_is_recorded_with_its_test_and_reason: "
            ),
            "{text}"
        );
        assert!(lines[0].ends_with(": needs a service"), "{text}");
        assert!(lines[1].ends_with(": again"), "{text}");
    }
}
