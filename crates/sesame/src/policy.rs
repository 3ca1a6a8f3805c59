//! The session policy: every timeout and limit in one struct.
//!
//! Fields are private; set them with `with_*` and let [`Manager::new`] check
//! them. The defaults follow OWASP ASVS: a 30-minute idle timeout, a 12-hour
//! absolute lifetime, renewal every 15 minutes, 5 sessions per user.
//!
//! [`Manager::new`]: crate::Manager::new

use std::time::Duration;

use crate::device::DeviceBinding;

/// What creating a session does when its user is at the cap.
///
/// In configuration files it is written in snake case (`"evict_oldest"`,
/// `"reject_new"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapAction {
    /// End the user's least recently created session(s) to make room.
    #[default]
    EvictOldest,
    /// Refuse the new session with `Error::LimitReached`.
    RejectNew,
}

/// The per-user session cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserCap {
    /// Live sessions a user may have at once (at least 1).
    pub max: usize,
    /// What happens when a new session would exceed `max`.
    pub on_limit: CapAction,
}

/// Renewal: the token is replaced periodically; the old one keeps working for
/// a short grace so that requests already in flight do not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal {
    /// A token older than this is replaced on its next use.
    pub interval: Duration,
    /// How long the replaced token still reaches the session.
    pub grace: Duration,
}

/// What the presentation of a rotated token after its grace does.
///
/// In configuration files it is written in snake case (`"end_successor"`,
/// `"refuse_only"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenReuseAction {
    /// End the session that replaced it (reason `TokenReuse`): whoever holds
    /// the old token after its grace is likely not the legitimate client.
    #[default]
    EndSuccessor,
    /// Only refuse the old token.
    RefuseOnly,
}

/// All session timeouts and limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    idle_timeout: Duration,
    absolute_lifetime: Duration,
    touch_interval: Duration,
    renewal: Option<Renewal>,
    rotation_grace: Duration,
    user_cap: Option<UserCap>,
    device_binding: DeviceBinding,
    max_data_size: usize,
    tombstone_ttl: Duration,
    token_reuse: TokenReuseAction,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_lifetime: Duration::from_secs(12 * 3600),
            touch_interval: Duration::from_secs(60),
            renewal: Some(Renewal {
                interval: Duration::from_secs(15 * 60),
                grace: Duration::from_secs(30),
            }),
            rotation_grace: Duration::ZERO,
            user_cap: Some(UserCap {
                max: 5,
                on_limit: CapAction::EvictOldest,
            }),
            device_binding: DeviceBinding::default(),
            max_data_size: 64 * 1024,
            tombstone_ttl: Duration::from_secs(10 * 60),
            token_reuse: TokenReuseAction::EndSuccessor,
        }
    }
}

macro_rules! setting {
    ($(#[$doc:meta])* $field:ident, $with:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $field(&self) -> $ty {
            self.$field.clone()
        }

        $(#[$doc])*
        pub fn $with(mut self, value: $ty) -> Self {
            self.$field = value;
            self
        }
    };
}

impl Policy {
    setting!(
        /// Idle timeout (default 30 min): a session unused this long ends.
        idle_timeout, with_idle_timeout, Duration
    );
    setting!(
        /// Absolute lifetime (default 12 h): no session lives longer.
        absolute_lifetime, with_absolute_lifetime, Duration
    );
    setting!(
        /// Touch interval (default 60 s): a read writes nothing unless the
        /// last recorded use is older than this.
        touch_interval, with_touch_interval, Duration
    );
    setting!(
        /// Renewal (default every 15 min with a 30 s grace); `None` disables it.
        renewal, with_renewal, Option<Renewal>
    );
    setting!(
        /// Grace for explicit rotations — login and privilege changes —
        /// (default 0: the old token stops working at once).
        rotation_grace, with_rotation_grace, Duration
    );
    setting!(
        /// Per-user cap (default 5, evicting the oldest); `None` disables it.
        user_cap, with_user_cap, Option<UserCap>
    );
    setting!(
        /// Device binding (default: user agent, destroy on mismatch).
        device_binding, with_device_binding, DeviceBinding
    );
    setting!(
        /// Largest session data, as compact JSON (default 64 KiB).
        max_data_size, with_max_data_size, usize
    );
    setting!(
        /// How long an ended session's reason is kept (default 10 min).
        tombstone_ttl, with_tombstone_ttl, Duration
    );
    setting!(
        /// What a rotated token presented after its grace does (default: end
        /// the session that replaced it).
        token_reuse, with_token_reuse, TokenReuseAction
    );

    /// Checks that the settings make sense together.
    ///
    /// # Errors
    /// [`PolicyError`] naming the offending [`PolicySetting`], so that a
    /// configuration layer can report its own name for that setting.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use sesame::{Policy, PolicySetting};
    ///
    /// let err = Policy::default()
    ///     .with_touch_interval(Duration::from_secs(3600))
    ///     .validate()
    ///     .unwrap_err();
    /// assert_eq!(err.setting(), PolicySetting::TouchInterval);
    /// ```
    pub fn validate(&self) -> Result<(), PolicyError> {
        let fail = |setting, message| Err(PolicyError { setting, message });
        if self.idle_timeout.is_zero() {
            return fail(
                PolicySetting::IdleTimeout,
                "idle_timeout must be greater than zero",
            );
        }
        if self.absolute_lifetime < self.idle_timeout {
            return fail(
                PolicySetting::AbsoluteLifetime,
                "absolute_lifetime must be at least idle_timeout",
            );
        }
        if self.touch_interval >= self.idle_timeout {
            return fail(
                PolicySetting::TouchInterval,
                "touch_interval must be shorter than idle_timeout",
            );
        }
        if let Some(renewal) = self.renewal {
            if renewal.interval.is_zero() {
                return fail(
                    PolicySetting::RenewalInterval,
                    "renewal.interval must be greater than zero",
                );
            }
            if renewal.grace > renewal.interval {
                return fail(
                    PolicySetting::RenewalGrace,
                    "renewal.grace must not exceed renewal.interval",
                );
            }
        }
        if let Some(cap) = self.user_cap
            && cap.max == 0
        {
            return fail(PolicySetting::UserCapMax, "user_cap.max must be at least 1");
        }
        if self.max_data_size < 2 {
            return fail(
                PolicySetting::MaxDataSize,
                "max_data_size must be at least 2 bytes (an empty JSON object)",
            );
        }
        self.device_binding.validate()
    }
}

/// A setting of [`Policy`] that [`Policy::validate`] can refuse.
///
/// The enum is exhaustive on purpose: a configuration layer maps every
/// variant to its own name for the setting in a `match` without a `_` arm,
/// so a new check here fails to compile there until it is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySetting {
    /// [`Policy::idle_timeout`].
    IdleTimeout,
    /// [`Policy::absolute_lifetime`].
    AbsoluteLifetime,
    /// [`Policy::touch_interval`].
    TouchInterval,
    /// [`Renewal::interval`].
    RenewalInterval,
    /// [`Renewal::grace`].
    RenewalGrace,
    /// [`UserCap::max`].
    UserCapMax,
    /// [`Policy::max_data_size`].
    MaxDataSize,
    /// The IPv4 prefix length of [`IpBinding::Prefix`](crate::IpBinding::Prefix).
    IpPrefixV4,
    /// The IPv6 prefix length of [`IpBinding::Prefix`](crate::IpBinding::Prefix).
    IpPrefixV6,
}

/// [`Policy::validate`] refused a setting: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    setting: PolicySetting,
    message: &'static str,
}

impl PolicyError {
    pub(crate) fn new(setting: PolicySetting, message: &'static str) -> Self {
        Self { setting, message }
    }

    /// The setting that is wrong.
    pub fn setting(&self) -> PolicySetting {
        self.setting
    }

    /// What is wrong with it, in words (it names the engine's field).
    pub fn message(&self) -> &'static str {
        self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones_and_valid() {
        let p = Policy::default();
        assert_eq!(p.idle_timeout(), Duration::from_secs(1800));
        assert_eq!(p.absolute_lifetime(), Duration::from_secs(43200));
        assert_eq!(p.touch_interval(), Duration::from_secs(60));
        assert_eq!(p.user_cap().unwrap().max, 5);
        assert_eq!(p.max_data_size(), 65536);
        assert_eq!(p.tombstone_ttl(), Duration::from_secs(600));
        p.validate().unwrap();
    }

    #[test]
    fn nonsense_is_refused_with_the_setting_named() {
        let err = Policy::default()
            .with_absolute_lifetime(Duration::from_secs(1))
            .validate()
            .unwrap_err();
        assert_eq!(err.setting(), PolicySetting::AbsoluteLifetime);
        assert!(err.to_string().contains("absolute_lifetime"));
        let err = Policy::default()
            .with_user_cap(Some(UserCap {
                max: 0,
                on_limit: CapAction::RejectNew,
            }))
            .validate()
            .unwrap_err();
        assert_eq!(err.setting(), PolicySetting::UserCapMax);
        assert!(err.to_string().contains("user_cap"));
        let renewal = |interval, grace| {
            Policy::default()
                .with_renewal(Some(Renewal {
                    interval: Duration::from_secs(interval),
                    grace: Duration::from_secs(grace),
                }))
                .validate()
                .unwrap_err()
                .setting()
        };
        assert_eq!(renewal(0, 0), PolicySetting::RenewalInterval);
        assert_eq!(renewal(10, 11), PolicySetting::RenewalGrace);
        let one = |p: Policy| p.validate().unwrap_err().setting();
        assert_eq!(
            one(Policy::default().with_idle_timeout(Duration::ZERO)),
            PolicySetting::IdleTimeout
        );
        assert_eq!(
            one(Policy::default().with_touch_interval(Duration::from_secs(3600))),
            PolicySetting::TouchInterval
        );
        assert_eq!(
            one(Policy::default().with_max_data_size(1)),
            PolicySetting::MaxDataSize
        );
        let prefix = |v4, v6| {
            one(Policy::default().with_device_binding(
                crate::DeviceBinding::none().with_ip(crate::IpBinding::Prefix { v4, v6 }),
            ))
        };
        assert_eq!(prefix(33, 48), PolicySetting::IpPrefixV4);
        assert_eq!(prefix(24, 129), PolicySetting::IpPrefixV6);
    }
}
