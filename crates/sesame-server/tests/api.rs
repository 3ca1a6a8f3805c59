//! End-to-end tests of the HTTP API over real HTTP: every endpoint, every
//! error code the API can produce without breaking a store, and the scopes.
//! Every response is checked against the OpenAPI document.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

async fn server() -> TestServer {
    TestServer::start(test_config()).await
}

#[tokio::test]
async fn create_then_validate_by_token_and_by_cookie() {
    let s = server().await;
    let (token, cookie, id) = s.create(Some("alice")).await;
    assert_eq!(token.len(), 43);
    let (status, body) = s.validate(&token).await;
    assert_eq!(status, 200);
    assert_eq!(body["session"]["id"], id);
    assert_eq!(body["session"]["user"], "alice");
    assert_eq!(body["session"]["data"]["n"], 0);
    assert_eq!(body["renewed"], Value::Null);
    let (status, body) = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .cookie(&cookie)
        .json(json!({"device": {"user_agent": UA}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["session"]["id"], id);
    s.shutdown().await;
}

#[tokio::test]
async fn api_keys_and_scopes() {
    let s = server().await;
    let (token, _, id) = s.create(Some("bob")).await;
    let body = json!({});
    // No key, wrong key, malformed header.
    s.post("/v1/sessions")
        .json(body.clone())
        .refused(401, "missing_api_key")
        .await;
    s.post("/v1/sessions")
        .key("sk_nope")
        .json(body.clone())
        .refused(401, "invalid_api_key")
        .await;
    s.post("/v1/sessions")
        .header("authorization", "Basic abc")
        .json(body.clone())
        .refused(401, "missing_api_key")
        .await;
    // A validate-only key cannot create, read or administer.
    s.post("/v1/sessions")
        .key(VALIDATE_KEY)
        .json(body.clone())
        .refused(403, "forbidden")
        .await;
    let (st, _) = s.get("/v1/session").key(VALIDATE_KEY).token(&token).await;
    assert_eq!(st, 403);
    // A sessions key cannot administer.
    for (method, path) in [
        ("GET", "/v1/users/bob/sessions".to_owned()),
        ("POST", "/v1/users/bob/revoke".to_owned()),
        ("GET", format!("/v1/sessions/{id}")),
        ("POST", format!("/v1/sessions/{id}/revoke")),
        ("POST", "/v1/cleanup".to_owned()),
        ("GET", "/v1/session/inspect".to_owned()),
    ] {
        s.request(method, &path)
            .key(SESSIONS_KEY)
            .token(&token)
            .refused(403, "forbidden")
            .await;
    }
    let (st, _) = s
        .post("/v1/cookies/decode")
        .key(SESSIONS_KEY)
        .json(json!({"cookie": "x"}))
        .await;
    assert_eq!(st, 403);
    // The API key is checked before the body is read.
    s.post("/v1/sessions")
        .header("content-type", "text/plain")
        .refused(401, "missing_api_key")
        .await;
    // Admin implies every scope.
    let (st, _) = s.post("/v1/sessions").key(ADMIN_KEY).json(body).await;
    assert_eq!(st, 201);
    let (st, _) = s
        .post("/v1/session/validate")
        .key(ADMIN_KEY)
        .token(&token)
        .json(json!({"device": {"user_agent": UA}}))
        .await;
    assert_eq!(st, 200);
    s.shutdown().await;
}

#[tokio::test]
async fn validate_reports_why_a_session_is_refused() {
    let s = server().await;
    let check = |status: u16, body: &Value, code: &str, reason: Option<&str>| {
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["reason"].as_str(), reason, "{body}");
    };
    // No credential, a malformed token, an unknown token, a forged cookie.
    let (st, b) = s.post("/v1/session/validate").key(VALIDATE_KEY).await;
    check(st, &b, "invalid", None);
    let (st, b) = s.validate("not-a-token").await;
    check(st, &b, "invalid", None);
    let (st, b) = s.validate(&"A".repeat(43)).await;
    check(st, &b, "invalid", None);
    let (st, b) = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .cookie("gAAAAAforged")
        .await;
    check(st, &b, "invalid", None);
    // Both credentials at once.
    let (token, cookie, _) = s.create(None).await;
    s.post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .token(&token)
        .cookie(&cookie)
        .refused(400, "ambiguous_credential")
        .await;
    // Logged out.
    let (st, b) = s
        .delete("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .await;
    assert_eq!((st, b["ended"].as_bool()), (200, Some(true)));
    let (st, b) = s.validate(&token).await;
    check(st, &b, "logged_out", Some("logged_out"));
    let (st, b) = s
        .delete("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .await;
    assert_eq!((st, b["ended"].as_bool()), (200, Some(false)));
    // Device mismatch ends the session.
    let (token, _, _) = s.create(Some("carol")).await;
    let (st, b) = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .token(&token)
        .json(json!({"device": {"user_agent": "curl/8"}}))
        .await;
    check(st, &b, "device_mismatch", Some("device_mismatch"));
    let (st, b) = s.validate(&token).await;
    check(st, &b, "device_mismatch", Some("device_mismatch"));
    // Idle and absolute expiry (the clock moves, nothing sleeps).
    let (idle, _, _) = s.create(None).await;
    s.clock.advance(Duration::from_secs(31 * 60));
    let (st, b) = s.validate(&idle).await;
    check(st, &b, "expired", Some("expired_idle"));
    let (abs, _, _) = s.create(None).await;
    for _ in 0..24 {
        s.clock.advance(Duration::from_secs(29 * 60));
        assert_eq!(s.validate(&abs).await.0, 200);
    }
    s.clock.advance(Duration::from_secs(25 * 60));
    let (st, b) = s.validate(&abs).await;
    check(st, &b, "expired", Some("expired_absolute"));
    // An authentic cookie older than the absolute lifetime.
    let (_, old_cookie, _) = s.create(None).await;
    s.clock.advance(Duration::from_secs(13 * 3600));
    let (st, b) = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .cookie(&old_cookie)
        .await;
    check(st, &b, "expired", Some("cookie_expired"));
    s.shutdown().await;
}

#[tokio::test]
async fn eviction_and_revocation_are_reported() {
    let s = server().await;
    let (first, _, first_id) = s.create(Some("dave")).await;
    for _ in 0..4 {
        s.clock.advance(Duration::from_secs(1));
        s.create(Some("dave")).await;
    }
    let (st, b) = s
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": "dave"}))
        .await;
    assert_eq!(st, 201);
    assert_eq!(b["evicted"], json!([first_id]));
    s.validate(&first).refused(401, "evicted").await;

    let (st, b) = s.get("/v1/users/dave/sessions").key(ADMIN_KEY).await;
    assert_eq!(st, 200);
    let sessions = b["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 5);
    let keep = sessions[0]["id"].as_str().unwrap().to_owned();
    let (st, b) = s
        .post("/v1/users/dave/revoke")
        .key(ADMIN_KEY)
        .json(json!({"except_id": keep}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(b["revoked"].as_array().unwrap().len(), 4);
    let (_, b) = s.get("/v1/users/dave/sessions").key(ADMIN_KEY).await;
    assert_eq!(b["sessions"].as_array().unwrap().len(), 1);
    // All but the caller's own session, by token.
    let (mine, _, _) = s.create(Some("dave")).await;
    let (st, b) = s
        .post("/v1/users/dave/revoke")
        .key(ADMIN_KEY)
        .json(json!({"except_token": mine}))
        .await;
    assert_eq!((st, b["revoked"].as_array().unwrap().len()), (200, 1));
    assert_eq!(s.validate(&mine).await.0, 200);
    // Everything.
    let (st, b) = s.post("/v1/users/dave/revoke").key(ADMIN_KEY).await;
    assert_eq!((st, b["revoked"].as_array().unwrap().len()), (200, 1));
    let (st, b) = s.validate(&mine).await;
    assert_eq!(
        (st, b["code"].as_str(), b["reason"].as_str()),
        (401, Some("revoked"), Some("revoked"))
    );
    // Bad requests.
    s.post("/v1/users/dave/revoke")
        .key(ADMIN_KEY)
        .json(json!({"except_id": "zz"}))
        .refused(400, "invalid_session_id")
        .await;
    s.post("/v1/users/dave/revoke")
        .key(ADMIN_KEY)
        .json(json!({"except_id": keep, "except_token": mine}))
        .refused(400, "invalid_request")
        .await;
    let long = "u".repeat(300);
    s.get(format!("/v1/users/{long}/sessions"))
        .key(ADMIN_KEY)
        .refused(400, "invalid_user_id")
        .await;
    s.shutdown().await;
}

#[tokio::test]
async fn data_get_patch_increment_and_their_errors() {
    let s = server().await;
    let (token, _, _) = s.create(Some("erin")).await;
    let (st, b) = s.get("/v1/session").key(SESSIONS_KEY).token(&token).await;
    assert_eq!(st, 200);
    assert_eq!(b["version"], 1);
    let (st, b) = s
        .patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({
            "set": {"theme": "dark", "cart": [1, 2]},
            "remove": ["n"],
            "expected_version": 1
        }))
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["version"], 2);
    assert_eq!(b["data"], json!({"theme": "dark", "cart": [1, 2]}));
    // A stale version.
    let (st, b) = s
        .patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({"set": {"theme": "light"}, "expected_version": 1}))
        .await;
    assert_eq!(
        (st, b["code"].as_str(), b["current_version"].as_u64()),
        (409, Some("conflict"), Some(2))
    );
    // Atomic increment.
    for expected in [1, 2, 7] {
        let by = if expected == 7 { 5 } else { 1 };
        let (st, b) = s
            .post("/v1/session/increment")
            .key(SESSIONS_KEY)
            .token(&token)
            .json(json!({"key": "visits", "by": by}))
            .await;
        assert_eq!((st, b["value"].as_i64()), (200, Some(expected)));
    }
    s.post("/v1/session/increment")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({"key": "theme"}))
        .refused(422, "not_an_integer")
        .await;
    s.post("/v1/session/increment")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({"key": ""}))
        .refused(400, "invalid_key")
        .await;
    s.post("/v1/session/increment")
        .key(SESSIONS_KEY)
        .token(&token)
        .refused(400, "invalid_json")
        .await;
    // Over the policy's data size, and over the body limit.
    s.patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({"set": {"big": "x".repeat(70_000)}}))
        .refused(413, "data_too_large")
        .await;
    s.patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({"set": {"big": "x".repeat(300_000)}}))
        .refused(413, "payload_too_large")
        .await;
    // That body was not read to its end: the answer closes the connection,
    // so the client's next request goes on a fresh one.
    let reply = s
        .patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({"set": {"big": "x".repeat(300_000)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status, 413);
    assert_eq!(reply.header("connection"), Some("close"));
    // Malformed bodies.
    s.patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({"sett": {}}))
        .refused(400, "invalid_json")
        .await;
    s.patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .raw("text/plain", "set=1")
        .refused(415, "unsupported_media_type")
        .await;
    s.patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .raw("application/json", "{not json")
        .refused(400, "invalid_json")
        .await;
    // Creating with a bad user id.
    s.post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": ""}))
        .refused(400, "invalid_user_id")
        .await;
    // Reading an ended session.
    s.delete("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .await;
    s.get("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .refused(401, "logged_out")
        .await;
    s.patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({"set": {"a": 1}}))
        .refused(401, "logged_out")
        .await;
    s.shutdown().await;
}

#[tokio::test]
async fn rotate_and_login() {
    let s = server().await;
    let (anon, _, anon_id) = s.create(None).await;
    let (st, b) = s
        .post("/v1/session/rotate")
        .key(SESSIONS_KEY)
        .token(&anon)
        .json(json!({"user": "frank"}))
        .await;
    assert_eq!(st, 200);
    let logged_in = b["token"].as_str().unwrap().to_owned();
    assert_ne!(b["session"]["id"], anon_id);
    assert_eq!(b["session"]["user"], "frank");
    assert!(b["cookie"].is_string());
    s.validate(&anon).refused(401, "rotated").await;
    let (st, b) = s.validate(&logged_in).await;
    assert_eq!((st, b["session"]["user"].as_str()), (200, Some("frank")));
    let (st, b) = s
        .post("/v1/session/rotate")
        .key(SESSIONS_KEY)
        .token(&logged_in)
        .await;
    assert_eq!((st, b["session"]["user"].as_str()), (200, Some("frank")));
    s.shutdown().await;
}

#[tokio::test]
async fn renewal_hands_out_a_new_token_and_cookie() {
    let mut config = test_config();
    config.policy.renewal_interval = sesame_server::config::Dur(Duration::from_secs(600));
    let s = TestServer::start(config).await;
    let (token, _, _) = s.create(None).await;
    s.clock.advance(Duration::from_secs(601));
    let (st, b) = s.validate(&token).await;
    assert_eq!(st, 200);
    let renewed = b["renewed"]["token"].as_str().unwrap();
    let cookie = b["renewed"]["cookie"].as_str().unwrap();
    assert_eq!(
        b["renewed"]["set_cookie"].as_str().unwrap(),
        format!("__Host-sesame={cookie}; {STRICT_ATTRIBUTES}")
    );
    assert_eq!(s.validate(renewed).await.0, 200);
    s.shutdown().await;
}

const STRICT_ATTRIBUTES: &str = "Path=/; Secure; HttpOnly; SameSite=Strict";
const STRICT_REMOVAL: &str = "__Host-sesame=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict; Expires=Thu, 01 Jan 1970 00:00:00 GMT";

#[tokio::test]
async fn the_service_hands_over_the_cookie() {
    let s = server().await;
    // The policy, for a client to know which cookie to read.
    let (st, b) = s.get("/v1/cookie-policy").key(VALIDATE_KEY).await;
    assert_eq!(st, 200);
    assert_eq!(
        b,
        json!({"name": "__Host-sesame", "path": "/", "domain": null, "secure": true,
               "http_only": true, "same_site": "Strict", "development": false})
    );
    s.get("/v1/cookie-policy")
        .refused(401, "missing_api_key")
        .await;
    // Create and rotate hand out the complete Set-Cookie value.
    let (st, b) = s
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"device": {"user_agent": UA}}))
        .await;
    assert_eq!(st, 201);
    let cookie = b["cookie"].as_str().unwrap();
    assert_eq!(
        b["set_cookie"].as_str().unwrap(),
        format!("__Host-sesame={cookie}; {STRICT_ATTRIBUTES}")
    );
    let (st, b) = s
        .post("/v1/session/rotate")
        .key(SESSIONS_KEY)
        .cookie(cookie)
        .json(json!({"user": "gina"}))
        .await;
    assert_eq!(st, 200);
    let token = b["token"].as_str().unwrap().to_owned();
    let cookie = b["cookie"].as_str().unwrap().to_owned();
    assert_eq!(
        b["set_cookie"].as_str().unwrap(),
        format!("__Host-sesame={cookie}; {STRICT_ATTRIBUTES}")
    );
    // Logout hands out the removal value.
    let (st, b) = s
        .delete("/v1/session")
        .key(SESSIONS_KEY)
        .cookie(&cookie)
        .await;
    assert_eq!(st, 200);
    assert_eq!(b, json!({"ended": true, "clear_cookie": STRICT_REMOVAL}));
    // Every 401 refusing a presented session carries it: ended, forged,
    // unknown, on every session route.
    let (st, b) = s.validate(&token).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("logged_out")));
    assert_eq!(b["clear_cookie"], STRICT_REMOVAL);
    for (method, path) in [
        ("POST", "/v1/session/validate"),
        ("GET", "/v1/session"),
        ("PATCH", "/v1/session"),
        ("DELETE", "/v1/session"),
        ("POST", "/v1/session/rotate"),
    ] {
        let (st, b) = s
            .request(method, path)
            .key(SESSIONS_KEY)
            .cookie("gAAAAAforged")
            .await;
        assert_eq!((st, b["code"].as_str()), (401, Some("invalid")), "{path}");
        assert_eq!(b["clear_cookie"], STRICT_REMOVAL, "{method} {path}");
    }
    // Not when no session was presented, nor when the API key is the
    // problem (the app's key, not its user's cookie, is wrong).
    let (st, b) = s.post("/v1/session/validate").key(VALIDATE_KEY).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("invalid")));
    assert!(b.get("clear_cookie").is_none(), "{b}");
    let (st, b) = s
        .post("/v1/session/validate")
        .key("sk_nope")
        .token(&token)
        .await;
    assert_eq!((st, b["code"].as_str()), (401, Some("invalid_api_key")));
    assert!(b.get("clear_cookie").is_none(), "{b}");
    s.shutdown().await;
}

#[tokio::test]
async fn the_configured_cookie_policy_reaches_every_answer() {
    let mut config = test_config();
    config.cookie.development = true;
    config.cookie.same_site = sesame_server::config::cookie::SameSiteSetting::Lax;
    config.cookie.path = "/app".into();
    let s = TestServer::start(config).await;
    let (st, b) = s.get("/v1/cookie-policy").key(VALIDATE_KEY).await;
    assert_eq!(st, 200);
    assert_eq!(
        b,
        json!({"name": "sesame", "path": "/app", "domain": null, "secure": false,
               "http_only": true, "same_site": "Lax", "development": true})
    );
    let (token, cookie, _) = s.create(None).await;
    let (_, b) = s
        .delete("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .await;
    assert_eq!(
        b["clear_cookie"],
        "sesame=; Path=/app; Max-Age=0; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    );
    let (st, b) = s
        .post("/v1/session/rotate")
        .key(SESSIONS_KEY)
        .cookie(&cookie)
        .await;
    assert_eq!((st, b["code"].as_str()), (401, Some("logged_out")));
    assert!(
        b["clear_cookie"]
            .as_str()
            .unwrap()
            .starts_with("sesame=; Path=/app;")
    );
    let (st, b) = s
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({}))
        .await;
    assert_eq!(st, 201);
    assert_eq!(
        b["set_cookie"].as_str().unwrap(),
        format!(
            "sesame={}; Path=/app; HttpOnly; SameSite=Lax",
            b["cookie"].as_str().unwrap()
        )
    );
    s.shutdown().await;
}

#[tokio::test]
async fn inspect_decode_and_cleanup() {
    let s = server().await;
    let (token, cookie, id) = s.create(Some("gina")).await;
    let (st, b) = s
        .get("/v1/session/inspect")
        .key(ADMIN_KEY)
        .token(&token)
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        (b["exists"].as_bool(), b["live"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(b["idle_seconds_left"], 1800);
    assert_eq!(b["user"], "gina");
    let (st, b) = s.get(format!("/v1/sessions/{id}")).key(ADMIN_KEY).await;
    assert_eq!((st, b["data"]["n"].as_i64()), (200, Some(0)));
    s.get("/v1/sessions/nothex")
        .key(ADMIN_KEY)
        .refused(400, "invalid_session_id")
        .await;
    let unknown = "0".repeat(64);
    let (st, b) = s
        .get(format!("/v1/sessions/{unknown}"))
        .key(ADMIN_KEY)
        .await;
    assert_eq!((st, b["exists"].as_bool()), (200, Some(false)));
    // Cookie decoding never shows the token.
    let (st, b) = s
        .post("/v1/cookies/decode")
        .key(ADMIN_KEY)
        .json(json!({"cookie": cookie}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        (b["valid"].as_bool(), b["session_id"].as_str()),
        (Some(true), Some(id.as_str()))
    );
    assert!(!b.to_string().contains(&token));
    let (st, b) = s
        .post("/v1/cookies/decode")
        .key(ADMIN_KEY)
        .json(json!({"cookie": "zzz"}))
        .await;
    assert_eq!(
        (st, b["valid"].as_bool(), b["reason"].as_str()),
        (200, Some(false), Some("malformed"))
    );
    let (st, _) = s
        .post("/v1/cookies/decode")
        .key(ADMIN_KEY)
        .json(json!({}))
        .await;
    assert_eq!(st, 400);
    // Revoke by id, then inspect shows the reason.
    let (st, b) = s
        .post(format!("/v1/sessions/{id}/revoke"))
        .key(ADMIN_KEY)
        .await;
    assert_eq!((st, b["ended"].as_bool()), (200, Some(true)));
    let (_, b) = s.get(format!("/v1/sessions/{id}")).key(ADMIN_KEY).await;
    assert_eq!(
        (b["live"].as_bool(), b["end_reason"].as_str()),
        (Some(false), Some("revoked"))
    );
    // Cleanup ends what expired.
    s.create(None).await;
    s.create(None).await;
    s.clock.advance(Duration::from_secs(3600));
    let (st, b) = s.post("/v1/cleanup").key(ADMIN_KEY).await;
    assert_eq!(st, 200);
    assert_eq!(b["expired"], 2);
    let (_, metrics) = s.get("/metrics").await;
    let metrics = metrics.as_str().unwrap();
    assert!(metrics.contains("sesame_cleanup_runs_total 1"), "{metrics}");
    assert!(
        metrics.contains("sesame_sessions_ended_total{reason=\"expired_idle\"} 2"),
        "{metrics}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn operations_endpoints_and_generic_errors() {
    let s = server().await;
    let (st, b) = s.get("/healthz").await;
    assert_eq!((st, b["status"].as_str()), (200, Some("ok")));
    let (st, b) = s.get("/readyz").await;
    assert_eq!((st, b["store"].as_str()), (200, Some("memory")));
    let (st, doc) = s.get("/openapi.json").await;
    assert_eq!((st, &doc), (200, &s.doc));
    let (token, _, _) = s.create(Some("hank")).await;
    s.validate(&token).await;
    s.validate("bad").await;
    let (st, m) = s.get("/metrics").await;
    assert_eq!(st, 200);
    let m = m.as_str().unwrap();
    for name in [
        "sesame_sessions_active 1",
        "sesame_sessions_created_total 1",
        "sesame_validate_duration_seconds_count{outcome=\"ok\"} 1",
        "sesame_validate_duration_seconds_count{outcome=\"invalid\"} 1",
        "sesame_store_errors_total 0",
        "sesame_cleanup_scanned_total",
        "sesame_cleanup_deleted_total",
        "sesame_cleanup_duration_seconds",
    ] {
        assert!(m.contains(name), "metrics lack {name}:\n{m}");
    }
    s.get("/nowhere").refused(404, "not_found").await;
    s.request("PUT", "/v1/sessions")
        .key(ADMIN_KEY)
        .refused(405, "method_not_allowed")
        .await;
    let big = "x".repeat(20_000);
    s.get("/healthz")
        .header("x-padding", &big)
        .refused(431, "headers_too_large")
        .await;
    s.shutdown().await;
}

/// What API fuzzing (`scripts/api-fuzz.sh`) found, each fixed: a path
/// segment that is not UTF-8 got axum's plain-text 400; a JSON array was
/// read as a body object (`[null, null]` revoked every session of a user)
/// and as `device`; a malformed `except_token` was a 401 as if the
/// credential had failed; integers written `2.0`, which the document's
/// `integer` allows, were refused.
#[tokio::test]
async fn requests_found_by_api_fuzzing_get_typed_answers() {
    let s = server().await;
    for (method, path, code) in [
        ("GET", "/v1/users/%FF/sessions", "invalid_user_id"),
        ("POST", "/v1/users/%FF/revoke", "invalid_user_id"),
        ("GET", "/v1/sessions/%FF", "invalid_session_id"),
        ("POST", "/v1/sessions/%C3%28/revoke", "invalid_session_id"),
    ] {
        s.request(method, path)
            .key(ADMIN_KEY)
            .refused(400, code)
            .await;
    }

    let (token, _, _) = s.create(Some("fuzz")).await;
    let h = [("sesame-token", token.as_str())];
    for (method, path, key, headers, body) in [
        (
            "POST",
            "/v1/users/fuzz/revoke",
            ADMIN_KEY,
            &[][..],
            json!([null, null]),
        ),
        (
            "POST",
            "/v1/sessions",
            SESSIONS_KEY,
            &[][..],
            json!({"device": [UA]}),
        ),
        (
            "POST",
            "/v1/session/validate",
            VALIDATE_KEY,
            &h[..],
            json!({"device": [UA, null]}),
        ),
        (
            "PATCH",
            "/v1/session",
            SESSIONS_KEY,
            &h[..],
            json!([{}, [], null]),
        ),
    ] {
        s.request(method, path)
            .key(key)
            .headers(headers)
            .json(body)
            .refused(400, "invalid_json")
            .await;
    }
    s.post("/v1/users/fuzz/revoke")
        .key(ADMIN_KEY)
        .json(json!({"except_token": "not-a-token"}))
        .refused(400, "invalid_request")
        .await;
    // None of that ended the session.
    assert_eq!(s.validate(&token).await.0, 200);

    // `integer` in the document is JSON Schema's: 2.0 is one, 2.5 is not.
    let inc = |by: Value| json!({"key": "n", "by": by});
    let (st, b) = s
        .post("/v1/session/increment")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(inc(json!(2.0)))
        .await;
    assert_eq!((st, b["value"].as_i64()), (200, Some(2)), "{b}");
    for by in [json!(2.5), json!(9.3e18), json!(-1e19)] {
        s.post("/v1/session/increment")
            .key(SESSIONS_KEY)
            .token(&token)
            .json(inc(by.clone()))
            .refused(400, "invalid_json")
            .await;
    }
    let (_, b) = s.get("/v1/session").key(SESSIONS_KEY).token(&token).await;
    let version = b["version"].as_u64().unwrap();
    let (st, b) = s
        .patch("/v1/session")
        .key(SESSIONS_KEY)
        .token(&token)
        .json(json!({"set": {"a": 1}, "expected_version": version as f64}))
        .await;
    assert_eq!((st, b["version"].as_u64()), (200, Some(version + 1)), "{b}");
    for expected in [json!(-1), json!(0.5)] {
        s.patch("/v1/session")
            .key(SESSIONS_KEY)
            .token(&token)
            .json(json!({"expected_version": expected}))
            .refused(400, "invalid_json")
            .await;
    }

    // `device.ip` may be null (unknown), as the document says; "" is no address.
    let create = |device: Value| json!({"device": device});
    let (st, _) = s
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(create(json!({"ip": null, "user_agent": null})))
        .await;
    assert_eq!(st, 201);
    s.post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(create(json!({"ip": ""})))
        .refused(400, "invalid_json")
        .await;
    s.shutdown().await;
}

#[tokio::test]
async fn reject_new_answers_limit_reached() {
    let mut config = test_config();
    config.policy.max_sessions_per_user = 1;
    config.policy.on_limit = sesame::CapAction::RejectNew;
    let s = TestServer::start(config).await;
    s.create(Some("ivy")).await;
    s.post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": "ivy"}))
        .refused(409, "limit_reached")
        .await;
    s.shutdown().await;
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes() {
    let doc: Value = serde_json::from_str(sesame_server::openapi::DOCUMENT).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut routes: Vec<(String, String)> = sesame_server::api::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    documented.sort();
    routes.sort();
    assert_eq!(documented, routes);
    // Every route answers something other than 404 / 405.
    let s = server().await;
    for (method, path) in sesame_server::api::ROUTES {
        let path = path.replace("{id}", &"0".repeat(64)).replace("{user}", "u");
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let st = s
            .http
            .request(m, format!("{}{path}", s.base))
            .send()
            .await
            .unwrap()
            .status();
        assert!(st != 404 && st != 405, "{method} {path}: {st}");
    }
    s.shutdown().await;
}

/// Every `$ref` resolves, every link names an operation and a parameter it
/// has, and every operation has a unique id: what schemathesis needs to load
/// the document and follow its links (scripts/api-fuzz.sh).
#[test]
fn the_document_refs_and_links_resolve() {
    fn walk<'a>(v: &'a Value, refs: &mut Vec<&'a str>, links: &mut Vec<&'a Value>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    refs.push(r);
                }
                if let Some(Value::Object(l)) = map.get("links") {
                    links.extend(l.values());
                }
                map.values().for_each(|v| walk(v, refs, links));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, refs, links)),
            _ => {}
        }
    }
    let doc: Value = serde_json::from_str(sesame_server::openapi::DOCUMENT).unwrap();
    let (mut refs, mut links) = (Vec::new(), Vec::new());
    walk(&doc, &mut refs, &mut links);
    for r in refs {
        let target = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null);
        assert!(target.is_object(), "dangling $ref {r}");
    }
    let mut operations = std::collections::HashMap::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(
                operations.insert(id, op).is_none(),
                "operationId {id} twice"
            );
        }
    }
    assert!(!links.is_empty());
    for link in links {
        let id = link["operationId"].as_str().unwrap();
        let op = operations.get(id).unwrap_or_else(|| panic!("link to {id}"));
        for name in link["parameters"].as_object().unwrap().keys() {
            let (place, name) = name.split_once('.').unwrap();
            let found = op["parameters"].as_array().unwrap().iter().any(|p| {
                let p = match p.get("$ref").and_then(Value::as_str) {
                    Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap(),
                    None => p,
                };
                p["in"] == place && p["name"] == name
            });
            assert!(
                found,
                "link to {id} sets {place}.{name}, which it does not take"
            );
        }
    }
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_then_refuses() {
    let s = server().await;
    let base = s.base.clone();
    let http = s.http.clone();
    let (token, _, _) = s.create(None).await;
    // Many requests in flight while shutdown starts: each gets a full answer.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/v1/session/validate"))
                .bearer_auth(VALIDATE_KEY)
                .header("sesame-token", token)
                .json(&json!({"device": {"user_agent": UA}}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    tokio::task::yield_now().await;
    s.shutdown().await;
    for t in tasks {
        // A request either completed normally or was never accepted.
        if let Ok(status) = t.await.unwrap() {
            assert_eq!(status, 200);
        }
    }
    assert!(
        reqwest::Client::new()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_slow_request_times_out_with_a_json_503() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let mut config = test_config();
    config.limits.request_timeout = sesame_server::config::Dur(Duration::from_millis(50));
    let built = sesame_server::server::build(&config, std::sync::Arc::new(sesame::SystemClock))
        .await
        .unwrap();
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let app = sesame_server::middleware::stack(app, &built.state);
    let started = std::time::Instant::now();
    let resp = app
        .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "timeout");
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_dead_store_is_a_503_with_retry_after_and_readyz_says_so() {
    // A Redis of our own, so that killing it breaks no one else's tests.
    let port = free_port();
    let spawned = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn();
    let mut redis = match spawned {
        Ok(child) => child,
        Err(e) => {
            missing(&format!("the redis-server binary ({e})"));
            return;
        }
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut config = test_config();
    config.store = Some(format!("redis://127.0.0.1:{port}"));
    let s = TestServer::start(config).await;
    let (token, _, _) = s.create(Some("kim")).await;
    assert_eq!(s.validate(&token).await.0, 200);
    redis.kill().unwrap();
    redis.wait().unwrap();
    let reply = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("1"));
    let (st, b) = s.validate(&token).await;
    assert_eq!((st, b["code"].as_str()), (503, Some("store_unavailable")));
    assert!(!b.to_string().contains("refused"), "no internals: {b}");
    s.get("/readyz").refused(503, "store_unavailable").await;
    let (st, _) = s.get("/healthz").await;
    assert_eq!(st, 200);
    let (_, m) = s.get("/metrics").await;
    assert!(!m.as_str().unwrap().contains("sesame_store_errors_total 0"));
    s.shutdown().await;
}

/// ASVS 4.0.3 V3.1.1: a session token is never taken from the URL. No
/// documented parameter in a path or query carries a token or cookie, and a
/// valid token sent in the query string is not accepted.
#[tokio::test]
async fn a_token_in_the_url_is_never_accepted() {
    let s = server().await;
    let (token, cookie, _) = s.create(Some("alice")).await;
    for (template, item) in s.doc["paths"].as_object().unwrap() {
        for var in template.split('/').filter(|p| p.starts_with('{')) {
            assert!(
                !var.contains("token") && !var.contains("cookie"),
                "{template}"
            );
        }
        let ops = item.as_object().unwrap().values();
        for param in ops.flat_map(|op| op["parameters"].as_array().cloned().unwrap_or_default()) {
            let param = match param.get("$ref").and_then(Value::as_str) {
                Some(r) => s.doc["components"]["parameters"][r.rsplit('/').next().unwrap()].clone(),
                None => param,
            };
            if param["in"] != "header" {
                let name = param["name"].as_str().unwrap().to_lowercase();
                assert!(
                    !name.contains("token") && !name.contains("cookie"),
                    "{template}: {param}"
                );
            }
        }
    }
    for query in [
        format!("token={token}"),
        format!("sesame-token={token}"),
        format!("cookie={cookie}"),
    ] {
        s.post(format!("/v1/session/validate?{query}"))
            .key(VALIDATE_KEY)
            .json(json!({"device": {"user_agent": UA}}))
            .refused(401, "invalid")
            .await;
    }
    s.shutdown().await;
}

#[tokio::test]
async fn the_concurrency_limit_is_shared_by_v1_routes_but_not_health_checks() {
    let mut config = test_config();
    config.limits.max_concurrency = 1;
    config.limits.queue_timeout = sesame_server::config::Dur(Duration::from_millis(400));
    let s = TestServer::start(config).await;
    // A request in flight on one route (its permit, held here)...
    let permit = s.running().state.in_flight.acquire().await.unwrap();
    // ...makes a request to any other /v1 route wait...
    let url = format!("{}/v1/users/alice/sessions", s.base);
    let waiting = tokio::spawn(s.http.get(&url).bearer_auth(ADMIN_KEY).send());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        !waiting.is_finished(),
        "a request over the limit was served"
    );
    // ...while health checks need no permit...
    let (st, _) = s.get("/healthz").await;
    assert_eq!(st, 200);
    // ...until it ends.
    drop(permit);
    let answered = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once the permit is free")
        .unwrap()
        .unwrap();
    assert_eq!(answered.status(), 200);
    // The bounded wait (503 overloaded) is tests/slow_clients.rs'.
}

/// Answers that keep the connection announce its idle lifetime (the server
/// closes idle connections after `limits.header_read_timeout`), so clients
/// retire pooled connections before the server closes them under a request.
#[tokio::test]
async fn answers_announce_the_idle_lifetime_of_the_connection() {
    let mut config = test_config();
    config.limits.header_read_timeout = sesame_server::config::Dur(Duration::from_secs(7));
    let s = TestServer::start(config).await;
    let health = s.get("/healthz").send().await.unwrap();
    assert_eq!(health.status, 200);
    assert_eq!(health.header("keep-alive"), Some("timeout=7"));
    let refused = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .token("junk")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("keep-alive"), Some("timeout=7"));
    s.shutdown().await;
}

/// Issue 16 item 7: answers that carry tokens, cookies or session data are
/// never cacheable — errors included.
#[tokio::test]
async fn every_v1_answer_says_no_store() {
    let s = TestServer::start(test_config()).await;
    let created = s
        .post("/v1/sessions")
        .key(SESSIONS_KEY)
        .json(json!({"user": "alice", "device": {"user_agent": UA}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    let token = created.body["token"].as_str().unwrap().to_owned();
    let validated = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .token(&token)
        .json(json!({"device": {"user_agent": UA}}))
        .send()
        .await
        .unwrap();
    let refused = s
        .post("/v1/session/validate")
        .key(VALIDATE_KEY)
        .token("junk")
        .send()
        .await
        .unwrap();
    let unknown = s.get("/v1/nothing").send().await.unwrap();
    for (what, reply, status) in [
        ("create", &created, 201),
        ("validate", &validated, 200),
        ("refusal", &refused, 401),
        ("unknown /v1 route", &unknown, 404),
    ] {
        assert_eq!(reply.status, status, "{what}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
    }
    s.shutdown().await;
}
