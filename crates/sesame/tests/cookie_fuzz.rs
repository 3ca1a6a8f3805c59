//! Property tests over the two parsers an attacker feeds: the Fernet token decoder and the
//! `Cookie` header parser. Properties: no panic, no forgery accepted (random tokens, tokens with
//! a valid structure but random MAC, bit-flips and edits of a valid token never open).
//!
//! Case count: `SESAME_FUZZ_CASES` is the total over all properties in this file (default
//! 20,000, fit for debug-mode CI). `SESAME_FUZZ_CASES=1000000 cargo test --release -p sesame
//! --test cookie_fuzz` runs a million.

use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sesame::cookie::{
    CookieError, KeyRing, debug_cookie, find_session_cookie, open_session_cookie,
    parse_cookie_header, seal_session_token,
};

const NOW: u64 = 1_700_000_000;
const TTL: Duration = Duration::from_secs(3600);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE;

/// Share of the total case count for each property, in per mille (sums to 1000).
fn config(per_mille: u32) -> ProptestConfig {
    let total: u32 = std::env::var("SESAME_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    ProptestConfig {
        cases: (total / 1000 * per_mille).max(1),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..ProptestConfig::default()
    }
}

struct Fixture {
    keys: KeyRing,
    token: String,
    value: String,
    raw: Vec<u8>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let keys = KeyRing::parse_list(
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=,AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )
    .unwrap();
    let token = "q1Vbm5d0Lr0HB1ko3F3UcTmTq0zXq0qSGfFq5HTsAAA".to_owned();
    let value = seal_session_token(&keys, &token, NOW).unwrap();
    let raw = B64.decode(&value).unwrap();
    Fixture {
        keys,
        token,
        value,
        raw,
    }
});

fn must_not_open(value: &str) {
    let f = &*FIXTURE;
    assert_eq!(
        f.keys.open(value, None, NOW),
        Err(CookieError::InvalidToken)
    );
    assert!(matches!(
        open_session_cookie(&f.keys, Some(value), TTL, NOW),
        Err(CookieError::InvalidToken)
    ));
}

#[test]
fn the_fixture_opens() {
    let f = &*FIXTURE;
    let opened = open_session_cookie(&f.keys, Some(&f.value), TTL, NOW).unwrap();
    assert_eq!(opened.as_str(), f.token);
}

proptest! {
    #![proptest_config(config(150))]
    #[test]
    fn arbitrary_strings_never_open(s in "(?s).{0,200}") {
        must_not_open(&s);
        prop_assert!(!debug_cookie(&s, &FIXTURE.keys, Some(TTL), NOW).valid);
    }
}

proptest! {
    #![proptest_config(config(150))]
    #[test]
    fn base64url_strings_never_open(s in "[A-Za-z0-9_=-]{0,240}") {
        must_not_open(&s);
    }
}

proptest! {
    #![proptest_config(config(150))]
    #[test]
    fn well_formed_tokens_with_random_bytes_never_open(
        ts in any::<u64>(),
        iv in any::<[u8; 16]>(),
        blocks in 1usize..8,
        body in proptest::collection::vec(any::<u8>(), 128),
        mac in any::<[u8; 32]>(),
    ) {
        let mut raw = vec![0x80u8];
        raw.extend_from_slice(&ts.to_be_bytes());
        raw.extend_from_slice(&iv);
        raw.extend_from_slice(&body[..blocks * 16]);
        raw.extend_from_slice(&mac);
        let token = B64.encode(&raw);
        must_not_open(&token);
        prop_assert_eq!(FIXTURE.keys.rotate(&token), Err(CookieError::InvalidToken));
    }
}

proptest! {
    #![proptest_config(config(200))]
    #[test]
    fn bit_flips_of_a_valid_token_never_open(
        flips in proptest::collection::vec(any::<proptest::sample::Index>(), 1..4),
        bits in proptest::collection::vec(0u8..8, 4),
    ) {
        let f = &*FIXTURE;
        let mut raw = f.raw.clone();
        for (i, index) in flips.iter().enumerate() {
            let at = index.index(raw.len());
            raw[at] ^= 1 << bits[i];
        }
        // Two flips of the same bit cancel out; make sure something changed.
        if raw == f.raw {
            raw[0] ^= 1;
        }
        let token = B64.encode(&raw);
        must_not_open(&token);
        must_not_open(token.trim_end_matches('='));
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(proptest::sample::Index, char),
    Delete(proptest::sample::Index),
    Insert(proptest::sample::Index, char),
    Truncate(proptest::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let ch = prop_oneof![
        proptest::char::range('A', 'Z'),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
        Just('-'),
        Just('_'),
        Just('='),
        any::<char>(),
    ];
    prop_oneof![
        (any::<proptest::sample::Index>(), ch.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
        any::<proptest::sample::Index>().prop_map(Edit::Delete),
        (any::<proptest::sample::Index>(), ch).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<proptest::sample::Index>().prop_map(Edit::Truncate),
    ]
}

proptest! {
    #![proptest_config(config(150))]
    #[test]
    fn edited_tokens_open_only_if_they_still_encode_the_same_bytes(
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let f = &*FIXTURE;
        let mut s: Vec<char> = f.value.chars().collect();
        for e in &edits {
            match e {
                Edit::Replace(i, c) if !s.is_empty() => { let at = i.index(s.len()); s[at] = *c; }
                Edit::Delete(i) if !s.is_empty() => { s.remove(i.index(s.len())); }
                Edit::Insert(i, c) => { let at = i.index(s.len() + 1); s.insert(at, *c); }
                Edit::Truncate(i) => s.truncate(i.index(s.len() + 1)),
                _ => {}
            }
        }
        let edited: String = s.into_iter().collect();
        let same_bytes = base64::engine::GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        )
        .decode(edited.as_bytes())
        .map(|b| b == f.raw)
        .unwrap_or(false);
        match open_session_cookie(&f.keys, Some(&edited), TTL, NOW) {
            Ok(token) => {
                // Only a different spelling of the very same token (padding dropped) may open.
                prop_assert!(same_bytes, "forgery accepted: {edited}");
                prop_assert_eq!(token.as_str(), f.token.as_str());
            }
            Err(e) => {
                prop_assert_eq!(e, CookieError::InvalidToken);
                prop_assert!(!same_bytes);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(100))]
    #[test]
    fn the_header_parser_takes_any_bytes(h in proptest::collection::vec(any::<u8>(), 0..300)) {
        for pair in parse_cookie_header(&h) {
            prop_assert!(!pair.name.is_empty());
            prop_assert!(!pair.name.contains(&b';') && !pair.value.contains(&b';'));
            prop_assert!(!pair.name.contains(&b'='));
            for edge in [pair.name.first(), pair.name.last()] {
                prop_assert!(!matches!(edge, Some(b' ' | b'\t')));
            }
        }
        let _ = find_session_cookie([&h[..]], "__Host-sesame");
        let _ = find_session_cookie([&h[..], &h[..]], "a");
    }
}

proptest! {
    #![proptest_config(config(100))]
    #[test]
    fn the_session_cookie_is_found_once_or_reported_ambiguous(
        pairs in proptest::collection::vec(
            (prop_oneof![Just("sid"), Just("sid2"), Just("x"), Just("SID")], "[A-Za-z0-9_=-]{0,20}", "[ \t]{0,2}"),
            0..8,
        ),
        split in any::<proptest::sample::Index>(),
    ) {
        let rendered: Vec<String> = pairs.iter().map(|(n, v, ws)| format!("{ws}{n}={v}{ws}")).collect();
        // Spread over two headers, as HTTP/2 may.
        let at = split.index(rendered.len() + 1);
        let headers = [rendered[..at].join(";"), rendered[at..].join("; ")];
        let expected: Vec<&String> = pairs.iter().filter(|(n, _, _)| *n == "sid").map(|(_, v, _)| v).collect();
        let got = find_session_cookie(&headers, "sid");
        match expected.len() {
            0 => prop_assert_eq!(got, Ok(None)),
            1 => prop_assert_eq!(got, Ok(Some(expected[0].as_str()))),
            n => prop_assert_eq!(got, Err(CookieError::Ambiguous { count: n })),
        }
    }
}
