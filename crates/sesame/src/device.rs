//! Device binding: tie a session to the client that created it.
//!
//! At creation the transport records what it knows of the client
//! ([`DeviceInfo`]); on every load the manager compares the properties the
//! policy's [`DeviceBinding`] names. A property the session was created without
//! is not checked; a bound property the request lacks is a mismatch.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::net::IpCidr;
use crate::policy::{PolicyError, PolicySetting};

/// What a transport knows of the client.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceInfo {
    /// The `User-Agent` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The client's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Client hints and other properties (e.g. `screen` = `1920x1080`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hints: BTreeMap<String, String>,
}

impl DeviceInfo {
    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        self.user_agent.is_none() && self.ip.is_none() && self.hints.is_empty()
    }

    /// Sets the user agent.
    pub fn with_user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// Sets the IP address.
    pub fn with_ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// Adds a client hint.
    pub fn with_hint(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.hints.insert(name.into(), value.into());
        self
    }
}

/// How the client's IP address is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpBinding {
    /// Not compared (mobile clients change networks).
    #[default]
    Off,
    /// The address must be identical.
    Exact,
    /// The address must share a prefix: `v4` bits for IPv4, `v6` bits for IPv6.
    Prefix {
        /// Prefix length for IPv4 (e.g. 24).
        v4: u8,
        /// Prefix length for IPv6 (e.g. 48).
        v6: u8,
    },
}

impl IpBinding {
    /// Checks the prefix lengths: at most 32 bits for IPv4, 128 for IPv6.
    ///
    /// # Errors
    /// [`PolicyError`] naming [`PolicySetting::IpPrefixV4`] or
    /// [`PolicySetting::IpPrefixV6`].
    pub fn validate(&self) -> Result<(), PolicyError> {
        if let IpBinding::Prefix { v4, v6 } = *self {
            if v4 > 32 {
                return Err(PolicyError::new(
                    PolicySetting::IpPrefixV4,
                    "device_binding.ip prefix: at most 32 bits for IPv4",
                ));
            }
            if v6 > 128 {
                return Err(PolicyError::new(
                    PolicySetting::IpPrefixV6,
                    "device_binding.ip prefix: at most 128 bits for IPv6",
                ));
            }
        }
        Ok(())
    }
}

/// What to do when a request's device does not match its session's.
///
/// In configuration files it is written in snake case (`"destroy"`,
/// `"flag"`, `"ignore"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchAction {
    /// End the session with reason `DeviceMismatch` and refuse the request.
    #[default]
    Destroy,
    /// Serve the request, but mark the loaded session as flagged.
    Flag,
    /// Do nothing.
    Ignore,
}

/// Which client properties a session is bound to, and what a mismatch does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBinding {
    user_agent: bool,
    ip: IpBinding,
    hints: Vec<String>,
    on_mismatch: MismatchAction,
}

impl Default for DeviceBinding {
    /// The user agent is bound, the IP is not (it changes on mobile networks),
    /// and a mismatch ends the session.
    fn default() -> Self {
        Self {
            user_agent: true,
            ip: IpBinding::Off,
            hints: Vec::new(),
            on_mismatch: MismatchAction::Destroy,
        }
    }
}

impl DeviceBinding {
    /// Binds nothing.
    pub fn none() -> Self {
        Self {
            user_agent: false,
            ip: IpBinding::Off,
            hints: Vec::new(),
            on_mismatch: MismatchAction::Ignore,
        }
    }

    /// Whether the user agent is bound.
    pub fn with_user_agent(mut self, bound: bool) -> Self {
        self.user_agent = bound;
        self
    }

    /// How the IP address is bound.
    pub fn with_ip(mut self, ip: IpBinding) -> Self {
        self.ip = ip;
        self
    }

    /// Binds a client hint by name.
    pub fn with_hint(mut self, name: impl Into<String>) -> Self {
        self.hints.push(name.into());
        self
    }

    /// What a mismatch does.
    pub fn with_on_mismatch(mut self, action: MismatchAction) -> Self {
        self.on_mismatch = action;
        self
    }

    /// What a mismatch does.
    pub fn on_mismatch(&self) -> MismatchAction {
        self.on_mismatch
    }

    pub(crate) fn validate(&self) -> Result<(), PolicyError> {
        self.ip.validate()
    }

    /// True when `request` matches `bound` on every bound property.
    pub fn matches(&self, bound: &DeviceInfo, request: &DeviceInfo) -> bool {
        if self.user_agent && bound.user_agent.is_some() && bound.user_agent != request.user_agent {
            return false;
        }
        if let Some(bound_ip) = bound.ip
            && !ip_matches(self.ip, bound_ip, request.ip)
        {
            return false;
        }
        self.hints.iter().all(|name| match bound.hints.get(name) {
            Some(value) => request.hints.get(name) == Some(value),
            None => true,
        })
    }
}

fn ip_matches(binding: IpBinding, bound: IpAddr, request: Option<IpAddr>) -> bool {
    let Some(request) = request else {
        return binding == IpBinding::Off;
    };
    match binding {
        IpBinding::Off => true,
        IpBinding::Exact => IpCidr::host(bound).contains(request),
        IpBinding::Prefix { v4, v6 } => IpCidr::of(bound, v4, v6).contains(request),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(s: &str) -> DeviceInfo {
        DeviceInfo::default().with_user_agent(s)
    }

    #[test]
    fn user_agent_binding() {
        let binding = DeviceBinding::default();
        assert!(binding.matches(&ua("A"), &ua("A")));
        assert!(!binding.matches(&ua("A"), &ua("B")));
        assert!(!binding.matches(&ua("A"), &DeviceInfo::default()));
        // Unbound at creation: nothing to compare.
        assert!(binding.matches(&DeviceInfo::default(), &ua("B")));
        assert!(DeviceBinding::none().matches(&ua("A"), &ua("B")));
    }

    #[test]
    fn ip_prefix_binding() {
        let binding = DeviceBinding::none().with_ip(IpBinding::Prefix { v4: 24, v6: 48 });
        let at = |ip: &str| DeviceInfo::default().with_ip(ip.parse().unwrap());
        assert!(binding.matches(&at("10.1.2.3"), &at("10.1.2.200")));
        assert!(!binding.matches(&at("10.1.2.3"), &at("10.1.3.3")));
        assert!(binding.matches(&at("2001:db8:1::1"), &at("2001:db8:1:ffff::2")));
        assert!(!binding.matches(&at("2001:db8:1::1"), &at("2001:db8:2::1")));
        assert!(!binding.matches(&at("10.1.2.3"), &at("::1")));
        let exact = DeviceBinding::none().with_ip(IpBinding::Exact);
        assert!(!exact.matches(&at("10.1.2.3"), &at("10.1.2.4")));
        assert!(!exact.matches(&at("10.1.2.3"), &DeviceInfo::default()));
    }

    #[test]
    fn ipv4_mapped_addresses_match_their_ipv4_address() {
        // A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d: the
        // same client, whichever way the app read its address.
        let at = |ip: &str| DeviceInfo::default().with_ip(ip.parse().unwrap());
        let exact = DeviceBinding::none().with_ip(IpBinding::Exact);
        assert!(exact.matches(&at("10.1.2.3"), &at("::ffff:10.1.2.3")));
        assert!(exact.matches(&at("::ffff:10.1.2.3"), &at("10.1.2.3")));
        assert!(!exact.matches(&at("::ffff:10.1.2.3"), &at("10.1.2.4")));
        let prefix = DeviceBinding::none().with_ip(IpBinding::Prefix { v4: 24, v6: 48 });
        assert!(prefix.matches(&at("10.1.2.3"), &at("::ffff:10.1.2.200")));
        assert!(prefix.matches(&at("::ffff:10.1.2.3"), &at("10.1.2.200")));
        assert!(!prefix.matches(&at("::ffff:10.1.2.3"), &at("10.1.3.3")));
    }

    #[test]
    fn hint_binding() {
        let binding = DeviceBinding::none().with_hint("screen");
        let screen = |s: &str| DeviceInfo::default().with_hint("screen", s);
        assert!(binding.matches(&screen("1920x1080"), &screen("1920x1080")));
        assert!(!binding.matches(&screen("1920x1080"), &screen("800x600")));
    }
}
