//! Cookie policy: strict defaults, refused configurations, development mode, Set-Cookie output.

use std::time::Duration;

use sesame::cookie::{CookieError, CookiePolicy, MAX_COOKIE_BYTES, PolicyError, SameSite};

fn refused(policy: CookiePolicy) -> PolicyError {
    match policy.validate() {
        Err(CookieError::InvalidPolicy(e)) => e,
        other => panic!("expected a policy error, got {other:?}"),
    }
}

#[test]
fn defaults_are_strict() {
    let p = CookiePolicy::new();
    assert_eq!(p, CookiePolicy::default());
    assert_eq!(p.name(), "__Host-sesame");
    assert!(p.secure() && p.http_only());
    assert_eq!(p.same_site(), SameSite::Strict);
    assert_eq!(p.path(), "/");
    assert_eq!(p.domain(), None);
    assert_eq!(p.max_age(), None);
    assert!(!p.is_development());
    p.validate().unwrap();
    assert_eq!(
        p.set_cookie_header("v1").unwrap(),
        "__Host-sesame=v1; Path=/; Secure; HttpOnly; SameSite=Strict"
    );
}

#[test]
fn max_age_and_other_attributes_render() {
    let p = CookiePolicy::new()
        .with_name("__Secure-sid")
        .with_domain("example.com")
        .with_path("/app")
        .with_same_site(SameSite::Lax)
        .with_max_age(Duration::from_secs(86_400));
    p.validate().unwrap();
    assert_eq!(
        p.set_cookie_header("v").unwrap(),
        "__Secure-sid=v; Path=/app; Domain=example.com; Max-Age=86400; Secure; HttpOnly; SameSite=Lax"
    );
    let p = p.without_max_age().without_domain().with_http_only(false);
    assert_eq!(
        p.set_cookie_header("v").unwrap(),
        "__Secure-sid=v; Path=/app; Secure; SameSite=Lax"
    );
}

#[test]
fn unsafe_policies_are_refused_at_configuration() {
    let host = CookiePolicy::new();
    assert_eq!(
        refused(host.clone().with_domain("example.com")),
        PolicyError::HostPrefixWithDomain
    );
    assert_eq!(
        refused(host.clone().with_path("/app")),
        PolicyError::HostPrefixPath
    );
    assert_eq!(
        refused(host.clone().with_secure(false).with_development_mode(true)),
        PolicyError::HostPrefixWithoutSecure
    );
    assert_eq!(
        refused(
            host.clone()
                .with_name("__HOST-x")
                .with_secure(false)
                .with_development_mode(true)
        ),
        PolicyError::HostPrefixWithoutSecure,
        "prefixes match case-insensitively"
    );
    assert_eq!(
        refused(
            host.clone()
                .with_name("__Secure-x")
                .with_secure(false)
                .with_development_mode(true)
        ),
        PolicyError::SecurePrefixWithoutSecure
    );
    assert_eq!(
        refused(CookiePolicy::development().with_same_site(SameSite::None)),
        PolicyError::SameSiteNoneWithoutSecure
    );
    assert_eq!(
        refused(host.clone().with_name("sid").with_secure(false)),
        PolicyError::InsecureOutsideDevelopment
    );
    for bad in ["", "a b", "a;b", "a=b", "é", "a\"", "a,b", "a\tb"] {
        assert_eq!(
            refused(host.clone().with_name(bad)),
            PolicyError::InvalidName,
            "{bad:?}"
        );
    }
    assert_eq!(
        refused(CookiePolicy::new().with_name("sid").with_path("app")),
        PolicyError::InvalidPath
    );
    assert_eq!(
        refused(CookiePolicy::new().with_name("sid").with_path("/a;b")),
        PolicyError::InvalidPath
    );
    assert_eq!(
        refused(
            CookiePolicy::new()
                .with_name("sid")
                .with_domain("exa mple.com")
        ),
        PolicyError::InvalidDomain
    );
    assert_eq!(
        refused(
            CookiePolicy::new()
                .with_name("sid")
                .with_domain("a.com; Secure")
        ),
        PolicyError::InvalidDomain
    );
    // SameSite=None with Secure is allowed.
    CookiePolicy::new()
        .with_same_site(SameSite::None)
        .validate()
        .unwrap();
    // Rendering refuses an invalid policy too.
    assert!(matches!(
        CookiePolicy::new()
            .with_domain("x.com")
            .set_cookie_header("v"),
        Err(CookieError::InvalidPolicy(
            PolicyError::HostPrefixWithDomain
        ))
    ));
}

#[test]
fn development_mode_is_plain_http_on_localhost_only() {
    let dev = CookiePolicy::development();
    dev.validate().unwrap();
    assert_eq!(dev.name(), "sesame");
    assert!(!dev.secure());
    assert!(dev.is_development());
    assert_eq!(
        dev.set_cookie_header("v").unwrap(),
        "sesame=v; Path=/; HttpOnly; SameSite=Strict"
    );
    for ok in [
        "localhost",
        "LOCALHOST:8080",
        "127.0.0.1",
        "127.0.0.1:3000",
        "[::1]",
        "[::1]:8080",
        "::1",
    ] {
        assert!(dev.allows_host(ok), "{ok}");
        dev.check_host(ok).unwrap();
    }
    for bad in [
        "example.com",
        "localhost.example.com",
        "127.0.0.2",
        "10.0.0.1",
        "[::2]",
        "localhost:",
        "localhost:x",
        "",
        "[::1]x",
    ] {
        assert!(!dev.allows_host(bad), "{bad}");
        assert_eq!(
            dev.check_host(bad),
            Err(CookieError::InvalidPolicy(PolicyError::DevelopmentModeHost))
        );
    }
    // Production policies serve any host.
    assert!(CookiePolicy::new().allows_host("example.com"));
    // The builder form is equivalent.
    let built = CookiePolicy::new()
        .with_name("sesame")
        .with_secure(false)
        .with_development_mode(true);
    assert_eq!(built, dev);
}

#[test]
fn removal_expires_the_cookie_with_the_same_attributes() {
    assert_eq!(
        CookiePolicy::new().removal_header().unwrap(),
        "__Host-sesame=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    );
    let p = CookiePolicy::new()
        .with_name("__Secure-sid")
        .with_domain("example.com")
        .with_path("/app")
        .with_max_age(Duration::from_secs(60));
    let h = p.removal_header().unwrap();
    assert!(
        h.starts_with("__Secure-sid=; Path=/app; Domain=example.com; Max-Age=0; Secure"),
        "{h}"
    );
    assert!(!h.contains("Max-Age=60"));
}

#[test]
fn oversized_cookies_are_an_error_not_a_silent_drop() {
    let p = CookiePolicy::new();
    let overhead = p.set_cookie_header("").unwrap().len();
    let fits = "a".repeat(MAX_COOKIE_BYTES - overhead);
    assert_eq!(p.set_cookie_header(&fits).unwrap().len(), MAX_COOKIE_BYTES);
    let too_big = "a".repeat(MAX_COOKIE_BYTES - overhead + 1);
    assert_eq!(
        p.set_cookie_header(&too_big),
        Err(CookieError::TooLarge {
            size: MAX_COOKIE_BYTES + 1,
            limit: 4096
        })
    );
    // Name + value alone over 4096 is of course refused as well.
    assert!(matches!(
        p.set_cookie_header(&"a".repeat(5000)),
        Err(CookieError::TooLarge { .. })
    ));
}

#[test]
fn values_a_cookie_cannot_hold_are_refused() {
    let p = CookiePolicy::new();
    for bad in ["a b", "a;b", "a,b", "a\"b", "a\\b", "é", "a\nb"] {
        assert_eq!(
            p.set_cookie_header(bad),
            Err(CookieError::InvalidCookieValue),
            "{bad:?}"
        );
    }
}
