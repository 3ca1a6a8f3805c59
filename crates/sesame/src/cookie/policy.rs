//! How the session cookie is written: its name and attributes, checked once at configuration.
//!
//! Why strict defaults: a session cookie is a bearer credential. The defaults are
//! `__Host-sesame; Path=/; Secure; HttpOnly; SameSite=Strict`, no `Domain`, no `Max-Age` (a
//! browser-session cookie; the server-side TTL decides how long it is worth anything):
//! - `__Host-` makes the browser refuse the cookie unless it is Secure, has `Path=/` and no
//!   `Domain`, so a sibling subdomain cannot plant or overwrite it (cookie tossing).
//! - `Secure` keeps it off plain HTTP; `HttpOnly` keeps it from scripts (XSS cannot read it);
//!   `SameSite=Strict` keeps it off cross-site requests (CSRF).
//!
//! Why refuse at configuration time: a policy the browser would silently reject (a `__Host-`
//! cookie with a Domain, `SameSite=None` without Secure) means users who cannot log in, and a
//! policy that is merely weak means a vulnerability; [`CookiePolicy::validate`] turns both into a
//! typed [`PolicyError`] at startup.
//!
//! Development mode ([`CookiePolicy::development`]) allows a cookie without `Secure`, so an app
//! can run on `http://localhost`. It is for localhost only: [`CookiePolicy::allows_host`] (and
//! [`CookiePolicy::check_host`]) accept only `localhost`, `127.0.0.1` and `[::1]` in development
//! mode, so a transport can refuse to serve a public host with it.
//!
//! Why the 4096-byte check: browsers drop larger cookies without a word (RFC 6265 §6.1 asks
//! them to keep at least 4096 bytes per cookie, measured over name, value and attributes), and
//! the user would be logged out for no visible reason. [`CookiePolicy::set_cookie_header`]
//! measures the whole rendered `Set-Cookie` value and returns [`CookieError::TooLarge`] instead.

use std::time::Duration;

use super::{CookieError, PolicyError};

/// The most bytes a cookie may take: name, value and attributes (RFC 6265 §6.1).
pub const MAX_COOKIE_BYTES: usize = 4096;

/// The default session cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "__Host-sesame";
/// The cookie name of [`CookiePolicy::development`] (no `__Host-` prefix, as it is not Secure).
pub const DEVELOPMENT_COOKIE_NAME: &str = "sesame";

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent on same-site requests only. The default.
    Strict,
    /// Also sent on top-level cross-site navigations (GET links into the site).
    Lax,
    /// Sent on all requests; requires Secure.
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The name and attributes of the session cookie. Fields are private; build with `with_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePolicy {
    name: String,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    path: String,
    domain: Option<String>,
    max_age: Option<Duration>,
    development: bool,
}

impl Default for CookiePolicy {
    fn default() -> Self {
        Self {
            name: DEFAULT_COOKIE_NAME.to_owned(),
            secure: true,
            http_only: true,
            same_site: SameSite::Strict,
            path: "/".to_owned(),
            domain: None,
            max_age: None,
            development: false,
        }
    }
}

impl CookiePolicy {
    /// The strict defaults: `__Host-sesame`, Secure, HttpOnly, SameSite=Strict, Path=/, no
    /// Domain, no Max-Age.
    pub fn new() -> Self {
        Self::default()
    }

    /// Development mode for `http://localhost`: name `sesame`, no Secure, otherwise the strict
    /// defaults. Only valid for localhost; see [`CookiePolicy::allows_host`].
    pub fn development() -> Self {
        Self {
            name: DEVELOPMENT_COOKIE_NAME.to_owned(),
            secure: false,
            development: true,
            ..Self::default()
        }
    }

    /// Sets the cookie name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the Secure attribute (outside development mode it must stay on).
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Sets the HttpOnly attribute.
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// Sets the SameSite attribute.
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Sets the Path attribute (a `__Host-` cookie needs `/`).
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the Domain attribute (not allowed on a `__Host-` cookie).
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Removes the Domain attribute (a host-only cookie, the default).
    pub fn without_domain(mut self) -> Self {
        self.domain = None;
        self
    }

    /// Sets `Max-Age` (whole seconds), making the cookie persist across browser restarts.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Removes `Max-Age` (a browser-session cookie, the default).
    pub fn without_max_age(mut self) -> Self {
        self.max_age = None;
        self
    }

    /// Turns development mode on or off. Development mode permits a cookie without Secure and
    /// is only for localhost.
    pub fn with_development_mode(mut self, development: bool) -> Self {
        self.development = development;
        self
    }

    /// The cookie name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the cookie is Secure.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Whether the cookie is HttpOnly.
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// The SameSite attribute.
    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// The Path attribute.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The Domain attribute, if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The Max-Age, if any.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// Whether development mode is on.
    pub fn is_development(&self) -> bool {
        self.development
    }

    /// Checks the policy against the cookie prefix rules and the project's safety rules.
    ///
    /// # Errors
    /// [`CookieError::InvalidPolicy`] with the first rule broken.
    pub fn validate(&self) -> Result<(), CookieError> {
        if !is_token(&self.name) {
            return Err(PolicyError::InvalidName.into());
        }
        if !valid_path(&self.path) {
            return Err(PolicyError::InvalidPath.into());
        }
        if let Some(domain) = &self.domain
            && !valid_domain(domain)
        {
            return Err(PolicyError::InvalidDomain.into());
        }
        // Prefixes are matched case-insensitively by current browsers (RFC 6265bis).
        let lower = self.name.to_ascii_lowercase();
        if lower.starts_with("__host-") {
            if !self.secure {
                return Err(PolicyError::HostPrefixWithoutSecure.into());
            }
            if self.domain.is_some() {
                return Err(PolicyError::HostPrefixWithDomain.into());
            }
            if self.path != "/" {
                return Err(PolicyError::HostPrefixPath.into());
            }
        }
        if lower.starts_with("__secure-") && !self.secure {
            return Err(PolicyError::SecurePrefixWithoutSecure.into());
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(PolicyError::SameSiteNoneWithoutSecure.into());
        }
        if !self.secure && !self.development {
            return Err(PolicyError::InsecureOutsideDevelopment.into());
        }
        Ok(())
    }

    /// Whether this policy may serve requests for `host` (a `Host` header value, with or without
    /// port). Always true outside development mode; in development mode only `localhost`,
    /// `127.0.0.1` and `[::1]` (also `::1`) are allowed.
    pub fn allows_host(&self, host: &str) -> bool {
        !self.development || is_loopback_host(host)
    }

    /// [`CookiePolicy::allows_host`] as a `Result`, for use at startup or per request.
    ///
    /// # Errors
    /// [`CookieError::InvalidPolicy`] with [`PolicyError::DevelopmentModeHost`].
    pub fn check_host(&self, host: &str) -> Result<(), CookieError> {
        if self.allows_host(host) {
            Ok(())
        } else {
            Err(PolicyError::DevelopmentModeHost.into())
        }
    }

    fn attributes(&self, out: &mut String, max_age: Option<u64>) {
        out.push_str("; Path=");
        out.push_str(&self.path);
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if let Some(secs) = max_age {
            out.push_str("; Max-Age=");
            out.push_str(&secs.to_string());
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        out.push_str("; SameSite=");
        out.push_str(self.same_site.as_str());
    }

    /// The attributes as a `Set-Cookie` writes them, without name, value and `Max-Age`, e.g.
    /// `Path=/; Secure; HttpOnly; SameSite=Strict` (what a DBSC session's credential names).
    pub fn attribute_string(&self) -> String {
        let mut out = String::with_capacity(64);
        self.attributes(&mut out, None);
        out.split_off(2)
    }

    /// Renders the `Set-Cookie` header value that stores `value` under this policy, e.g.
    /// `__Host-sesame=gAAAA...; Path=/; Secure; HttpOnly; SameSite=Strict`.
    ///
    /// # Errors
    /// [`CookieError::InvalidPolicy`] if the policy does not validate,
    /// [`CookieError::InvalidCookieValue`] if `value` holds bytes a cookie may not hold, and
    /// [`CookieError::TooLarge`] if the result exceeds [`MAX_COOKIE_BYTES`].
    pub fn set_cookie_header(&self, value: &str) -> Result<String, CookieError> {
        self.validate()?;
        if !value.bytes().all(is_cookie_octet) {
            return Err(CookieError::InvalidCookieValue);
        }
        let mut out = String::with_capacity(self.name.len() + value.len() + 96);
        out.push_str(&self.name);
        out.push('=');
        out.push_str(value);
        self.attributes(&mut out, self.max_age.map(|d| d.as_secs()));
        if out.len() > MAX_COOKIE_BYTES {
            return Err(CookieError::TooLarge {
                size: out.len(),
                limit: MAX_COOKIE_BYTES,
            });
        }
        Ok(out)
    }

    /// Renders the `Set-Cookie` header value that deletes the cookie (logout): an empty value,
    /// `Max-Age=0` and an `Expires` in the past, with the same name, Path, Domain and attributes
    /// (a browser only replaces a cookie whose name, Domain and Path match).
    ///
    /// # Errors
    /// [`CookieError::InvalidPolicy`] if the policy does not validate.
    pub fn removal_header(&self) -> Result<String, CookieError> {
        self.validate()?;
        let mut out = String::with_capacity(self.name.len() + 128);
        out.push_str(&self.name);
        out.push('=');
        self.attributes(&mut out, Some(0));
        out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        Ok(out)
    }
}

/// RFC 6265 / RFC 9110 token: visible ASCII except separators.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// RFC 6265 cookie-octet: visible ASCII except `"`, `,`, `;` and `\`.
pub(crate) fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

fn valid_path(p: &str) -> bool {
    p.starts_with('/') && p.bytes().all(|b| (0x20..0x7F).contains(&b) && b != b';')
}

fn valid_domain(d: &str) -> bool {
    let d = d.strip_prefix('.').unwrap_or(d);
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    // Bracketed IPv6, with or without port.
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((addr, port)) => addr == "::1" && valid_port_suffix(port),
            None => false,
        };
    }
    if host == "::1" {
        return true;
    }
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1"
}

fn valid_port_suffix(s: &str) -> bool {
    match s.strip_prefix(':') {
        None => s.is_empty(),
        Some(port) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
    }
}
