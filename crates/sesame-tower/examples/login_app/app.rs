//! The login app's routes: login form, account page, "your sessions", logout.
//!
//! Plain server-rendered HTML forms; every form carries the session's CSRF token in the hidden
//! field `csrf_token`. Users are hard-coded (alice / bob) and passwords are compared in
//! constant time. Shared by `main.rs` and the browser test (`tests/browser.rs`).

use axum::Router;
use axum::extract::Form;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sesame::cookie::{CookiePolicy, KeyRing};
use sesame::{Manager, MemoryStore, Policy};
use sesame_tower::{RequireUser, SecurityHeadersLayer, Session, SessionError, SessionLayer};
use subtle::ConstantTimeEq;

/// The demo users and their passwords.
const USERS: [(&str, &str); 2] = [("alice", "wonderland"), ("bob", "builder")];

/// The whole app over a memory store, with the development cookie policy (plain HTTP on
/// localhost: a cookie named `sesame` without `Secure`; every other attribute strict).
pub fn router(keys: KeyRing) -> Router {
    let manager = Manager::new(MemoryStore::new(), Policy::default()).expect("valid policy");
    let sessions = SessionLayer::new(manager, keys)
        .with_cookie_policy(CookiePolicy::development())
        .expect("valid cookie policy");
    Router::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/login", get(login_form).post(login))
        .route("/account", get(account))
        .route("/sessions", get(sessions_page))
        .route("/sessions/end", post(end_one))
        .route("/sessions/revoke-others", post(end_others))
        .route("/logout", post(logout))
        .layer(sessions)
        // Plain HTTP in development: no HSTS.
        .layer(SecurityHeadersLayer::new().with_hsts(None))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=utf-8><title>{t}</title></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    ))
}

/// A refused request as a page: the status and the machine-readable reason, nothing else.
fn refused(e: SessionError) -> Response {
    Refused(e).into_response()
}

/// The app's rejection for [`RequireUser`]: the refusal as an HTML page with a link to log
/// in, instead of the layer's JSON.
struct Refused(SessionError);

impl From<SessionError> for Refused {
    fn from(e: SessionError) -> Self {
        Self(e)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let (status, error, reason) = self.0.parts();
        let body = format!(
            "<p id=error>{error}</p><p id=reason>{}</p><p><a href=/login>Log in</a></p>",
            reason.unwrap_or("")
        );
        (status, page("Not logged in", &body)).into_response()
    }
}

/// A logged-in user, or the refusal page.
type User = RequireUser<Refused>;

async fn login_form(session: Session) -> Result<Html<String>, Response> {
    let csrf = session.csrf_token().await.map_err(refused)?;
    Ok(page(
        "Log in",
        &format!(
            "<form method=post action=/login>\
             <input type=hidden name=csrf_token value=\"{}\">\
             <label>User <input id=username name=username></label>\
             <label>Password <input id=password name=password type=password></label>\
             <button id=submit type=submit>Log in</button></form>",
            escape(&csrf)
        ),
    ))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

fn check_password(username: &str, password: &str) -> bool {
    // Compare against every user so the time does not depend on which name matched.
    let mut ok = false;
    for (name, pass) in USERS {
        let name_ok: bool = name.as_bytes().ct_eq(username.as_bytes()).into();
        let pass_ok: bool = pass.as_bytes().ct_eq(password.as_bytes()).into();
        ok |= name_ok & pass_ok;
    }
    ok
}

async fn login(session: Session, Form(c): Form<Credentials>) -> Response {
    if !check_password(&c.username, &c.password) {
        return (
            StatusCode::UNAUTHORIZED,
            page(
                "Log in",
                "<p id=error>wrong user name or password</p><a href=/login>again</a>",
            ),
        )
            .into_response();
    }
    match session.login(&c.username).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => refused(e),
    }
}

async fn account(user: User) -> Html<String> {
    let user = user.user_id;
    page(
        "Account",
        &format!(
            "<p>Logged in as <b id=user>{}</b>.</p><p><a id=sessions href=/sessions>Your sessions</a></p>",
            escape(&user)
        ),
    )
}

fn time(ms: u64) -> String {
    format!("{}", ms / 1000)
}

async fn sessions_page(
    User {
        user_id, session, ..
    }: User,
) -> Result<Html<String>, Response> {
    let user = user_id;
    let csrf = session.csrf_token().await.map_err(refused)?;
    let csrf = escape(&csrf);
    let list = session.list_user_sessions().await.map_err(refused)?;
    let mut rows = String::new();
    for s in list {
        let action = if s.current {
            "this session".to_owned()
        } else {
            format!(
                "<form method=post action=/sessions/end><input type=hidden name=csrf_token value=\"{csrf}\">\
                 <input type=hidden name=id value=\"{id}\"><button class=end type=submit>End</button></form>",
                id = escape(&s.id)
            )
        };
        rows.push_str(&format!(
            "<tr class=\"{cls}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            escape(s.user_agent.as_deref().unwrap_or("?")),
            escape(s.ip.as_deref().unwrap_or("?")),
            time(s.created_at_ms),
            time(s.last_used_ms),
            cls = if s.current { "current" } else { "other" },
        ));
    }
    Ok(page(
        &format!("Sessions of {user}"),
        &format!(
            "<table><tr><th>device</th><th>IP</th><th>created (unix s)</th><th>last used</th><th></th></tr>{rows}</table>\
             <form method=post action=/sessions/revoke-others><input type=hidden name=csrf_token value=\"{csrf}\">\
             <button id=end-others type=submit>End all other sessions</button></form>\
             <form method=post action=/logout><input type=hidden name=csrf_token value=\"{csrf}\">\
             <button id=logout type=submit>Log out</button></form>"
        ),
    ))
}

#[derive(Deserialize)]
struct EndOne {
    id: String,
}

async fn end_one(user: User, Form(f): Form<EndOne>) -> Response {
    match user.end_user_session(&f.id).await {
        Ok(_) => Redirect::to("/sessions").into_response(),
        Err(e) => refused(e),
    }
}

async fn end_others(user: User) -> Response {
    match user.revoke_other_sessions().await {
        Ok(_) => Redirect::to("/sessions").into_response(),
        Err(e) => refused(e),
    }
}

async fn logout(session: Session) -> Response {
    match session.logout().await {
        Ok(()) => {
            let mut r = Redirect::to("/login").into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => refused(e),
    }
}
