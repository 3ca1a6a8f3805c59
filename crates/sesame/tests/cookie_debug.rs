//! `debug_cookie`: the operator's view of why a cookie does or does not open.

use std::time::Duration;

use serde_json::json;
use sesame::cookie::{
    CookieContents, CookiePolicy, FernetKey, InvalidReason, KeyRing, StatelessSessions,
    debug_cookie, seal_session_token,
};

const NOW: u64 = 1_700_000_000;
const TTL: Option<Duration> = Some(Duration::from_secs(3600));
const SPEC_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

#[test]
fn a_valid_session_cookie_is_reported_with_its_contents() {
    let keys = KeyRing::new(FernetKey::generate().unwrap());
    let token = "q1Vbm5d0Lr0HB1ko3F3UcTmTq0zXq0qSGfFq5HTsAAA";
    let value = seal_session_token(&keys, token, NOW).unwrap();
    let r = debug_cookie(&value, &keys, TTL, NOW + 600);
    assert!(r.valid);
    assert_eq!(r.reason, None);
    assert_eq!(r.key_index, Some(0));
    assert_eq!(r.issued_at, Some(NOW));
    assert_eq!(r.age_secs, Some(600));
    assert_eq!(r.time_left_secs, Some(3000));
    assert_eq!(r.contents, Some(CookieContents::Text(token.into())));
    let shown = serde_json::to_value(&r).unwrap();
    assert_eq!(shown["contents"], json!({"kind": "text", "value": token}));
    assert_eq!(shown["reason"], json!(null));
}

#[test]
fn a_stateless_session_is_shown_as_json_and_expiry_keeps_contents() {
    let keys = KeyRing::new(FernetKey::generate().unwrap());
    let s =
        StatelessSessions::new(keys.clone(), CookiePolicy::new(), Duration::from_secs(60)).unwrap();
    let mut session = s.issue(Some("ada".into()), Default::default(), NOW);
    session.insert("theme", json!("dark"));
    let value = s.seal(&session, NOW).unwrap();
    let r = debug_cookie(&value, &keys, Some(Duration::from_secs(60)), NOW + 100);
    assert!(!r.valid);
    assert_eq!(r.reason, Some(InvalidReason::Expired));
    assert_eq!(r.time_left_secs, Some(-40));
    match r.contents {
        Some(CookieContents::Json(v)) => {
            assert_eq!(v["uid"], json!("ada"));
            assert_eq!(v["data"]["theme"], json!("dark"));
        }
        other => panic!("expected JSON contents, got {other:?}"),
    }
    let shown = serde_json::to_value(debug_cookie(&value, &keys, None, NOW)).unwrap();
    assert_eq!(shown["valid"], json!(true));
    assert_eq!(shown["time_left_secs"], json!(null));
}

#[test]
fn each_failure_has_its_coarse_reason() {
    let key = FernetKey::parse(SPEC_KEY).unwrap();
    let keys = KeyRing::new(key.clone());
    let value = key.seal(b"\xff\x00binary", NOW).unwrap();

    let malformed = debug_cookie("%%%not base64", &keys, TTL, NOW);
    assert_eq!(malformed.reason, Some(InvalidReason::Malformed));
    assert_eq!(malformed.contents, None);
    assert_eq!(malformed.issued_at, None);

    let stranger = KeyRing::new(FernetKey::generate().unwrap());
    let wrong_key = debug_cookie(&value, &stranger, TTL, NOW);
    assert_eq!(wrong_key.reason, Some(InvalidReason::BadSignature));
    assert_eq!(
        wrong_key.contents, None,
        "nothing is decrypted without a valid MAC"
    );

    let future = debug_cookie(&value, &keys, TTL, NOW - 61);
    assert_eq!(future.reason, Some(InvalidReason::FromTheFuture));
    assert_eq!(future.age_secs, Some(-61));

    let ok = debug_cookie(&value, &keys, TTL, NOW);
    assert!(ok.valid);
    assert_eq!(
        ok.contents,
        Some(CookieContents::Binary("ff0062696e617279".into()))
    );
    assert_eq!(
        serde_json::to_value(&ok).unwrap()["contents"]["kind"],
        json!("binary")
    );
}

#[test]
fn the_spec_invalid_vectors_get_the_expected_reasons() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/fernet/invalid.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let keys = KeyRing::parse_list(SPEC_KEY).unwrap();
    // 1985-10-26T01:20:01-07:00 and 01:21:31.
    let t0 = 499_162_801;
    for case in cases {
        let desc = case["desc"].as_str().unwrap();
        let now = if desc == "expired TTL" { t0 + 90 } else { t0 };
        let r = debug_cookie(
            case["token"].as_str().unwrap(),
            &keys,
            Some(Duration::from_secs(60)),
            now,
        );
        assert!(!r.valid, "{desc}");
        let want = match desc {
            "incorrect mac" => InvalidReason::BadSignature,
            "far-future TS (unacceptable clock skew)" => InvalidReason::FromTheFuture,
            "expired TTL" => InvalidReason::Expired,
            _ => InvalidReason::Malformed,
        };
        assert_eq!(r.reason, Some(want), "{desc}");
    }
}

#[test]
fn an_old_key_is_named_by_its_index() {
    let old = FernetKey::generate().unwrap();
    let value = old.seal(b"x", NOW).unwrap();
    let keys = KeyRing::new(FernetKey::generate().unwrap()).with_old_key(old);
    assert_eq!(debug_cookie(&value, &keys, None, NOW).key_index, Some(1));
}
