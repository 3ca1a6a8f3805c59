//! Behaviour of the session layer, extractors, CSRF and headers, driven through axum in process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Form, Path};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use sesame::cookie::{FernetKey, KeyRing};
use sesame::{Manager, ManualClock, MemoryStore, Policy, Renewal};
use sesame_tower::{
    CsrfConfig, HeaderTransport, RequireSession, RequireUser, SecurityHeadersLayer, Session,
    SessionError, SessionLayer, TrustedProxies,
};
use tower::ServiceExt;

type R<T> = Result<T, SessionError>;

fn routes() -> Router {
    Router::new()
        .route("/untouched", get(|| async { "ok" }))
        .route(
            "/count",
            get(|s: Session| async move { R::Ok(s.increment("n", 1).await?.to_string()) }),
        )
        .route(
            "/get/{key}",
            get(|s: Session, Path(k): Path<String>| async move {
                R::Ok(format!("{:?}", s.get::<String>(&k).await?))
            }),
        )
        .route(
            "/set/{key}/{value}",
            post(
                |s: Session, Path((k, v)): Path<(String, String)>| async move {
                    s.insert(&k, v).await?;
                    R::Ok("set")
                },
            ),
        )
        .route(
            "/csrf",
            get(|s: Session| async move { s.csrf_token().await }),
        )
        .route(
            "/login/{user}",
            post(|s: Session, Path(u): Path<String>| async move {
                s.login(&u).await?;
                R::Ok("in")
            }),
        )
        .route(
            "/logout",
            post(|s: Session| async move {
                s.logout().await?;
                R::Ok("out")
            }),
        )
        .route(
            "/me",
            get(|u: RequireUser| async move { u.user_id.clone() }),
        )
        .route("/need", get(|_: RequireSession| async { "ok" }))
        .route(
            "/me-or-login",
            get(|u: RequireUser<ToLogin>| async move { u.user_id.clone() }),
        )
        .route(
            "/number/{key}",
            get(|s: Session, Path(k): Path<String>| async move {
                R::Ok(format!("{:?}", s.get::<i64>(&k).await?))
            }),
        )
        .route(
            "/revoke-others",
            post(
                |u: RequireUser| async move { R::Ok(u.revoke_other_sessions().await?.to_string()) },
            ),
        )
        .route(
            "/sessions",
            get(|u: RequireUser| async move {
                R::Ok(serde_json::to_string(&u.list_user_sessions().await?).unwrap())
            }),
        )
        .route(
            "/form",
            post(|Form(f): Form<HashMap<String, String>>| async move {
                f.get("x").cloned().unwrap_or_default()
            }),
        )
        .route("/hook/in", post(|| async { "hooked" }))
}

/// An app's own rejection for `RequireUser`: a redirect to the login page.
struct ToLogin(SessionError);

impl From<SessionError> for ToLogin {
    fn from(e: SessionError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        match self.0 {
            e if e.is_unauthorized() => Redirect::to("/login").into_response(),
            e => e.into_response(),
        }
    }
}

struct App {
    router: Router,
    layer: SessionLayer,
    clock: Arc<ManualClock>,
}

fn app_with(policy: Policy, f: impl FnOnce(SessionLayer) -> SessionLayer) -> App {
    let clock = Arc::new(ManualClock::starting_now());
    let manager = Manager::with_clock(Arc::new(MemoryStore::new()), policy, clock.clone()).unwrap();
    let layer = f(
        SessionLayer::new(manager, KeyRing::new(FernetKey::generate().unwrap()))
            .with_csrf(CsrfConfig::new().with_exempt_prefix("/hook/")),
    );
    let router = routes()
        .layer(layer.clone())
        .layer(SecurityHeadersLayer::new());
    App {
        router,
        layer,
        clock,
    }
}

fn app() -> App {
    app_with(Policy::default(), |l| l)
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn set_cookie(&self) -> Option<String> {
        self.headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned())
    }
    /// The `name=value` part of Set-Cookie, ready for a Cookie header.
    fn cookie(&self) -> String {
        self.set_cookie()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

async fn send(app: &App, req: Request<Body>) -> Resp {
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn req(method: &str, uri: &str, cookie: Option<&str>) -> axum::http::request::Builder {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "app.test")
        .header(header::USER_AGENT, "test-agent");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b
}

async fn get_(app: &App, uri: &str, cookie: Option<&str>) -> Resp {
    send(app, req("GET", uri, cookie).body(Body::empty()).unwrap()).await
}

/// POST with the session's CSRF token in the header.
async fn post_(app: &App, uri: &str, cookie: &str, csrf: &str) -> Resp {
    send(
        app,
        req("POST", uri, Some(cookie))
            .header("x-csrf-token", csrf)
            .header("sec-fetch-site", "same-origin")
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// An anonymous session with a CSRF token: (cookie, csrf).
async fn anonymous(app: &App) -> (String, String) {
    let r = get_(app, "/csrf", None).await;
    assert_eq!(r.status, StatusCode::OK);
    (r.cookie(), r.body)
}

async fn logged_in(app: &App, user: &str) -> (String, String) {
    let (cookie, csrf) = anonymous(app).await;
    let r = post_(app, &format!("/login/{user}"), &cookie, &csrf).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cookie = r.cookie();
    let csrf = get_(app, "/csrf", Some(&cookie)).await.body;
    (cookie, csrf)
}

#[tokio::test]
async fn an_untouched_route_makes_no_store_call_and_sets_no_cookie() {
    let app = app();
    let (cookie, _) = anonymous(&app).await;
    let loads = app.layer.metrics().store_loads();
    let r = get_(&app, "/untouched", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.layer.metrics().store_loads(), loads);
    assert!(r.set_cookie().is_none());
    assert!(r.headers.get(header::CACHE_CONTROL).is_none());
}

#[tokio::test]
async fn set_cookie_only_when_the_token_changes() {
    let app = app();
    let first = get_(&app, "/count", None).await;
    assert_eq!(first.body, "1");
    let set = first.set_cookie().unwrap();
    assert!(set.starts_with("__Host-sesame="), "{set}");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert_eq!(first.headers[header::CACHE_CONTROL], "no-store");
    let cookie = first.cookie();
    let second = get_(&app, "/count", Some(&cookie)).await;
    assert_eq!(second.body, "2");
    assert!(second.set_cookie().is_none());
    assert_eq!(second.headers[header::CACHE_CONTROL], "no-store");
    // Writes commit as a patch, without a new cookie.
    let r = send(
        &app,
        req("POST", "/set/theme/dark", Some(&cookie))
            .header(
                "x-csrf-token",
                get_(&app, "/csrf", Some(&cookie)).await.body,
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.set_cookie().is_none());
    assert_eq!(
        get_(&app, "/get/theme", Some(&cookie)).await.body,
        "Some(\"dark\")"
    );
}

#[tokio::test]
async fn concurrent_requests_of_one_session_lose_nothing() {
    let app = Arc::new(app());
    let (cookie, csrf) = anonymous(&app).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (app, cookie, csrf) = (app.clone(), cookie.clone(), csrf.clone());
        tasks.push(tokio::spawn(async move {
            assert_eq!(
                get_(&app, "/count", Some(&cookie)).await.status,
                StatusCode::OK
            );
            let r = post_(&app, &format!("/set/k{i}/v{i}"), &cookie, &csrf).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(get_(&app, "/count", Some(&cookie)).await.body, "65");
    for i in 0..64 {
        assert_eq!(
            get_(&app, &format!("/get/k{i}"), Some(&cookie)).await.body,
            format!("Some(\"v{i}\")")
        );
    }
}

#[tokio::test]
async fn require_session_refuses_with_a_machine_readable_reason() {
    let app = app();
    let r = get_(&app, "/need", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "session_required", "reason": "no_session"})
    );

    // A forged cookie never reaches the store, and is counted.
    let loads = app.layer.metrics().store_loads();
    let r = get_(&app, "/need", Some("__Host-sesame=gAAAAABforged")).await;
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "invalid_session", "reason": "invalid_cookie"})
    );
    assert_eq!(app.layer.metrics().forged_cookies(), 1);
    assert_eq!(app.layer.metrics().store_loads(), loads);

    // Cookie tossing: two cookies of our name.
    let (cookie, _) = anonymous(&app).await;
    let r = get_(&app, "/need", Some(&format!("{cookie}; {cookie}"))).await;
    assert_eq!(r.json()["reason"], "ambiguous_cookie");
    assert_eq!(app.layer.metrics().ambiguous_cookies(), 1);

    // Anonymous session: RequireSession passes, RequireUser does not.
    assert_eq!(
        get_(&app, "/need", Some(&cookie)).await.status,
        StatusCode::OK
    );
    let r = get_(&app, "/me", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "login_required");
    // ...unless the app chose its own rejection: a redirect, with or without a session.
    for cookie in [Some(cookie.as_str()), None] {
        let r = get_(&app, "/me-or-login", cookie).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.headers[header::LOCATION], "/login");
    }

    // Idle expiry.
    app.clock.advance(Duration::from_secs(31 * 60));
    let r = get_(&app, "/need", Some(&cookie)).await;
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "session_ended", "reason": "expired_idle"})
    );
}

#[tokio::test]
async fn login_rotates_the_token_and_the_csrf_token() {
    let app = app();
    let (before, csrf_before) = anonymous(&app).await;
    let r = post_(&app, "/login/alice", &before, &csrf_before).await;
    assert_eq!(r.status, StatusCode::OK);
    let after = r.cookie();
    assert_ne!(after, before);
    assert_eq!(get_(&app, "/me", Some(&after)).await.body, "alice");
    // Session fixation: the pre-login token is dead.
    let r = get_(&app, "/me", Some(&before)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "session_ended", "reason": "rotated"})
    );
    // The CSRF token changed with the session.
    let csrf_after = get_(&app, "/csrf", Some(&after)).await.body;
    assert_ne!(csrf_after, csrf_before);
    let r = post_(&app, "/set/a/b", &after, &csrf_before).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        post_(&app, "/set/a/b", &after, &csrf_after).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_enforces_the_per_user_cap() {
    let app = app_with(
        Policy::default().with_user_cap(Some(sesame::UserCap {
            max: 2,
            on_limit: sesame::CapAction::EvictOldest,
        })),
        |l| l,
    );
    let (first, _) = logged_in(&app, "bob").await;
    app.clock.advance(Duration::from_secs(1));
    let (_second, _) = logged_in(&app, "bob").await;
    app.clock.advance(Duration::from_secs(1));
    let (third, _) = logged_in(&app, "bob").await;
    assert_eq!(
        get_(&app, "/me", Some(&first)).await.json()["reason"],
        "evicted"
    );
    assert_eq!(get_(&app, "/me", Some(&third)).await.body, "bob");
}

#[tokio::test]
async fn logout_ends_the_session_server_side() {
    let app = app();
    let (cookie, csrf) = logged_in(&app, "alice").await;
    let r = post_(&app, "/logout", &cookie, &csrf).await;
    assert_eq!(r.status, StatusCode::OK);
    let set = r.set_cookie().unwrap();
    assert!(set.contains("Max-Age=0"), "{set}");
    assert_eq!(r.headers["clear-site-data"], "\"cookies\"");
    // Replaying the old cookie: 401 with the reason.
    let r = get_(&app, "/me", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "session_ended", "reason": "logged_out"})
    );
}

#[tokio::test]
async fn log_out_other_devices() {
    let app = app();
    let (laptop, _) = logged_in(&app, "alice").await;
    let (phone, phone_csrf) = logged_in(&app, "alice").await;
    let (bob, _) = logged_in(&app, "bob").await;
    let list: serde_json::Value =
        serde_json::from_str(&get_(&app, "/sessions", Some(&phone)).await.body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == true)
            .count(),
        1
    );
    assert_eq!(list[0]["user_agent"], "test-agent");
    let r = post_(&app, "/revoke-others", &phone, &phone_csrf).await;
    assert_eq!(r.body, "1");
    assert_eq!(
        get_(&app, "/me", Some(&laptop)).await.json()["reason"],
        "revoked"
    );
    assert_eq!(get_(&app, "/me", Some(&phone)).await.body, "alice");
    assert_eq!(get_(&app, "/me", Some(&bob)).await.body, "bob");
}

#[tokio::test]
async fn csrf_checks_origin_and_token() {
    let app = app();
    let (cookie, csrf) = anonymous(&app).await;
    let post = |headers: Vec<(&'static str, String)>, body: &'static str| {
        let mut b = req("POST", "/form", Some(&cookie));
        for (k, v) in headers {
            b = b.header(k, v);
        }
        b.body(Body::from(body)).unwrap()
    };
    let form = (
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    );
    let reason = |r: Resp| (r.status, r.json()["reason"].as_str().unwrap().to_owned());

    let r = send(&app, post(vec![form.clone()], "x=1")).await;
    assert_eq!(reason(r), (StatusCode::FORBIDDEN, "token_missing".into()));
    let r = send(&app, post(vec![("x-csrf-token", "nope".into())], "")).await;
    assert_eq!(reason(r), (StatusCode::FORBIDDEN, "token_mismatch".into()));
    let r = send(
        &app,
        post(
            vec![
                ("x-csrf-token", csrf.clone()),
                ("sec-fetch-site", "cross-site".into()),
            ],
            "",
        ),
    )
    .await;
    assert_eq!(reason(r), (StatusCode::FORBIDDEN, "cross_site".into()));
    let r = send(
        &app,
        post(
            vec![
                ("x-csrf-token", csrf.clone()),
                ("origin", "https://evil.test".into()),
            ],
            "",
        ),
    )
    .await;
    assert_eq!(reason(r), (StatusCode::FORBIDDEN, "origin_mismatch".into()));
    let r = send(
        &app,
        post(
            vec![("x-csrf-token", csrf.clone()), ("origin", "null".into())],
            "",
        ),
    )
    .await;
    assert_eq!(reason(r), (StatusCode::FORBIDDEN, "origin_mismatch".into()));

    // The form field is found, and the handler still reads the whole body.
    let body: &'static str = Box::leak(format!("x=hello&csrf_token={csrf}").into_boxed_str());
    let r = send(
        &app,
        post(
            vec![form.clone(), ("origin", "https://app.test".into())],
            body,
        ),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "hello"));

    // Without a session there is no token to match.
    let r = send(
        &app,
        req("POST", "/form", None).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(reason(r), (StatusCode::FORBIDDEN, "no_session".into()));
    // Exempt paths pass.
    let r = send(
        &app,
        req("POST", "/hook/in", None).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.body, "hooked");
    assert_eq!(app.layer.metrics().csrf_refused(), 6);
}

#[tokio::test]
async fn header_transport_for_api_clients() {
    let app = app_with(Policy::default(), |l| {
        l.with_header_transport(HeaderTransport::bearer())
    });
    let r = send(
        &app,
        req("POST", "/login/carol", None)
            .header(header::AUTHORIZATION, "Bearer")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.set_cookie().is_none(), "header clients get no cookie");
    let token = r.headers["session-token"].to_str().unwrap().to_owned();
    let r = send(
        &app,
        req("GET", "/me", None)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.body, "carol");
    // Off by default: the same header means nothing to a cookie-only layer.
    let plain = self::app();
    let r = send(
        &plain,
        req("GET", "/me", None)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.json()["reason"], "no_session");
}

#[tokio::test]
async fn renewal_sends_a_new_cookie() {
    let app = app_with(
        Policy::default().with_renewal(Some(Renewal {
            interval: Duration::from_secs(60),
            grace: Duration::from_secs(5),
        })),
        |l| l,
    );
    let (cookie, _) = logged_in(&app, "alice").await;
    app.clock.advance(Duration::from_secs(61));
    let r = get_(&app, "/me", Some(&cookie)).await;
    assert_eq!(r.body, "alice");
    let renewed = r.cookie();
    assert_ne!(renewed, cookie);
    assert!(
        get_(&app, "/me", Some(&renewed))
            .await
            .set_cookie()
            .is_none()
    );
}

#[tokio::test]
async fn security_headers_and_development_host_check() {
    let app = app();
    let r = get_(&app, "/untouched", None).await;
    assert_eq!(r.headers["x-xss-protection"], "0");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert!(
        r.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(r.headers.contains_key("strict-transport-security"));
    assert_eq!(r.headers["referrer-policy"], "no-referrer");

    let dev = app_with(Policy::default(), |l| {
        l.with_cookie_policy(sesame::cookie::CookiePolicy::development())
            .unwrap()
    });
    let r = get_(&dev, "/count", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "host_not_allowed");
    let r = send(
        &dev,
        Request::get("/count")
            .header(header::HOST, "localhost:8080")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.body, "1");
    assert!(r.set_cookie().unwrap().starts_with("sesame="));
}

#[tokio::test]
async fn the_client_ip_comes_from_the_socket_or_trusted_proxies() {
    let app = app_with(Policy::default(), |l| {
        l.with_trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"]).unwrap())
    });
    let login = |peer: &str, xff: &str| {
        let mut r = req("GET", "/count", None)
            .header("x-forwarded-for", xff)
            .body(Body::empty())
            .unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<std::net::SocketAddr>().unwrap()));
        r
    };
    async fn ip_of(app: &App, r: Resp) -> serde_json::Value {
        let cookie = r.cookie();
        let (c, csrf) = (cookie.clone(), get_(app, "/csrf", Some(&cookie)).await.body);
        let r = post_(app, "/login/dave", &c, &csrf).await;
        let cookie = r.cookie();
        let list: serde_json::Value =
            serde_json::from_str(&get_(app, "/sessions", Some(&cookie)).await.body).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .unwrap()["ip"]
            .clone()
    }
    let r = send(&app, login("203.0.113.5:1234", "1.2.3.4")).await;
    assert_eq!(ip_of(&app, r).await, "203.0.113.5");
    let r = send(&app, login("10.1.1.1:1234", "6.6.6.6, 198.51.100.9")).await;
    assert_eq!(ip_of(&app, r).await, "198.51.100.9");
}

#[tokio::test]
async fn get_of_another_type_is_an_error_not_none() {
    let app = app();
    let (cookie, csrf) = anonymous(&app).await;
    let r = post_(&app, "/set/word/hello", &cookie, &csrf).await;
    assert_eq!(r.status, StatusCode::OK);
    // As a string: the value. As a number: a 500 naming no key (the key goes to the log).
    assert_eq!(
        get_(&app, "/get/word", Some(&cookie)).await.body,
        "Some(\"hello\")"
    );
    let r = get_(&app, "/number/word", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "internal", "reason": "session_value_type"})
    );
    // An absent key is still None, of any type.
    assert_eq!(
        get_(&app, "/number/nothing", Some(&cookie)).await.body,
        "None"
    );
}
