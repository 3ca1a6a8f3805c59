//! IP networks: one [`IpCidr`] type for everything that compares client
//! addresses by prefix — device binding ([`IpBinding::Prefix`](crate::IpBinding)),
//! sesame-tower's trusted proxies, and the token-guessing guard of
//! `sesame serve`.
//!
//! Why one type: three hand-written variants used to disagree on one point
//! that matters. A dual-stack socket reports an IPv4 client as the
//! IPv4-mapped IPv6 address `::ffff:10.0.0.1`; unless that is read as
//! `10.0.0.1`, the same client is a different address depending on how the
//! socket was opened, and an IPv4 network never contains it. Every address
//! is therefore canonicalised ([`IpAddr::to_canonical`]) before it is stored
//! or compared, and a network's host bits are cleared, so two networks are
//! equal (and hash alike) exactly when they contain the same addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP network: an address and a prefix length (`10.0.0.0/8`,
/// `2001:db8::/32`), or one host (`/32`, `/128`).
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are IPv4 here: the
/// network `::ffff:10.0.0.0/104` is `10.0.0.0/8`, and `10.0.0.0/8`
/// contains `::ffff:10.1.2.3`.
///
/// # Examples
///
/// ```
/// use sesame::net::IpCidr;
///
/// let net: IpCidr = "10.0.0.0/8".parse().unwrap();
/// assert!(net.contains("10.9.8.7".parse().unwrap()));
/// assert!(net.contains("::ffff:10.9.8.7".parse().unwrap()));
/// assert!(!net.contains("11.0.0.1".parse().unwrap()));
///
/// // The /64 a client's IPv6 address is in.
/// let ip = "2001:db8:1:2:aaaa::1".parse().unwrap();
/// assert_eq!(IpCidr::of(ip, 32, 64).to_string(), "2001:db8:1:2::/64");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpCidr {
    addr: IpAddr,
    prefix: u8,
}

/// A network that does not parse or whose prefix is too long for its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCidr;

impl fmt::Display for InvalidCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid CIDR network")
    }
}

impl std::error::Error for InvalidCidr {}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

/// `ip` with every bit after the first `prefix` cleared.
fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from_bits(v4.to_bits() & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & mask))
        }
    }
}

impl IpCidr {
    /// The network of `addr` with `prefix` bits.
    ///
    /// An IPv4-mapped IPv6 address with a prefix of at least 96 bits is the
    /// IPv4 network of the remaining bits. Host bits are cleared.
    ///
    /// # Errors
    ///
    /// [`InvalidCidr`] when `prefix` is over 32 (IPv4) or 128 (IPv6), or an
    /// IPv4-mapped address has a prefix under 96 (the network would mix
    /// IPv4 and IPv6 addresses).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, InvalidCidr> {
        if prefix > max_prefix(addr) {
            return Err(InvalidCidr);
        }
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
                Some(_) => return Err(InvalidCidr),
                None => (addr, prefix),
            },
            v4 => (v4, prefix),
        };
        Ok(Self {
            addr: masked(addr, prefix),
            prefix,
        })
    }

    /// The one-address network of `ip` (`/32` or `/128`).
    pub fn host(ip: IpAddr) -> Self {
        let ip = ip.to_canonical();
        Self {
            addr: ip,
            prefix: max_prefix(ip),
        }
    }

    /// The network around `ip`: its first `v4_bits` bits for an IPv4 address,
    /// `v6_bits` for an IPv6 one (each capped at the family's length). This is
    /// how a client is grouped: an IPv6 host usually owns a whole /64.
    pub fn of(ip: IpAddr, v4_bits: u8, v6_bits: u8) -> Self {
        let ip = ip.to_canonical();
        let prefix = match ip {
            IpAddr::V4(_) => v4_bits.min(32),
            IpAddr::V6(_) => v6_bits.min(128),
        };
        Self {
            addr: masked(ip, prefix),
            prefix,
        }
    }

    /// The network's first address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this network. An address of the other family never is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && masked(ip, self.prefix) == self.addr
    }
}

impl FromStr for IpCidr {
    type Err = InvalidCidr;

    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (one host).
    fn from_str(s: &str) -> Result<Self, InvalidCidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| InvalidCidr)?;
        match prefix {
            // Digits only: `u8::from_str` would take a leading `+`.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                Self::new(addr, p.parse().map_err(|_| InvalidCidr)?)
            }
            Some(_) => Err(InvalidCidr),
            None => Ok(Self::host(addr)),
        }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpCidr {
        s.parse().unwrap()
    }

    #[test]
    fn contains_by_prefix_within_one_family() {
        assert!(net("10.0.0.0/8").contains(ip("10.9.8.7")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("2001:db8::/32").contains(ip("2001:db8:1::5")));
        assert!(!net("2001:db8::/32").contains(ip("2001:db9::5")));
        assert!(!net("2001:db8::/32").contains(ip("10.0.0.1")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(net("::/0").contains(ip("2001:db8::1")));
        assert!(net("192.0.2.7").contains(ip("192.0.2.7")));
        assert!(!net("192.0.2.7").contains(ip("192.0.2.8")));
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        // A mapped client is inside the IPv4 network...
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.1.1.1")));
        assert!(net("10.1.1.1").contains(ip("::ffff:10.1.1.1")));
        // ...a mapped network is the IPv4 one...
        assert_eq!(net("::ffff:10.0.0.0/104"), net("10.0.0.0/8"));
        assert_eq!(net("::ffff:10.1.1.1"), net("10.1.1.1/32"));
        assert!(net("::ffff:10.0.0.0/104").contains(ip("10.200.0.1")));
        // ...a mapped prefix that would mix the families is refused...
        assert_eq!("::ffff:0.0.0.0/95".parse::<IpCidr>(), Err(InvalidCidr));
        // ...and grouping reads a mapped address as IPv4.
        assert_eq!(
            IpCidr::of(ip("::ffff:10.0.0.1"), 32, 64),
            net("10.0.0.1/32")
        );
        assert_eq!(
            IpCidr::of(ip("::ffff:10.0.0.1"), 24, 64),
            net("10.0.0.0/24")
        );
        assert_eq!(IpCidr::host(ip("::ffff:10.0.0.1")), net("10.0.0.1"));
        // Not mapped: `::10.0.0.1` (IPv4-compatible, deprecated) stays IPv6.
        assert!(!net("10.0.0.0/8").contains(ip("::10.0.0.1")));
    }

    #[test]
    fn host_bits_are_cleared_so_equal_networks_are_equal() {
        assert_eq!(net("10.1.2.3/8"), net("10.0.0.0/8"));
        assert_eq!(net("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(
            IpCidr::of(ip("2001:db8:1:2:aaaa::1"), 32, 64),
            IpCidr::of(ip("2001:db8:1:2:bbbb::9"), 32, 64)
        );
        assert_ne!(
            IpCidr::of(ip("2001:db8:1:2::1"), 32, 64),
            IpCidr::of(ip("2001:db8:1:3::1"), 32, 64)
        );
        assert_eq!(IpCidr::of(ip("10.1.2.3"), 0, 0).to_string(), "0.0.0.0/0");
        // Bits past the family's length are capped.
        assert_eq!(IpCidr::of(ip("10.1.2.3"), 200, 200).prefix(), 32);
    }

    #[test]
    fn bad_networks_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "nonsense",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "",
        ] {
            assert_eq!(bad.parse::<IpCidr>(), Err(InvalidCidr), "{bad:?}");
        }
        assert_eq!(IpCidr::new(ip("10.0.0.0"), 33), Err(InvalidCidr));
    }
}
