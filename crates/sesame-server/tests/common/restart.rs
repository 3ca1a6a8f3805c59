//! The restart scenario shared by the SQL-backed server tests.

use serde_json::json;
use sesame_server::config::Config;

use super::*;

/// Creates, patches and ends sessions, stops the server, starts a new one on
/// the same store, and checks every session, its data, its version and every
/// ended session's reason; `/readyz` names the store kind.
pub async fn restart_keeps_every_session(config: Config, kind: &str) {
    let s = TestServer::start(config.clone()).await;
    let mut live = Vec::new();
    for i in 0..20 {
        let user = format!("user{}", i % 4);
        let (token, cookie, id) = s.create(Some(&user)).await;
        let (st, _) = s
            .patch("/v1/session")
            .key(SESSIONS_KEY)
            .token(&token)
            .json(json!({"set": {"i": i, "name": format!("s{i}")}}))
            .await;
        assert_eq!(st, 200);
        live.push((token, cookie, id, i));
    }
    // End a few, with different reasons.
    let (logged_out, ..) = live.remove(0);
    s.delete("/v1/session")
        .key(SESSIONS_KEY)
        .token(&logged_out)
        .await;
    let (revoked, _, revoked_id, _) = live.remove(0);
    s.post(format!("/v1/sessions/{revoked_id}/revoke"))
        .key(ADMIN_KEY)
        .await;
    let clock = s.clock.clone();
    s.shutdown().await;

    // A new process on the same file (the clock carries on from where it was).
    let running = sesame_server::server::start(&config, std::sync::Arc::new(clock.clone()))
        .await
        .unwrap();
    let s2 = TestServer {
        base: format!("http://{}", running.addr),
        running: Some(running),
        clock,
        http: reqwest::Client::new(),
        doc: serde_json::from_str(sesame_server::openapi::DOCUMENT).unwrap(),
    };
    for (token, cookie, id, i) in &live {
        let (st, b) = s2.validate(token).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["session"]["id"], id.as_str());
        assert_eq!(b["session"]["data"]["i"], *i);
        assert_eq!(b["session"]["version"], 2);
        let (st, _) = s2
            .post("/v1/session/validate")
            .key(VALIDATE_KEY)
            .cookie(cookie)
            .json(json!({"device": {"user_agent": UA}}))
            .await;
        assert_eq!(st, 200);
    }
    let (st, b) = s2.validate(&logged_out).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("logged_out")));
    let (st, b) = s2.validate(&revoked).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("revoked")));
    let (_, b) = s2.get("/v1/users/user3/sessions").key(ADMIN_KEY).await;
    assert_eq!(b["sessions"].as_array().unwrap().len(), 5);
    let (st, b) = s2.get("/readyz").await;
    assert_eq!((st, b["store"].as_str()), (200, Some(kind)));
    s2.shutdown().await;
}
