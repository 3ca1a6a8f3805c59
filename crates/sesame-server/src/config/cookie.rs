//! `[cookie]`: the Fernet keys that seal cookie values (see
//! [`crate::cookies`]), and the cookie policy — name and attributes — that the
//! API hands to apps as ready `Set-Cookie` values (decision D2), so a policy
//! change here reaches every app. The policy is `sesame::cookie::CookiePolicy`,
//! validated by it: a cookie a browser would drop, or an unsafe one, is refused
//! naming the setting.

use serde::{Deserialize, Serialize};
use sesame::cookie::{CookieError, CookiePolicy, FernetKey, KeyRing, PolicyError, SameSite};

use super::section::{Invalid, Section};

/// The `SameSite` attribute as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SameSiteSetting {
    /// Sent on same-site requests only (the default).
    #[default]
    Strict,
    /// Also on top-level cross-site navigations.
    Lax,
    /// On every request; needs Secure.
    None,
}

impl From<SameSiteSetting> for SameSite {
    fn from(s: SameSiteSetting) -> Self {
        match s {
            SameSiteSetting::Strict => SameSite::Strict,
            SameSiteSetting::Lax => SameSite::Lax,
            SameSiteSetting::None => SameSite::None,
        }
    }
}

/// Cookie settings.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookieConfig {
    /// Fernet keys, newest first (`sesame keygen` makes one). The first seals,
    /// any opens. Empty: the API returns no cookie values.
    pub keys: Vec<String>,
    /// The cookie name; default `__Host-sesame` (`sesame` in development
    /// mode, where a `__Host-` cookie cannot exist without Secure).
    pub name: Option<String>,
    /// The Secure attribute; default on (off in development mode). Off is
    /// refused outside development mode.
    pub secure: Option<bool>,
    /// The HttpOnly attribute (scripts cannot read the cookie).
    pub http_only: bool,
    /// The SameSite attribute: `strict`, `lax` or `none` (`none` needs Secure).
    pub same_site: SameSiteSetting,
    /// The Path attribute (`/` for a `__Host-` cookie).
    pub path: String,
    /// The Domain attribute; none (a host-only cookie) by default, and none
    /// allowed on a `__Host-` cookie.
    pub domain: Option<String>,
    /// Development mode: a cookie without Secure for apps on
    /// `http://localhost`; the client libraries refuse other hosts with it.
    pub development: bool,
}

/// The keys are never shown, only how many there are.
impl std::fmt::Debug for CookieConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let CookieConfig {
            keys,
            name,
            secure,
            http_only,
            same_site,
            path,
            domain,
            development,
        } = self;
        f.debug_struct("CookieConfig")
            .field("keys", &format_args!("[{} redacted]", keys.len()))
            .field("name", name)
            .field("secure", secure)
            .field("http_only", http_only)
            .field("same_site", same_site)
            .field("path", path)
            .field("domain", domain)
            .field("development", development)
            .finish()
    }
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            name: None,
            secure: None,
            http_only: true,
            same_site: SameSiteSetting::Strict,
            path: "/".into(),
            domain: None,
            development: false,
        }
    }
}

impl CookieConfig {
    /// The key ring, or `None` when no key is configured.
    ///
    /// # Errors
    /// [`Invalid`] naming the first key that is not a Fernet key
    /// (`keys[i]`), or `keys`.
    pub fn key_ring(&self) -> Result<Option<KeyRing>, Invalid> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        for (i, k) in self.keys.iter().enumerate() {
            if FernetKey::parse(k).is_err() {
                return Err(Invalid::new(
                    format!("keys[{i}]"),
                    "is not a Fernet key (44 characters of URL-safe base64; `sesame keygen` makes one)",
                ));
            }
        }
        KeyRing::parse_list(&self.keys.join(","))
            .map(Some)
            .map_err(|e| Invalid::new("keys", e.to_string()))
    }

    /// The cookie policy, validated.
    ///
    /// # Errors
    /// [`Invalid`] naming the setting that breaks a rule of
    /// [`CookiePolicy::validate`] (`secure`, `domain`, `path`, `same_site`,
    /// `name`).
    pub fn policy(&self) -> Result<CookiePolicy, Invalid> {
        let base = if self.development {
            CookiePolicy::development()
        } else {
            CookiePolicy::new()
        };
        let mut policy = base
            .with_http_only(self.http_only)
            .with_same_site(self.same_site.into())
            .with_path(self.path.clone());
        if let Some(name) = &self.name {
            policy = policy.with_name(name.clone());
        }
        if let Some(secure) = self.secure {
            policy = policy.with_secure(secure);
        }
        if let Some(domain) = &self.domain {
            policy = policy.with_domain(domain.clone());
        }
        policy.validate().map_err(|e| {
            let field = match &e {
                CookieError::InvalidPolicy(p) => match p {
                    PolicyError::InvalidName => "name",
                    PolicyError::HostPrefixWithDomain | PolicyError::InvalidDomain => "domain",
                    PolicyError::HostPrefixPath | PolicyError::InvalidPath => "path",
                    PolicyError::SameSiteNoneWithoutSecure => "same_site",
                    PolicyError::HostPrefixWithoutSecure
                    | PolicyError::SecurePrefixWithoutSecure
                    | PolicyError::InsecureOutsideDevelopment => "secure",
                    _ => "name",
                },
                _ => "name",
            };
            Invalid::new(field, e.to_string())
        })?;
        Ok(policy)
    }
}

impl Section for CookieConfig {
    fn validate(&self) -> Result<(), Invalid> {
        self.key_ring()?;
        self.policy().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_name_the_entry() {
        let config = CookieConfig {
            keys: vec![
                sesame::cookie::FernetKey::generate()
                    .unwrap()
                    .expose_base64()
                    .to_string(),
                "nope".into(),
            ],
            ..CookieConfig::default()
        };
        assert_eq!(config.key_ring().unwrap_err().field, "keys[1]");
        assert!(CookieConfig::default().key_ring().unwrap().is_none());
    }

    #[test]
    fn the_policy_defaults_development_and_errors() {
        let strict = CookieConfig::default().policy().unwrap();
        assert_eq!(strict, CookiePolicy::new());
        assert_eq!(strict.name(), "__Host-sesame");
        let dev = CookieConfig {
            development: true,
            ..CookieConfig::default()
        };
        let dev = dev.policy().unwrap();
        assert_eq!(dev, CookiePolicy::development());
        assert_eq!((dev.name(), dev.secure()), ("sesame", false));
        let custom = CookieConfig {
            name: Some("app_session".into()),
            same_site: SameSiteSetting::Lax,
            path: "/app".into(),
            domain: Some("example.com".into()),
            http_only: false,
            ..CookieConfig::default()
        };
        assert_eq!(
            custom.policy().unwrap().set_cookie_header("v").unwrap(),
            "app_session=v; Path=/app; Domain=example.com; Secure; SameSite=Lax"
        );
        let field = |config: CookieConfig| config.policy().unwrap_err().field;
        let default = CookieConfig::default;
        assert_eq!(
            field(CookieConfig {
                secure: Some(false),
                ..default()
            }),
            "secure"
        );
        assert_eq!(
            field(CookieConfig {
                domain: Some("example.com".into()),
                ..default()
            }),
            "domain"
        );
        assert_eq!(
            field(CookieConfig {
                path: "/app".into(),
                ..default()
            }),
            "path"
        );
        assert_eq!(
            field(CookieConfig {
                name: Some("a;b".into()),
                ..default()
            }),
            "name"
        );
        assert_eq!(
            field(CookieConfig {
                development: true,
                same_site: SameSiteSetting::None,
                ..default()
            }),
            "same_site"
        );
    }
}
