//! Detecting session-token guessing: too many invalid session credentials
//! from one client address within a window block that address for a while.
//!
//! OWASP asks a session manager to detect session-ID guessing and brute
//! force. Guessing a 256-bit token is hopeless, so the point is detection and
//! cost: a client that keeps presenting tokens or cookies that name no
//! session (malformed, forged, or well-formed but unknown — the API's 401
//! `invalid`) is answered 429 `too_many_invalid_tokens` with `Retry-After`
//! for `guard.block`, the block is counted in `sesame_invalid_token_blocks_total`
//! and logged once at warn level (the address and the count, never a token).
//!
//! The client is the TCP peer address (the server has no trusted-proxy
//! setting yet), read from axum's `ConnectInfo`, which
//! [`crate::server::start`] provides; a router served without it counts
//! nothing. IPv6 addresses are grouped by their /64, since one host
//! usually owns a whole /64. Only requests that carry a session credential
//! are counted or blocked: a blocked address can still create sessions and
//! call the admin API.
//!
//! Windows are fixed (counting starts at the first invalid credential and
//! resets `guard.window` later) and time comes from the server's clock, so
//! tests can move it. Memory is bounded: at most `guard.max_tracked`
//! addresses are tracked; expired entries are swept once per window, and
//! when the table is full of live entries a new address is not tracked (and
//! that is counted in the log at debug level) rather than evicting one that
//! may be blocked.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::GuardConfig;

/// Per-address counts of invalid session credentials.
#[derive(Debug)]
pub struct ProbeGuard {
    max_invalid: u32,
    window: u64,
    block: u64,
    max_tracked: usize,
    /// Mirrors the table's size, so the common case (nobody tracked) takes
    /// no lock.
    tracked: AtomicUsize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    clients: HashMap<IpAddr, Client>,
    last_sweep: u64,
}

#[derive(Debug, Clone, Copy)]
struct Client {
    window_start: u64,
    count: u32,
    blocked_until: u64,
}

/// A block that an invalid credential has just started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewBlock {
    /// The (grouped) client address.
    pub client: IpAddr,
    /// Invalid credentials counted in the window.
    pub count: u32,
    /// Seconds the block lasts.
    pub block_secs: u64,
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64
/// (an IPv4-mapped IPv6 address counts as the IPv4 address).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

impl ProbeGuard {
    /// A guard with the configured thresholds; `max_invalid = 0` turns it off.
    pub fn new(config: &GuardConfig) -> Self {
        Self {
            max_invalid: config.max_invalid,
            window: config.window.0.as_secs().max(1),
            block: config.block.0.as_secs().max(1),
            max_tracked: config.max_tracked,
            tracked: AtomicUsize::new(0),
            table: Mutex::new(Table::default()),
        }
    }

    /// Whether the guard counts anything.
    pub fn enabled(&self) -> bool {
        self.max_invalid > 0 && self.max_tracked > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave a count inconsistent
        // in a way that matters; keep serving.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seconds until `ip` may present credentials again, if it is blocked.
    pub fn blocked(&self, ip: IpAddr, now: u64) -> Option<u64> {
        if !self.enabled() || self.tracked.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let table = self.lock();
        let client = table.clients.get(&client_key(ip))?;
        (client.blocked_until > now).then(|| client.blocked_until - now)
    }

    /// Counts one invalid credential from `ip`; returns the block it starts,
    /// if it is the one over the threshold.
    pub fn record_invalid(&self, ip: IpAddr, now: u64) -> Option<NewBlock> {
        if !self.enabled() {
            return None;
        }
        let key = client_key(ip);
        let mut table = self.lock();
        if now >= table.last_sweep.saturating_add(self.window) {
            table.last_sweep = now;
            let window = self.window;
            table
                .clients
                .retain(|_, c| c.blocked_until > now || now < c.window_start + window);
        }
        if !table.clients.contains_key(&key) && table.clients.len() >= self.max_tracked {
            tracing::debug!("probe guard table full: an address is not tracked");
            self.tracked.store(table.clients.len(), Ordering::Relaxed);
            return None;
        }
        let client = table.clients.entry(key).or_insert(Client {
            window_start: now,
            count: 0,
            blocked_until: 0,
        });
        let mut started = None;
        if client.blocked_until <= now {
            if now >= client.window_start + self.window {
                client.window_start = now;
                client.count = 0;
            }
            client.count = client.count.saturating_add(1);
            if client.count > self.max_invalid {
                client.blocked_until = now + self.block;
                started = Some(NewBlock {
                    client: key,
                    count: client.count,
                    block_secs: self.block,
                });
                // A new window starts when the block ends.
                client.window_start = client.blocked_until;
                client.count = 0;
            }
        }
        self.tracked.store(table.clients.len(), Ordering::Relaxed);
        started
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Dur;

    fn guard(max_invalid: u32, max_tracked: usize) -> ProbeGuard {
        ProbeGuard::new(&GuardConfig {
            max_invalid,
            window: Dur(Duration::from_secs(60)),
            block: Dur(Duration::from_secs(300)),
            max_tracked,
        })
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn blocks_past_the_threshold_for_the_block_time() {
        let g = guard(3, 100);
        for _ in 0..3 {
            assert_eq!(g.record_invalid(A, 1000), None);
        }
        assert_eq!(g.blocked(A, 1000), None);
        let block = g.record_invalid(A, 1001).unwrap();
        assert_eq!((block.count, block.block_secs), (4, 300));
        assert_eq!(g.blocked(A, 1001), Some(300));
        assert_eq!(g.blocked(B, 1001), None);
        // Invalid credentials while blocked start no second block.
        assert_eq!(g.record_invalid(A, 1002), None);
        assert_eq!(g.blocked(A, 1300), Some(1));
        assert_eq!(g.blocked(A, 1301), None);
    }

    #[test]
    fn the_window_resets_the_count() {
        let g = guard(3, 100);
        for t in [0, 10, 20] {
            assert_eq!(g.record_invalid(A, 1000 + t), None);
        }
        // 60 s after the first: a new window.
        for t in [60, 61, 62] {
            assert_eq!(g.record_invalid(A, 1000 + t), None);
        }
        assert!(g.record_invalid(A, 1063).is_some());
    }

    #[test]
    fn memory_is_bounded_and_expired_entries_are_swept() {
        let g = guard(3, 2);
        g.record_invalid(A, 1000);
        g.record_invalid(B, 1000);
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(g.record_invalid(c, 1000), None, "not tracked: table full");
        }
        assert_eq!(g.lock().clients.len(), 2);
        // A window later the old entries are swept and C is tracked.
        for _ in 0..3 {
            assert_eq!(g.record_invalid(c, 1060), None);
        }
        assert!(g.record_invalid(c, 1060).is_some());
        assert_eq!(g.lock().clients.len(), 1);
    }

    #[test]
    fn off_when_max_invalid_is_zero() {
        let g = guard(0, 100);
        for _ in 0..100 {
            assert_eq!(g.record_invalid(A, 1000), None);
        }
        assert_eq!(g.blocked(A, 1000), None);
    }

    #[test]
    fn ipv6_counts_by_slash_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_ne!(client_key(a), client_key(other));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(mapped), A);
    }
}
