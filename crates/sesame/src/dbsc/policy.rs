//! The DBSC policy: the mode, the lifetimes, the limits, the endpoints and the scope.
//!
//! Why a policy of its own, beside [`Policy`](crate::Policy): DBSC is a
//! transport-facing protocol (endpoint paths, a cookie, a scope) with its own
//! lifetimes, and a manager without it behaves exactly as before. Fields are
//! private; set them with `with_*`; [`DbscPolicy::validate`] names the first
//! setting that is wrong, so a configuration layer can report its own name.
//!
//! The defaults are the strict ones a deployment should start from, except
//! the mode, which is [`DbscMode::Off`]: a deployment turns DBSC on knowingly.

use std::time::Duration;

use super::key::Algorithm;

/// Whether sessions are bound to a browser-held key.
///
/// In configuration files it is written in snake case (`"off"`, `"offer"`,
/// `"enforce"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbscMode {
    /// No registration header, no endpoints, no bound cookie checked.
    #[default]
    Off,
    /// The registration header is sent at login; the bound cookie is
    /// required only for sessions that registered. Browsers without DBSC
    /// keep working as before.
    Offer,
    /// As `Offer`, and a logged-in session that has not registered within
    /// [`DbscPolicy::registration_window`] of its login is refused: only DBSC
    /// browsers can use the site. Anonymous sessions are not affected.
    Enforce,
}

/// What an in-scope request of a bound session gets when its bound cookie is
/// missing, stale or forged (or, with [`DbscMode::Enforce`], when its session
/// never registered).
///
/// A DBSC browser never sends such a request on its own: it holds it and
/// refreshes the bound cookie first. So the requests that get this are a
/// thief's, or a browser whose refresh failed. In configuration files:
/// `"unauthorized"`, `"forbidden"`, `"end_session"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingBoundCookie {
    /// 401, as a request without a session: the app sends the user to log in
    /// again, which registers a fresh key. The session stays live.
    #[default]
    Unauthorized,
    /// 403: refused, the session stays live.
    Forbidden,
    /// 401, and the session is ended (`dbsc_failed`) for everyone: the
    /// strictest answer to a copied cookie, at the price of logging out a
    /// browser whose refresh failed for another reason.
    EndSession,
}

impl MissingBoundCookie {
    /// The HTTP status of the refusal.
    pub fn status(self) -> u16 {
        match self {
            MissingBoundCookie::Forbidden => 403,
            MissingBoundCookie::Unauthorized | MissingBoundCookie::EndSession => 401,
        }
    }
}

/// At most `max` refreshes of one session per `window` (counted when a
/// refresh challenge is issued, in the store, so the limit holds across
/// processes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshLimit {
    /// Refresh challenges per window (at least 1).
    pub max: u32,
    /// The window.
    pub window: Duration,
}

/// A setting of [`DbscPolicy`] that [`DbscPolicy::validate`] can refuse.
///
/// Exhaustive on purpose, as [`PolicySetting`](crate::PolicySetting): a
/// configuration layer maps every variant to its own name without a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbscSetting {
    /// [`DbscPolicy::algorithms`].
    Algorithms,
    /// [`DbscPolicy::bound_cookie_lifetime`].
    BoundCookieLifetime,
    /// [`DbscPolicy::challenge_lifetime`].
    ChallengeLifetime,
    /// [`RefreshLimit::max`].
    RefreshLimitMax,
    /// [`RefreshLimit::window`].
    RefreshLimitWindow,
    /// [`DbscPolicy::registration_window`].
    RegistrationWindow,
    /// [`DbscPolicy::registration_path`].
    RegistrationPath,
    /// [`DbscPolicy::refresh_path`].
    RefreshPath,
    /// [`DbscPolicy::excluded_paths`].
    ExcludedPaths,
    /// [`DbscPolicy::bound_cookie_name`].
    BoundCookieName,
}

/// [`DbscPolicy::validate`] refused a setting: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DbscPolicyError {
    setting: DbscSetting,
    message: &'static str,
}

impl DbscPolicyError {
    /// The setting that is wrong.
    pub fn setting(&self) -> DbscSetting {
        self.setting
    }

    /// What is wrong with it, in words (it names the engine's field).
    pub fn message(&self) -> &'static str {
        self.message
    }
}

/// The longest bound cookie accepted: a bound cookie is the window in which a
/// copied cookie works, so a day is already far too long for most sites.
pub const MAX_BOUND_COOKIE_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Chromium refreshes proactively, on every in-scope request, once the bound
/// cookie has less than this left; lifetimes at or under it make every
/// request refresh (tests only, with `RefreshQuota/false`).
pub const CHROMIUM_PROACTIVE_REFRESH: Duration = Duration::from_secs(120);

/// Every DBSC setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbscPolicy {
    mode: DbscMode,
    algorithms: Vec<Algorithm>,
    bound_cookie_lifetime: Duration,
    challenge_lifetime: Duration,
    refresh_limit: Option<RefreshLimit>,
    registration_window: Duration,
    on_missing: MissingBoundCookie,
    registration_path: String,
    refresh_path: String,
    excluded_paths: Vec<String>,
    bound_cookie_name: Option<String>,
}

impl Default for DbscPolicy {
    fn default() -> Self {
        Self {
            mode: DbscMode::Off,
            algorithms: vec![Algorithm::Es256, Algorithm::Rs256],
            bound_cookie_lifetime: Duration::from_secs(10 * 60),
            challenge_lifetime: Duration::from_secs(5 * 60),
            refresh_limit: Some(RefreshLimit {
                max: 20,
                window: Duration::from_secs(10 * 60),
            }),
            registration_window: Duration::from_secs(60),
            on_missing: MissingBoundCookie::Unauthorized,
            registration_path: "/dbsc/register".to_owned(),
            refresh_path: "/dbsc/refresh".to_owned(),
            excluded_paths: Vec::new(),
            bound_cookie_name: None,
        }
    }
}

macro_rules! dbsc_setting {
    ($(#[$doc:meta])* $field:ident, $with:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $with(mut self, value: $ty) -> Self {
            self.$field = value;
            self
        }
    };
}

impl DbscPolicy {
    /// The defaults with `mode`.
    ///
    /// # Examples
    /// ```
    /// use sesame::dbsc::{DbscMode, DbscPolicy};
    ///
    /// let policy = DbscPolicy::new(DbscMode::Offer);
    /// assert_eq!(policy.bound_cookie_lifetime().as_secs(), 600);
    /// policy.validate()?;
    /// # Ok::<(), sesame::dbsc::DbscPolicyError>(())
    /// ```
    pub fn new(mode: DbscMode) -> Self {
        Self {
            mode,
            ..Self::default()
        }
    }

    dbsc_setting!(
        /// Sets the mode (default `Off`).
        mode, with_mode, DbscMode
    );
    dbsc_setting!(
        /// Sets the signature algorithms offered and accepted, in order of
        /// preference (default ES256 then RS256). There is no way to name
        /// `none` or an HMAC algorithm.
        algorithms, with_algorithms, Vec<Algorithm>
    );
    dbsc_setting!(
        /// Sets how long a bound cookie is accepted (default 10 min; at most
        /// a day). Keep it well over two minutes: Chromium refreshes on every
        /// in-scope request once less than that is left.
        bound_cookie_lifetime, with_bound_cookie_lifetime, Duration
    );
    dbsc_setting!(
        /// Sets how long a registration or refresh challenge may be answered
        /// (default 5 min; at most an hour).
        challenge_lifetime, with_challenge_lifetime, Duration
    );
    dbsc_setting!(
        /// Sets the refresh rate limit per session (default 20 per 10 min);
        /// `None` disables it.
        refresh_limit, with_refresh_limit, Option<RefreshLimit>
    );
    dbsc_setting!(
        /// Sets how long, with [`DbscMode::Enforce`], a logged-in session may
        /// go unregistered after its login (default 60 s: the browser
        /// registers in the background right after the login response).
        registration_window, with_registration_window, Duration
    );
    dbsc_setting!(
        /// Sets what an in-scope request without a valid bound cookie gets
        /// (default 401, the session kept).
        on_missing, with_on_missing, MissingBoundCookie
    );
    dbsc_setting!(
        /// Sets the paths (prefixes) left out of the DBSC scope, e.g.
        /// `/static`: requests there are not held by the browser and not
        /// checked here (default none).
        excluded_paths, with_excluded_paths, Vec<String>
    );

    /// Sets the registration endpoint's path (default `/dbsc/register`).
    pub fn with_registration_path(mut self, path: impl Into<String>) -> Self {
        self.registration_path = path.into();
        self
    }

    /// Sets the refresh endpoint's path (default `/dbsc/refresh`).
    pub fn with_refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = path.into();
        self
    }

    /// Sets the bound cookie's name (default: the session cookie's name
    /// followed by `-bound`, e.g. `__Host-sesame-bound`).
    pub fn with_bound_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.bound_cookie_name = Some(name.into());
        self
    }

    /// The mode.
    pub fn mode(&self) -> DbscMode {
        self.mode
    }

    /// The algorithms offered and accepted, in order of preference.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// How long a bound cookie is accepted.
    pub fn bound_cookie_lifetime(&self) -> Duration {
        self.bound_cookie_lifetime
    }

    /// How long a challenge may be answered.
    pub fn challenge_lifetime(&self) -> Duration {
        self.challenge_lifetime
    }

    /// The refresh rate limit per session.
    pub fn refresh_limit(&self) -> Option<RefreshLimit> {
        self.refresh_limit
    }

    /// How long an unregistered logged-in session is accepted with
    /// [`DbscMode::Enforce`].
    pub fn registration_window(&self) -> Duration {
        self.registration_window
    }

    /// What an in-scope request without a valid bound cookie gets.
    pub fn on_missing(&self) -> MissingBoundCookie {
        self.on_missing
    }

    /// The registration endpoint's path.
    pub fn registration_path(&self) -> &str {
        &self.registration_path
    }

    /// The refresh endpoint's path.
    pub fn refresh_path(&self) -> &str {
        &self.refresh_path
    }

    /// The paths (prefixes) outside the DBSC scope.
    pub fn excluded_paths(&self) -> &[String] {
        &self.excluded_paths
    }

    /// The bound cookie's name, when one was set.
    pub fn bound_cookie_name(&self) -> Option<&str> {
        self.bound_cookie_name.as_deref()
    }

    /// Whether a request to `path` is in the DBSC scope: everything but the
    /// two endpoints and the excluded prefixes (a prefix matches itself and
    /// what lies under it: `/static` matches `/static` and `/static/a.css`,
    /// not `/staticky`).
    ///
    /// # Examples
    /// ```
    /// use sesame::dbsc::{DbscMode, DbscPolicy};
    ///
    /// let policy = DbscPolicy::new(DbscMode::Offer).with_excluded_paths(vec!["/static".into()]);
    /// assert!(policy.in_scope("/account"));
    /// assert!(!policy.in_scope("/static/app.css"));
    /// assert!(!policy.in_scope("/dbsc/refresh"));
    /// ```
    pub fn in_scope(&self, path: &str) -> bool {
        if path == self.registration_path || path == self.refresh_path {
            return false;
        }
        !self
            .excluded_paths
            .iter()
            .any(|prefix| under_prefix(path, prefix))
    }

    /// Checks that the settings make sense together.
    ///
    /// # Errors
    /// [`DbscPolicyError`] naming the offending [`DbscSetting`].
    pub fn validate(&self) -> Result<(), DbscPolicyError> {
        let fail = |setting, message| Err(DbscPolicyError { setting, message });
        if self.algorithms.is_empty() {
            return fail(
                DbscSetting::Algorithms,
                "dbsc.algorithms must name at least one algorithm",
            );
        }
        if self
            .algorithms
            .iter()
            .enumerate()
            .any(|(i, a)| self.algorithms[..i].contains(a))
        {
            return fail(
                DbscSetting::Algorithms,
                "dbsc.algorithms names an algorithm twice",
            );
        }
        if self.bound_cookie_lifetime < Duration::from_secs(1)
            || self.bound_cookie_lifetime > MAX_BOUND_COOKIE_LIFETIME
        {
            return fail(
                DbscSetting::BoundCookieLifetime,
                "dbsc.bound_cookie_lifetime must be between 1 s and 24 h",
            );
        }
        if self.challenge_lifetime < Duration::from_secs(1)
            || self.challenge_lifetime > Duration::from_secs(3600)
        {
            return fail(
                DbscSetting::ChallengeLifetime,
                "dbsc.challenge_lifetime must be between 1 s and 1 h",
            );
        }
        if let Some(limit) = self.refresh_limit {
            if limit.max == 0 {
                return fail(
                    DbscSetting::RefreshLimitMax,
                    "dbsc.refresh_limit.max must be at least 1",
                );
            }
            if limit.window < Duration::from_secs(1) || limit.window > Duration::from_secs(86400) {
                return fail(
                    DbscSetting::RefreshLimitWindow,
                    "dbsc.refresh_limit.window must be between 1 s and 24 h",
                );
            }
        }
        if self.registration_window > Duration::from_secs(3600) {
            return fail(
                DbscSetting::RegistrationWindow,
                "dbsc.registration_window must be at most 1 h",
            );
        }
        if !valid_path(&self.registration_path) {
            return fail(
                DbscSetting::RegistrationPath,
                "dbsc.registration_path must be an absolute path of visible ASCII without ; , \" \\ ? #",
            );
        }
        if !valid_path(&self.refresh_path) || self.refresh_path == self.registration_path {
            return fail(
                DbscSetting::RefreshPath,
                "dbsc.refresh_path must be an absolute path of visible ASCII without ; , \" \\ ? # and differ from the registration path",
            );
        }
        if self.excluded_paths.len() > 64 || !self.excluded_paths.iter().all(|p| valid_path(p)) {
            return fail(
                DbscSetting::ExcludedPaths,
                "dbsc.excluded_paths takes at most 64 absolute paths of visible ASCII without ; , \" \\ ? #",
            );
        }
        if let Some(name) = &self.bound_cookie_name
            && !is_token(name)
        {
            return fail(
                DbscSetting::BoundCookieName,
                "dbsc.bound_cookie_name must be a non-empty cookie name (an RFC 6265 token)",
            );
        }
        Ok(())
    }
}

/// `path` equals `prefix` or lies under it (a path segment boundary).
fn under_prefix(path: &str, prefix: &str) -> bool {
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.is_empty(),
        None => false,
    }
}

/// An absolute path a header parameter and a JSON string can carry as is.
fn valid_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 256
        && p.bytes()
            .all(|b| b.is_ascii_graphic() && !b";,\"\\?#".contains(&b))
}

/// RFC 6265 / RFC 9110 token.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_strict() {
        let p = DbscPolicy::default();
        p.validate().unwrap();
        assert_eq!(p.mode(), DbscMode::Off);
        assert!(p.bound_cookie_lifetime() > CHROMIUM_PROACTIVE_REFRESH * 4);
        assert_eq!(p.algorithms(), &[Algorithm::Es256, Algorithm::Rs256]);
        assert_eq!(p.on_missing().status(), 401);
    }

    #[test]
    fn nonsense_is_refused_with_the_setting_named() {
        let one = |p: DbscPolicy| p.validate().unwrap_err().setting();
        let p = DbscPolicy::default;
        assert_eq!(one(p().with_algorithms(vec![])), DbscSetting::Algorithms);
        assert_eq!(
            one(p().with_algorithms(vec![Algorithm::Es256, Algorithm::Es256])),
            DbscSetting::Algorithms
        );
        assert_eq!(
            one(p().with_bound_cookie_lifetime(Duration::ZERO)),
            DbscSetting::BoundCookieLifetime
        );
        assert_eq!(
            one(p().with_bound_cookie_lifetime(Duration::from_secs(90_000))),
            DbscSetting::BoundCookieLifetime
        );
        assert_eq!(
            one(p().with_challenge_lifetime(Duration::from_secs(7200))),
            DbscSetting::ChallengeLifetime
        );
        assert_eq!(
            one(p().with_refresh_limit(Some(RefreshLimit {
                max: 0,
                window: Duration::from_secs(1)
            }))),
            DbscSetting::RefreshLimitMax
        );
        assert_eq!(
            one(p().with_registration_path("dbsc")),
            DbscSetting::RegistrationPath
        );
        assert_eq!(
            one(p().with_refresh_path("/dbsc/register")),
            DbscSetting::RefreshPath
        );
        assert_eq!(
            one(p().with_refresh_path("/a\"b")),
            DbscSetting::RefreshPath
        );
        assert_eq!(
            one(p().with_excluded_paths(vec!["static".into()])),
            DbscSetting::ExcludedPaths
        );
        assert_eq!(
            one(p().with_bound_cookie_name("a;b")),
            DbscSetting::BoundCookieName
        );
    }

    #[test]
    fn scope_is_the_origin_minus_the_endpoints_and_the_exclusions() {
        let p = DbscPolicy::default().with_excluded_paths(vec!["/static/".into(), "/pub".into()]);
        assert!(p.in_scope("/"));
        assert!(p.in_scope("/account"));
        assert!(p.in_scope("/publish"));
        assert!(!p.in_scope("/pub"));
        assert!(!p.in_scope("/pub/x"));
        assert!(!p.in_scope("/static/app.js"));
        assert!(!p.in_scope("/static"));
        assert!(!p.in_scope("/dbsc/register"));
        assert!(!p.in_scope("/dbsc/refresh"));
        assert!(p.in_scope("/dbsc/refreshing"));
    }
}
