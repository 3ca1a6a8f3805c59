//! The one CAS-retry driver of the store.
//!
//! Every change in Memcached is a read (`gets`) and a `cas` that fails when
//! another writer got there first. Each operation is written as one attempt
//! (`*_once`: read, decide, write) that says what happened — [`Attempt`] —
//! and [`retry`] repeats it, backing off with jitter between lost races, up
//! to the configured number of attempts; then the operation fails with
//! `StoreUnavailable` ([`Contention`]). It is sesame-sql's `*_once` + `run`
//! pattern. What an attempt learned and the next one needs (an item already
//! read, sessions already ended, a lock now held) travels in the attempt's
//! state `S`, by value, so attempts borrow nothing from each other.

use std::future::Future;
use std::time::Duration;

use sesame::{Error, Result};

/// What one attempt of a CAS operation came to.
pub(crate) enum Attempt<S, T> {
    /// Finished, with its answer.
    Done(T),
    /// Another writer's `cas` won: back off, then try again from `S`.
    Lost(S),
    /// Another writer's `cas` won, and this one now waits its turn behind a
    /// local lock: try again from `S` at once.
    Queued(S),
}

/// The refusal after every attempt lost its race.
#[derive(Debug, thiserror::Error)]
#[error("memcached: CAS retries exhausted under contention")]
pub(crate) struct Contention;

/// `Error::StoreUnavailable` for [`Contention`].
pub(crate) fn contention() -> Error {
    Error::unavailable(Contention)
}

/// Whether `e` says that every attempt lost its race.
pub(crate) fn is_contention(e: &Error) -> bool {
    matches!(e, Error::StoreUnavailable(source) if source.is::<Contention>())
}

/// Runs `attempt` from `state` until it is done, at most `attempts` times.
///
/// # Errors
/// The first error an attempt returns, or [`contention`] when every attempt
/// lost its race.
pub(crate) async fn retry<S, T, F, Fut>(attempts: u32, mut state: S, mut attempt: F) -> Result<T>
where
    F: FnMut(S) -> Fut,
    Fut: Future<Output = Result<Attempt<S, T>>>,
{
    for n in 0..attempts {
        state = match attempt(state).await? {
            Attempt::Done(value) => return Ok(value),
            Attempt::Lost(next) => {
                backoff(n).await;
                next
            }
            Attempt::Queued(next) => next,
        };
    }
    Err(contention())
}

/// A short random wait that grows with the attempt number (20 µs plus up to
/// 50 µs × 2^attempt, capped at attempt 8), so racing writers spread out.
async fn backoff(attempt: u32) {
    let cap_micros = 50u64 << attempt.min(8);
    let jitter = u64::from(getrandom::u32().unwrap_or(7)) % cap_micros;
    tokio::time::sleep(Duration::from_micros(20 + jitter)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_lost_races_until_done_and_carries_the_state() {
        let got = retry(10, 0u32, |tries| async move {
            Ok(if tries < 3 {
                Attempt::Lost(tries + 1)
            } else {
                Attempt::Done(tries)
            })
        })
        .await
        .unwrap();
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn gives_up_with_contention_and_stops_at_an_error() {
        let mut calls = 0;
        let lost = retry(4, (), |()| {
            calls += 1;
            async { Ok(Attempt::<(), ()>::Queued(())) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 4);
        assert!(is_contention(&lost));
        let failed = retry(4, (), |()| async {
            Err::<Attempt<(), ()>, _>(Error::NotFound)
        })
        .await
        .unwrap_err();
        assert!(matches!(failed, Error::NotFound));
        assert!(!is_contention(&failed));
    }
}
