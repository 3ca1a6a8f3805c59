//! Session-token guessing over real HTTP: a caller (API key and end-user
//! address) that presents too many invalid tokens or cookies has its invalid
//! ones answered 429, while valid sessions keep validating — for everyone,
//! the blocked caller included — and other end users of the same app are
//! unaffected. The block expires on the server's clock, and an unknown token
//! near a valid one takes as long to refuse as a random one.
//!
//! Everything here goes through one client, so one TCP peer: as in
//! production, where the app server relays every user's credentials.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use sesame_server::config::Dur;

const ATTACKER: &str = "203.0.113.66";
const HONEST: &str = "198.51.100.7";

/// Validates `value` (in `header`) for the end user at `ip` (as the app
/// sends it in `Sesame-Device-Ip`; `None`: no address).
async fn validate_for(s: &TestServer, ip: Option<&str>, header: &str, value: &str) -> (u16, Value) {
    let call = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .header(header, value)
        .json(json!({"device": {"user_agent": UA}}));
    match ip {
        Some(ip) => call.header("sesame-device-ip", ip).await,
        None => call.await,
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Issue 16 item 1: junk through the app server's connection and API key
/// blocks the address that sent it, and nobody's valid session.
#[tokio::test]
async fn an_attackers_junk_through_the_app_blocks_only_its_invalid_tokens() {
    let mut config = test_config();
    config.guard.max_invalid = 5;
    config.guard.window = Dur(Duration::from_secs(60));
    config.guard.block = Dur(Duration::from_secs(120));
    let s = TestServer::start(config).await;
    let (token, cookie, _) = s.create(Some("alice")).await;
    let (mallory_token, _, _) = s.create(Some("mallory")).await;
    let attacker = Some(ATTACKER);

    // Five invalid credentials of every kind: malformed, well-formed but
    // unknown, forged cookie. Each is a plain 401 invalid.
    let unknown = sesame::SessionToken::generate().unwrap();
    for (header, value) in [
        ("sesame-token", "not-a-token"),
        ("sesame-token", unknown.expose()),
        ("sesame-cookie", "forged-cookie-value"),
        ("sesame-token", unknown.expose()),
        ("sesame-cookie", &cookie[..cookie.len() - 2]),
    ] {
        let (st, b) = validate_for(&s, attacker, header, value).await;
        assert_eq!((st, b["code"].as_str()), (401, Some("invalid")), "{value}");
    }
    // Requests without any credential are not counted.
    for _ in 0..10 {
        s.post("/v1/session/validate")
            .key(VALIDATE_KEY)
            .header("sesame-device-ip", ATTACKER)
            .refused(401, "invalid")
            .await;
    }
    // The sixth is over the threshold: still answered 401, and blocks.
    let (st, _) = validate_for(&s, attacker, "sesame-token", unknown.expose()).await;
    assert_eq!(st, 401);
    let (st, b) = validate_for(&s, attacker, "sesame-token", unknown.expose()).await;
    assert_eq!(
        (st, b["code"].as_str()),
        (429, Some("too_many_invalid_tokens"))
    );
    // The body's device.ip names the same end user as the header.
    let (st, _) = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .token(unknown.expose())
        .json(json!({"device": {"user_agent": UA, "ip": ATTACKER}}))
        .await;
    assert_eq!(st, 429);
    // The same address through another API key (another app, or another
    // route of this one) is another caller.
    let (st, _) = s
        .get("/v1/session")
        .key(SESSIONS_KEY)
        .token("junk")
        .header("sesame-device-ip", ATTACKER)
        .await;
    assert_eq!(st, 401);
    let reply = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .token("junk")
        .header("sesame-device-ip", ATTACKER)
        .json(json!({"device": {"user_agent": UA}}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("120"));

    // A live, valid session is never refused by the guard: not for an
    // honest user of the same app, nor for the blocked address itself.
    for ip in [None, Some(HONEST), attacker] {
        let (st, b) = validate_for(&s, ip, "sesame-token", &token).await;
        assert_eq!(st, 200, "{ip:?}: {b}");
        let (st, b) = validate_for(&s, ip, "sesame-cookie", &cookie).await;
        assert_eq!(st, 200, "{ip:?}: {b}");
    }
    let (st, _) = validate_for(&s, attacker, "sesame-token", &mallory_token).await;
    assert_eq!(st, 200);
    // Another end user of the same app (same peer, same key), and the
    // app's requests without an address, get plain 401s for stale tokens.
    for ip in [Some(HONEST), None] {
        let (st, b) = validate_for(&s, ip, "sesame-token", unknown.expose()).await;
        assert_eq!((st, b["code"].as_str()), (401, Some("invalid")), "{ip:?}");
    }
    // The blocked address can still create sessions (no credential).
    let (st, _) = s
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .header("sesame-device-ip", ATTACKER)
        .json(json!({"user": "mallory"}))
        .await;
    assert_eq!(st, 201);

    let (_, text) = s.get("/metrics").await;
    let text = text.as_str().unwrap();
    // Six before the block, three refused with 429, one through another
    // key, two from the other callers.
    assert_eq!(metric(text, "sesame_invalid_tokens_total"), 12);
    assert_eq!(metric(text, "sesame_invalid_token_blocks_total"), 1);

    // The block ends on the server's clock.
    s.clock.advance(Duration::from_secs(119));
    let (st, _) = validate_for(&s, attacker, "sesame-token", unknown.expose()).await;
    assert_eq!(st, 429);
    s.clock.advance(Duration::from_secs(1));
    let (st, b) = validate_for(&s, attacker, "sesame-token", unknown.expose()).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("invalid")));
    s.shutdown().await;
}

#[tokio::test]
async fn the_guard_can_be_turned_off() {
    let mut config = test_config();
    config.guard.max_invalid = 0;
    let s = TestServer::start(config).await;
    for _ in 0..30 {
        let (st, _) = validate_for(&s, Some(ATTACKER), "sesame-token", "not-a-token").await;
        assert_eq!(st, 401);
    }
    let (_, text) = s.get("/metrics").await;
    let text = text.as_str().unwrap();
    assert_eq!(metric(text, "sesame_invalid_tokens_total"), 30);
    assert_eq!(metric(text, "sesame_invalid_token_blocks_total"), 0);
    s.shutdown().await;
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The store is keyed by SHA-256 of the token, so a token one character away
/// from a live one hashes to an unrelated key: refusing it costs the same as
/// refusing a random token. A coarse check (medians, a generous factor) that
/// no timing signal is large enough to measure over HTTP.
#[tokio::test]
async fn a_near_miss_token_is_refused_as_fast_as_a_random_one() {
    let mut config = test_config();
    config.guard.max_invalid = 0;
    let s = TestServer::start(config).await;
    let (token, _, _) = s.create(Some("alice")).await;
    let near_miss = |i: usize| -> String {
        // Change one character in the middle (not the last, whose spare bits
        // must stay zero): still well formed, unknown.
        let mut bytes = token.clone().into_bytes();
        let at = 1 + i % 40;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    // Warm up the connection and the code paths.
    for i in 0..20 {
        s.validate(&near_miss(i)).await;
        s.validate(sesame::SessionToken::generate().unwrap().expose())
            .await;
    }
    let (mut random, mut near) = (Vec::new(), Vec::new());
    for i in 0..300 {
        let r = sesame::SessionToken::generate().unwrap();
        let n = near_miss(i);
        let started = Instant::now();
        let (st, b) = s.validate(r.expose()).await;
        random.push(started.elapsed());
        assert_eq!((st, b["code"].as_str()), (401, Some("invalid")));
        let started = Instant::now();
        let (st, b) = s.validate(&n).await;
        near.push(started.elapsed());
        assert_eq!((st, b["code"].as_str()), (401, Some("invalid")));
    }
    let (random, near) = (median(random), median(near));
    let ratio = near.as_secs_f64() / random.as_secs_f64();
    eprintln!("median refusal: near-miss {near:?}, random {random:?}, ratio {ratio:.2}");
    assert!(
        (1.0 / 3.0..3.0).contains(&ratio),
        "median near-miss {near:?} vs random {random:?}"
    );
    // The valid token still works.
    let (st, _) = s.validate(&token).await;
    assert_eq!(st, 200);
    s.shutdown().await;
}
