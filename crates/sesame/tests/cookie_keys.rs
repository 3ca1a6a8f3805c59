//! Fernet keys and key rings: parsing, generation, redaction, rotation (MultiFernet semantics).

use std::time::Duration;

use sesame::cookie::{CookieError, FernetKey, KeyRing};
use zeroize::ZeroizeOnDrop;

const SPEC_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

#[test]
fn keys_parse_in_the_standard_form_and_round_trip() {
    let key = FernetKey::parse(SPEC_KEY).unwrap();
    assert_eq!(key.expose_base64().as_str(), SPEC_KEY);
    assert_eq!(SPEC_KEY.parse::<FernetKey>().unwrap(), key);
    // Without padding and with surrounding whitespace.
    assert_eq!(FernetKey::parse(&SPEC_KEY[..43]).unwrap(), key);
    assert_eq!(FernetKey::parse(&format!("  {SPEC_KEY}\n")).unwrap(), key);
}

#[test]
fn bad_keys_are_refused_without_echoing_them() {
    for bad in [
        "",
        "short",
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e=", // 31 bytes
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4e4=",
        "cw/0x689RpI+jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=", // standard, not URL-safe, alphabet
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e5=", // non-canonical last character
    ] {
        let err = FernetKey::parse(bad).unwrap_err();
        assert_eq!(err, CookieError::InvalidKey, "{bad:?}");
        assert!(!err.to_string().contains("cw_0x"));
    }
}

#[test]
fn generated_keys_are_random_and_usable() {
    let a = FernetKey::generate().unwrap();
    let b = FernetKey::generate().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.expose_base64().len(), 44);
    assert_eq!(FernetKey::parse(&a.expose_base64()).unwrap(), a);
    let token = a.seal(b"data", 100).unwrap();
    assert_eq!(&a.open(&token, None, 100).unwrap()[..], b"data");
    assert_eq!(b.open(&token, None, 100), Err(CookieError::InvalidToken));
}

#[test]
fn keys_never_show_in_debug_output() {
    let key = FernetKey::parse(SPEC_KEY).unwrap();
    assert_eq!(format!("{key:?}"), "FernetKey(<redacted>)");
    let ring = KeyRing::parse_list(&format!("{SPEC_KEY},{SPEC_KEY}")).unwrap();
    let shown = format!("{ring:?} {ring:#?}");
    assert!(!shown.contains("cw_0x"), "{shown}");
    assert!(!shown.contains("115"), "no raw bytes either: {shown}");
    assert_eq!(format!("{ring:?}"), "KeyRing(2 keys, <redacted>)");
}

#[test]
fn keys_zeroize_on_drop() {
    fn assert_zeroize_on_drop<T: ZeroizeOnDrop>() {}
    assert_zeroize_on_drop::<FernetKey>();
}

#[test]
fn key_lists_parse_primary_first() {
    let a = FernetKey::generate().unwrap();
    let b = FernetKey::generate().unwrap();
    let list = format!(
        " {} , {} ,",
        a.expose_base64().as_str(),
        b.expose_base64().as_str()
    );
    let ring = KeyRing::parse_list(&list).unwrap();
    assert_eq!(ring.len(), 2);
    assert!(!ring.is_empty());
    assert_eq!(ring.primary(), &a);
    assert_eq!(&ring.keys()[1], &b);
    assert_eq!(KeyRing::parse_list(""), Err(CookieError::NoKeys));
    assert_eq!(KeyRing::parse_list(" , "), Err(CookieError::NoKeys));
    assert_eq!(
        KeyRing::parse_list(&format!("{},nope", a.expose_base64().as_str())),
        Err(CookieError::InvalidKey)
    );
    assert_eq!(KeyRing::from_keys(vec![]), Err(CookieError::NoKeys));
}

#[test]
fn key_lists_come_from_the_environment() {
    // A variable name no other test uses; tests in this binary do not read it concurrently.
    let name = "SESAME_TEST_COOKIE_KEYS_KEYRING";
    if let Ok(want) = std::env::var("SESAME_TEST_EXPECT_PRIMARY") {
        // This is the child process started below, with the variable set.
        let ring = KeyRing::from_env_var(name).unwrap();
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.primary().expose_base64().as_str(), want);
        return;
    }
    assert_eq!(
        KeyRing::from_env_var(name),
        Err(CookieError::KeyEnvVar {
            name: name.to_owned()
        })
    );
    let a = FernetKey::generate().unwrap();
    // `std::env::set_var` is unsafe in edition 2024 (and unsafe code is forbidden here), so the
    // variable is set for a child process, as a deployment does.
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "key_lists_come_from_the_environment"])
        .env(name, format!("{},{}", a.expose_base64().as_str(), SPEC_KEY))
        .env("SESAME_TEST_EXPECT_PRIMARY", a.expose_base64().as_str())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

#[test]
fn the_first_key_seals_and_every_key_opens() {
    let old = FernetKey::generate().unwrap();
    let new = FernetKey::generate().unwrap();
    let old_ring = KeyRing::new(old.clone());
    let ring = KeyRing::new(new.clone()).with_old_key(old.clone());

    let old_token = old_ring.seal(b"old", 10).unwrap();
    assert_eq!(&ring.open(&old_token, None, 10).unwrap()[..], b"old");

    let new_token = ring.seal(b"new", 10).unwrap();
    assert_eq!(&new.open(&new_token, None, 10).unwrap()[..], b"new");
    assert_eq!(
        old.open(&new_token, None, 10),
        Err(CookieError::InvalidToken)
    );

    // Once the old key is dropped, its tokens stop opening.
    let after = KeyRing::new(new);
    assert_eq!(
        after.open(&old_token, None, 10),
        Err(CookieError::InvalidToken)
    );
}

#[test]
fn rotate_re_seals_under_the_primary_and_keeps_the_timestamp() {
    let old = FernetKey::generate().unwrap();
    let new = FernetKey::generate().unwrap();
    let ring = KeyRing::from_keys(vec![new.clone(), old.clone()]).unwrap();
    let token = old.seal(b"payload", 1_000).unwrap();

    let rotated = ring.rotate(&token).unwrap();
    assert_ne!(rotated, token);
    assert_eq!(
        sesame::cookie::fernet::unverified_timestamp(&rotated),
        Some(1_000)
    );
    assert_eq!(&new.open(&rotated, None, 1_000).unwrap()[..], b"payload");
    assert_eq!(
        old.open(&rotated, None, 1_000),
        Err(CookieError::InvalidToken)
    );
    // Rotation does not extend life: the TTL still counts from the original time.
    let ttl = Some(Duration::from_secs(100));
    assert_eq!(
        new.open(&rotated, ttl, 1_101),
        Err(CookieError::InvalidToken)
    );
    // Rotating works even for a token past any TTL (no TTL applies), but not for forgeries.
    assert!(ring.rotate(&token).is_ok());
    let stranger = KeyRing::new(FernetKey::generate().unwrap());
    assert_eq!(stranger.rotate(&token), Err(CookieError::InvalidToken));
    assert_eq!(ring.rotate("garbage"), Err(CookieError::InvalidToken));
}

#[test]
fn each_seal_uses_a_fresh_iv() {
    let key = FernetKey::generate().unwrap();
    let a = key.seal(b"same", 5).unwrap();
    let b = key.seal(b"same", 5).unwrap();
    assert_ne!(a, b);
}
