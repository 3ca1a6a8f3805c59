//! Runs every case of the Fernet specification's test vectors (tests/data/fernet/, from the
//! Fernet spec repository): generate must reproduce the token, verify must open it, and every
//! invalid token must be refused with the one `InvalidToken` error.

use std::time::Duration;

use serde_json::Value;
use sesame::cookie::{CookieError, FernetKey, KeyRing};

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/fernet/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("vector file");
    serde_json::from_str(&text).expect("vector JSON")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses the vectors' RFC 3339 times, e.g. `1985-10-26T01:20:00-07:00`.
fn rfc3339(s: &str) -> u64 {
    let n = |a: usize, b: usize| -> i64 { s[a..b].parse().expect("digits") };
    let days = days_from_civil(n(0, 4), n(5, 7), n(8, 10));
    let mut secs = days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19);
    let offset = &s[19..];
    if offset != "Z" {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let off =
            (offset[1..3].parse::<i64>().unwrap() * 60 + offset[4..6].parse::<i64>().unwrap()) * 60;
        secs -= sign * off;
    }
    u64::try_from(secs).expect("after 1970")
}

#[test]
fn time_parser_is_right() {
    assert_eq!(rfc3339("1970-01-01T00:00:00Z"), 0);
    assert_eq!(rfc3339("1985-10-26T01:20:00-07:00"), 499_162_800);
    assert_eq!(rfc3339("2000-03-01T00:00:00+01:00"), 951_865_200);
}

#[test]
fn generate_vectors_reproduce_the_token() {
    let cases = load("generate.json");
    assert!(!cases.is_empty());
    for case in &cases {
        let key = FernetKey::parse(case["secret"].as_str().unwrap()).unwrap();
        let iv: Vec<u8> = case["iv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
            .collect();
        let iv: [u8; 16] = iv.try_into().unwrap();
        let now = rfc3339(case["now"].as_str().unwrap());
        let token = key.seal_with_iv(case["src"].as_str().unwrap().as_bytes(), now, &iv);
        assert_eq!(token, case["token"].as_str().unwrap());
    }
}

#[test]
fn verify_vectors_open_to_their_source() {
    let cases = load("verify.json");
    assert!(!cases.is_empty());
    for case in &cases {
        let key = FernetKey::parse(case["secret"].as_str().unwrap()).unwrap();
        let now = rfc3339(case["now"].as_str().unwrap());
        let ttl = Duration::from_secs(case["ttl_sec"].as_u64().unwrap());
        let token = case["token"].as_str().unwrap();
        let plain = key.open(token, Some(ttl), now).unwrap();
        assert_eq!(&plain[..], case["src"].as_str().unwrap().as_bytes());
        // The same through a key ring, and without padding.
        let ring = KeyRing::new(key.clone());
        assert_eq!(&ring.open(token, Some(ttl), now).unwrap()[..], b"hello");
        let unpadded = token.trim_end_matches('=');
        assert_ne!(unpadded, token);
        assert_eq!(&key.open(unpadded, Some(ttl), now).unwrap()[..], b"hello");
    }
}

#[test]
fn invalid_vectors_are_all_refused_with_one_error() {
    let cases = load("invalid.json");
    assert_eq!(cases.len(), 8, "every spec case is present");
    for case in &cases {
        let desc = case["desc"].as_str().unwrap();
        let key = FernetKey::parse(case["secret"].as_str().unwrap()).unwrap();
        let now = rfc3339(case["now"].as_str().unwrap());
        let ttl = Duration::from_secs(case["ttl_sec"].as_u64().unwrap());
        let token = case["token"].as_str().unwrap();
        assert_eq!(
            key.open(token, Some(ttl), now),
            Err(CookieError::InvalidToken),
            "{desc}"
        );
        let ring = KeyRing::new(key);
        assert_eq!(
            ring.open(token, Some(ttl), now),
            Err(CookieError::InvalidToken),
            "{desc}"
        );
    }
}

#[test]
fn clock_skew_is_sixty_seconds_at_most() {
    let key = FernetKey::parse("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
    let token = key.seal(b"x", 1_000).unwrap();
    assert!(
        key.open(&token, None, 940).is_ok(),
        "exactly 60 s ahead is accepted"
    );
    assert_eq!(key.open(&token, None, 939), Err(CookieError::InvalidToken));
    let ttl = Some(Duration::from_secs(30));
    assert!(
        key.open(&token, ttl, 1_030).is_ok(),
        "age == ttl is accepted"
    );
    assert_eq!(key.open(&token, ttl, 1_031), Err(CookieError::InvalidToken));
    assert!(
        key.open(&token, None, u64::MAX).is_ok(),
        "no TTL: no age limit"
    );
}
