//! Detecting session-token guessing: too many invalid session credentials
//! from one caller within a window block that caller's *invalid* credentials
//! for a while.
//!
//! OWASP asks a session manager to detect session-ID guessing and brute
//! force. Guessing a 256-bit token is hopeless, so the point is detection and
//! a clear signal: a caller that keeps presenting tokens or cookies that name
//! no session (malformed, forged, or well-formed but unknown — the API's 401
//! `invalid`) gets 429 `too_many_invalid_tokens` with `Retry-After` instead
//! of 401 for `guard.block`; the block is counted in
//! `sesame_invalid_token_blocks_total` and logged once at warn level (the API
//! key's name, the address and the count, never a token).
//!
//! **Who the caller is.** `sesame serve` is called by app servers relaying
//! their users' credentials, so the TCP peer is the app server and says
//! nothing about who guesses (counting by peer let one visitor's junk cookies
//! lock out every user of the app: issue 16). A caller is therefore the pair
//! ([`Caller`]) of the authenticated API key and the *end user's* address as
//! the app reports it — the `Sesame-Device-Ip` header or the body's
//! `device.ip` — or the API key alone when the app sends no address. IPv6
//! addresses are grouped by their /64 (one host usually owns a whole /64),
//! through [`sesame::IpCidr`], which reads an IPv4-mapped address as IPv4.
//!
//! **Never a lockout.** Only an *invalid* credential is answered 429: the
//! guard looks at a request after the engine has refused it, so a live,
//! valid session validates whatever other callers did, even from a blocked
//! caller. A caller holding an API key can report any address it likes, so
//! the guard flags guessing relayed through an honest app; it is no defence
//! against a stolen API key (revoke that key).
//!
//! Windows are fixed (counting starts at the first invalid credential and
//! resets `guard.window` later) and time comes from the server's clock, so
//! tests can move it. Memory is bounded: at most `guard.max_tracked` callers
//! are tracked; expired entries are swept once per window, and when the table
//! is full of live entries a new caller is not tracked (logged at debug
//! level) rather than evicting one that may be blocked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use sesame::IpCidr;

use crate::config::GuardConfig;

/// Who presented an invalid credential: an API key and, when the app sent
/// one, the end user's address (grouped: IPv4 as is, IPv6 by its /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Caller {
    /// SHA-256 of the API key (what the config holds).
    key: [u8; 32],
    /// The end user's network, if the app reported an address.
    client: Option<IpCidr>,
}

impl Caller {
    /// The caller of API key `key_hash` for the end user at `ip`, if known.
    pub fn new(key_hash: [u8; 32], ip: Option<IpAddr>) -> Self {
        Self {
            key: key_hash,
            client: ip.map(|ip| IpCidr::of(ip, 32, 64)),
        }
    }

    /// The end user's network, if the app reported an address.
    pub fn client(&self) -> Option<IpCidr> {
        self.client
    }
}

/// A response extension: the end user's address a handler read from the
/// request body (`device.ip`), for the guard; it wins over the
/// `Sesame-Device-Ip` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedIp(pub IpAddr);

/// Counts of invalid session credentials per [`Caller`].
#[derive(Debug)]
pub struct ProbeGuard {
    max_invalid: u32,
    window: u64,
    block: u64,
    max_tracked: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    callers: HashMap<Caller, Counts>,
    last_sweep: u64,
}

#[derive(Debug, Clone, Copy)]
struct Counts {
    window_start: u64,
    count: u32,
    blocked_until: u64,
}

/// A caller whose invalid credentials are answered 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// Seconds until the block ends (`Retry-After`).
    pub retry_after: u64,
    /// True when this credential started the block (log it, count it).
    pub started: bool,
    /// Invalid credentials counted in the window that started the block.
    pub count: u32,
}

impl ProbeGuard {
    /// A guard with the configured thresholds; `max_invalid = 0` turns it off.
    pub fn new(config: &GuardConfig) -> Self {
        Self {
            max_invalid: config.max_invalid,
            window: config.window.0.as_secs().max(1),
            block: config.block.0.as_secs().max(1),
            max_tracked: config.max_tracked,
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

    /// Counts one invalid credential of `caller` at `now` (unix seconds).
    /// `Some` when the caller is blocked — by this credential (it was one
    /// over `max_invalid` in the window) or still by an earlier block, which
    /// this one does not extend.
    pub fn record_invalid(&self, caller: Caller, now: u64) -> Option<Blocked> {
        if !self.enabled() {
            return None;
        }
        let mut table = self.lock();
        if now >= table.last_sweep + self.window {
            let window = self.window;
            table
                .callers
                .retain(|_, c| c.blocked_until > now || now < c.window_start + window);
            table.last_sweep = now;
        }
        if !table.callers.contains_key(&caller) && table.callers.len() >= self.max_tracked {
            tracing::debug!("probe guard table full: a caller is not tracked");
            return None;
        }
        let counts = table.callers.entry(caller).or_insert(Counts {
            window_start: now,
            count: 0,
            blocked_until: 0,
        });
        if counts.blocked_until > now {
            return Some(Blocked {
                retry_after: counts.blocked_until - now,
                started: false,
                count: counts.count,
            });
        }
        if now >= counts.window_start + self.window {
            counts.window_start = now;
            counts.count = 0;
        }
        counts.count = counts.count.saturating_add(1);
        if counts.count <= self.max_invalid {
            return None;
        }
        let count = counts.count;
        counts.blocked_until = now + self.block;
        // A new window starts when the block ends.
        counts.window_start = counts.blocked_until;
        counts.count = 0;
        Some(Blocked {
            retry_after: self.block,
            started: true,
            count,
        })
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

    const KEY: [u8; 32] = [1; 32];
    const OTHER_KEY: [u8; 32] = [2; 32];

    fn at(ip: &str) -> Caller {
        Caller::new(KEY, Some(ip.parse().unwrap()))
    }

    fn started(retry_after: u64, count: u32) -> Option<Blocked> {
        Some(Blocked {
            retry_after,
            started: true,
            count,
        })
    }

    #[test]
    fn blocks_past_the_threshold_for_the_block_time() {
        let g = guard(3, 100);
        let (a, b) = (at("10.0.0.1"), at("10.0.0.2"));
        for _ in 0..3 {
            assert_eq!(g.record_invalid(a, 1000), None);
        }
        assert_eq!(g.record_invalid(a, 1001), started(300, 4));
        assert_eq!(g.record_invalid(b, 1001), None, "another address");
        // Invalid credentials while blocked start no second block and do
        // not extend this one.
        let still = g.record_invalid(a, 1100).unwrap();
        assert_eq!((still.retry_after, still.started), (201, false));
        assert_eq!(g.record_invalid(a, 1300).map(|b| b.retry_after), Some(1));
        assert_eq!(
            g.record_invalid(a, 1301),
            None,
            "block over, counting again"
        );
    }

    #[test]
    fn callers_are_api_key_and_address_or_the_key_alone() {
        let g = guard(1, 100);
        let ip = "10.0.0.1".parse().unwrap();
        let keyed = Caller::new(KEY, None);
        g.record_invalid(keyed, 1000);
        assert!(g.record_invalid(keyed, 1000).unwrap().started);
        // The same key with an address, and the same address through
        // another key, are other callers.
        assert_eq!(g.record_invalid(Caller::new(KEY, Some(ip)), 1000), None);
        assert_eq!(
            g.record_invalid(Caller::new(OTHER_KEY, Some(ip)), 1000),
            None
        );
        assert_eq!(g.record_invalid(Caller::new(OTHER_KEY, None), 1000), None);
    }

    #[test]
    fn the_window_resets_the_count() {
        let g = guard(3, 100);
        let a = at("10.0.0.1");
        for t in [0, 10, 20] {
            assert_eq!(g.record_invalid(a, 1000 + t), None);
        }
        // 60 s after the first: a new window.
        for t in [60, 61, 62] {
            assert_eq!(g.record_invalid(a, 1000 + t), None);
        }
        assert!(g.record_invalid(a, 1063).is_some());
    }

    #[test]
    fn memory_is_bounded_and_expired_entries_are_swept() {
        let g = guard(3, 2);
        g.record_invalid(at("10.0.0.1"), 1000);
        g.record_invalid(at("10.0.0.2"), 1000);
        let c = at("10.0.0.3");
        for _ in 0..10 {
            assert_eq!(g.record_invalid(c, 1000), None, "not tracked: table full");
        }
        assert_eq!(g.lock().callers.len(), 2);
        // A window later the old entries are swept and C is tracked.
        for _ in 0..3 {
            assert_eq!(g.record_invalid(c, 1060), None);
        }
        assert!(g.record_invalid(c, 1060).is_some());
        assert_eq!(g.lock().callers.len(), 1);
    }

    #[test]
    fn off_when_max_invalid_is_zero() {
        let g = guard(0, 100);
        for _ in 0..100 {
            assert_eq!(g.record_invalid(at("10.0.0.1"), 1000), None);
        }
        assert!(g.lock().callers.is_empty());
    }

    #[test]
    fn ipv6_counts_by_slash_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(at("2001:db8:1:2:aaaa::1"), at("2001:db8:1:2:bbbb::9"));
        assert_ne!(at("2001:db8:1:2::1"), at("2001:db8:1:3::1"));
        assert_eq!(at("::ffff:10.0.0.1"), at("10.0.0.1"));
        assert_ne!(at("10.0.0.1"), at("10.0.0.2"));
        assert_eq!(
            at("2001:db8:1:2::1").client().unwrap().to_string(),
            "2001:db8:1:2::/64"
        );
    }
}
