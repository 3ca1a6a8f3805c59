//! `[policy]`: the session policy, as written in the config (see
//! [`sesame::Policy`]).
//!
//! Choices are the engine's own serde enums ([`CapAction`],
//! [`MismatchAction`], [`TokenReuseAction`]) or [`BindIp`], so an unknown
//! word is refused by serde naming the setting and the words it takes. The
//! rules are the engine's: [`sesame::Policy::validate`] says which
//! [`PolicySetting`] is wrong and [`setting_name`] turns that into this
//! table's name for it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sesame::{
    CapAction, DeviceBinding, IpBinding, MismatchAction, Policy, PolicyError, PolicySetting,
    Renewal, TokenReuseAction, UserCap,
};

use super::durations::Dur;
use super::section::{Invalid, Section, ensure};

/// How the client's IP address is bound (`policy.bind_ip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindIp {
    /// Not compared.
    #[default]
    Off,
    /// The address must be identical.
    Exact,
    /// The address must share `bind_ip_prefix_v4` / `bind_ip_prefix_v6` bits.
    Prefix,
}

/// The session policy, as written in the config (see `sesame::Policy`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Ends a session unused for this long.
    pub idle_timeout: Dur,
    /// Ends a session this long after creation (or login), whatever happens.
    pub absolute_lifetime: Dur,
    /// Records a use at most once per interval.
    pub touch_interval: Dur,
    /// Renews the token this long after it was issued; `0` turns renewal off.
    pub renewal_interval: Dur,
    /// The old token keeps working this long after a renewal.
    pub renewal_grace: Dur,
    /// The old token keeps working this long after an explicit rotation.
    pub rotation_grace: Dur,
    /// Most live sessions per user; `0` means no cap.
    pub max_sessions_per_user: usize,
    /// At the cap: `evict_oldest` or `reject_new`.
    pub on_limit: CapAction,
    /// Bind sessions to the client's user agent.
    pub bind_user_agent: bool,
    /// Bind to the client's IP: `off`, `exact`, or `prefix`.
    pub bind_ip: BindIp,
    /// With `bind_ip = "prefix"`: IPv4 prefix bits (at most 32).
    pub bind_ip_prefix_v4: u8,
    /// With `bind_ip = "prefix"`: IPv6 prefix bits (at most 128).
    pub bind_ip_prefix_v6: u8,
    /// Client hints that must match.
    pub bind_hints: Vec<String>,
    /// On a device mismatch: `destroy`, `flag` or `ignore`.
    pub on_device_mismatch: MismatchAction,
    /// Largest session data, as compact JSON bytes.
    pub max_data_size: usize,
    /// How long an ended session's reason is remembered.
    pub tombstone_ttl: Dur,
    /// On reuse of a rotated token past its grace: `end_successor` or `refuse_only`.
    pub token_reuse: TokenReuseAction,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let p = Policy::default();
        let renewal = p.renewal();
        let cap = p.user_cap();
        Self {
            idle_timeout: Dur(p.idle_timeout()),
            absolute_lifetime: Dur(p.absolute_lifetime()),
            touch_interval: Dur(p.touch_interval()),
            renewal_interval: Dur(renewal.map_or(Duration::ZERO, |r| r.interval)),
            renewal_grace: Dur(renewal.map_or(Duration::ZERO, |r| r.grace)),
            rotation_grace: Dur(p.rotation_grace()),
            max_sessions_per_user: cap.map_or(0, |c| c.max),
            on_limit: cap.map_or(CapAction::default(), |c| c.on_limit),
            bind_user_agent: true,
            bind_ip: BindIp::Off,
            bind_ip_prefix_v4: 24,
            bind_ip_prefix_v6: 48,
            bind_hints: Vec::new(),
            on_device_mismatch: p.device_binding().on_mismatch(),
            max_data_size: p.max_data_size(),
            tombstone_ttl: Dur(p.tombstone_ttl()),
            token_reuse: p.token_reuse(),
        }
    }
}

/// This table's name for a setting the engine refused. Exhaustive: a new
/// engine check does not compile until it is named here.
pub fn setting_name(setting: PolicySetting) -> &'static str {
    match setting {
        PolicySetting::IdleTimeout => "idle_timeout",
        PolicySetting::AbsoluteLifetime => "absolute_lifetime",
        PolicySetting::TouchInterval => "touch_interval",
        PolicySetting::RenewalInterval => "renewal_interval",
        PolicySetting::RenewalGrace => "renewal_grace",
        PolicySetting::UserCapMax => "max_sessions_per_user",
        PolicySetting::MaxDataSize => "max_data_size",
        PolicySetting::IpPrefixV4 => "bind_ip_prefix_v4",
        PolicySetting::IpPrefixV6 => "bind_ip_prefix_v6",
    }
}

/// The engine's refusal as this table's [`Invalid`].
pub fn invalid(e: &PolicyError) -> Invalid {
    Invalid::new(setting_name(e.setting()), e.message())
}

impl PolicyConfig {
    /// The engine's policy, validated.
    ///
    /// # Errors
    /// [`ConfigError`](super::ConfigError) naming the `policy.*` setting
    /// that is wrong.
    pub fn to_policy(&self) -> Result<Policy, super::ConfigError> {
        self.build().map_err(|e| e.within(super::POLICY))
    }

    fn build(&self) -> Result<Policy, Invalid> {
        let prefix = IpBinding::Prefix {
            v4: self.bind_ip_prefix_v4,
            v6: self.bind_ip_prefix_v6,
        };
        // The prefix lengths are checked even while `bind_ip` does not use
        // them: a wrong one would otherwise wait to fail until it is switched on.
        prefix.validate().map_err(|e| invalid(&e))?;
        let ip = match self.bind_ip {
            BindIp::Off => IpBinding::Off,
            BindIp::Exact => IpBinding::Exact,
            BindIp::Prefix => prefix,
        };
        let mut binding = DeviceBinding::none()
            .with_user_agent(self.bind_user_agent)
            .with_ip(ip)
            .with_on_mismatch(self.on_device_mismatch);
        for hint in &self.bind_hints {
            binding = binding.with_hint(hint.clone());
        }
        let renewal = (!self.renewal_interval.0.is_zero()).then_some(Renewal {
            interval: self.renewal_interval.0,
            grace: self.renewal_grace.0,
        });
        let cap = (self.max_sessions_per_user > 0).then_some(UserCap {
            max: self.max_sessions_per_user,
            on_limit: self.on_limit,
        });
        let policy = Policy::default()
            .with_idle_timeout(self.idle_timeout.0)
            .with_absolute_lifetime(self.absolute_lifetime.0)
            .with_touch_interval(self.touch_interval.0)
            .with_renewal(renewal)
            .with_rotation_grace(self.rotation_grace.0)
            .with_user_cap(cap)
            .with_device_binding(binding)
            .with_max_data_size(self.max_data_size)
            .with_tombstone_ttl(self.tombstone_ttl.0)
            .with_token_reuse(self.token_reuse);
        policy.validate().map_err(|e| invalid(&e))?;
        Ok(policy)
    }
}

/// Longest client-hint name `policy.bind_hints` takes.
pub const MAX_HINT_NAME: usize = 64;

impl Section for PolicyConfig {
    fn validate(&self) -> Result<(), Invalid> {
        for hint in &self.bind_hints {
            ensure(
                !hint.is_empty()
                    && hint.len() <= MAX_HINT_NAME
                    && !hint.chars().any(|c| c.is_whitespace() || c.is_control()),
                "bind_hints",
                format!("{hint:?} is not a hint name (1 to {MAX_HINT_NAME} bytes, no spaces)"),
            )?;
        }
        self.build().map(drop)
    }
}
