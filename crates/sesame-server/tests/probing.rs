//! Session-token guessing over real HTTP: a client address that presents too
//! many invalid tokens or cookies is answered 429 while other clients keep
//! working, the block expires on the server's clock, and an unknown token
//! near a valid one takes as long to refuse as a random one.
//!
//! The "other client" connects from 127.0.0.2: on Linux every 127/8 address
//! is local, so binding the client socket there gives the server a second
//! peer address without any trusted header.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use sesame_server::config::Dur;

fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)))
        .build()
        .unwrap()
}

async fn validate_via(
    s: &TestServer,
    http: &reqwest::Client,
    header: &str,
    value: &str,
) -> (u16, Value) {
    s.post("/v1/session/validate")
        .via(http)
        .key(VALIDATE_KEY)
        .header(header, value)
        .json(json!({"device": {"user_agent": UA}}))
        .await
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test]
async fn many_invalid_tokens_from_one_address_get_429_and_others_keep_working() {
    let mut config = test_config();
    config.guard.max_invalid = 5;
    config.guard.window = Dur(Duration::from_secs(60));
    config.guard.block = Dur(Duration::from_secs(120));
    let s = TestServer::start(config).await;
    let (token, cookie, _) = s.create(Some("alice")).await;
    let attacker = client_from(2);

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
        let (st, b) = validate_via(&s, &attacker, header, value).await;
        assert_eq!((st, b["code"].as_str()), (401, Some("invalid")), "{value}");
    }
    // Requests without any credential are not counted.
    for _ in 0..10 {
        let (st, b) = s
            .post("/v1/session/validate")
            .via(&attacker)
            .key(VALIDATE_KEY)
            .await;
        assert_eq!((st, b["code"].as_str()), (401, Some("invalid")));
    }
    // The sixth is over the threshold: still answered 401, and blocks.
    let (st, _) = validate_via(&s, &attacker, "sesame-token", unknown.expose()).await;
    assert_eq!(st, 401);
    let (st, b) = validate_via(&s, &attacker, "sesame-token", unknown.expose()).await;
    assert_eq!(
        (st, b["code"].as_str()),
        (429, Some("too_many_invalid_tokens"))
    );
    // Even a valid token is refused from the blocked address...
    let (st, _) = validate_via(&s, &attacker, "sesame-token", &token).await;
    assert_eq!(st, 429);
    let reply = s
        .post("/v1/session/validate")
        .via(&attacker)
        .key(VALIDATE_KEY)
        .cookie(&cookie)
        .json(json!({"device": {"user_agent": UA}}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("120"));
    // ...but the blocked address can still create sessions (no credential).
    let (st, _) = s
        .post("/v1/sessions")
        .via(&attacker)
        .key(SESSIONS_KEY)
        .json(json!({"user": "mallory"}))
        .await;
    assert_eq!(st, 201);

    // Another client (127.0.0.1) is unaffected: valid token and cookie work,
    // and its own invalid token is a plain 401.
    let (st, b) = s.validate(&token).await;
    assert_eq!(st, 200, "{b}");
    let (st, _) = validate_via(&s, &s.http, "sesame-cookie", &cookie).await;
    assert_eq!(st, 200);
    let (st, b) = s.validate(unknown.expose()).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("invalid")));

    let (_, text) = s.get("/metrics").await;
    let text = text.as_str().unwrap();
    // Six from the attacker before the block, one from the other client.
    assert_eq!(metric(text, "sesame_invalid_tokens_total"), 7);
    assert_eq!(metric(text, "sesame_invalid_token_blocks_total"), 1);

    // The block ends on the server's clock.
    s.clock.advance(Duration::from_secs(119));
    let (st, _) = validate_via(&s, &attacker, "sesame-token", &token).await;
    assert_eq!(st, 429);
    s.clock.advance(Duration::from_secs(1));
    let (st, b) = validate_via(&s, &attacker, "sesame-token", &token).await;
    assert_eq!(st, 200, "{b}");
    s.shutdown().await;
}

#[tokio::test]
async fn the_guard_can_be_turned_off() {
    let mut config = test_config();
    config.guard.max_invalid = 0;
    let s = TestServer::start(config).await;
    let attacker = client_from(2);
    for _ in 0..30 {
        let (st, _) = validate_via(&s, &attacker, "sesame-token", "not-a-token").await;
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
