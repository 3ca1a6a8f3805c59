//! The HTTP API under `/v1`, plus `/healthz`, `/readyz`, `/metrics` and
//! `/openapi.json`.
//!
//! A session is named by its token in the `Sesame-Token` header, or by its
//! cookie value in `Sesame-Cookie` — never in the URL, so tokens stay out of
//! access logs. Every `/v1` call needs `Authorization: Bearer <api key>`; the
//! [`Auth`] extractor runs first, so a caller without a key learns nothing
//! about the request it sent. Bodies are JSON, read by [`JsonBody`] under the
//! configured size limit, and every error is an [`ApiError`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sesame::{
    Data, DeviceInfo, EndReason, Inspection, Manager, Patch, PatchOp, SessionId, SessionRecord,
    Timestamp,
};
use zeroize::Zeroizing;

use crate::auth::{ApiKey, ApiKeys, Scope};
use crate::config::Limits;
use crate::cookies::{CookieInspection, CookiePolicyView, Cookies};
use crate::error::{ApiError, ErrorCode};
use crate::fields::{self, SessionIdParam, UserParam};
use crate::metrics::Metrics;

/// Header naming a session by its token.
pub const TOKEN_HEADER: &str = "sesame-token";
/// Header naming a session by its cookie value.
pub const COOKIE_HEADER: &str = "sesame-cookie";

/// Whether the request presents a session (`Sesame-Token` or
/// `Sesame-Cookie`). Looked up by typed names: a `&str` name is parsed on
/// every lookup, which the middleware would pay on every request.
pub fn presents_session(headers: &HeaderMap) -> bool {
    const TOKEN: HeaderName = HeaderName::from_static(TOKEN_HEADER);
    const COOKIE: HeaderName = HeaderName::from_static(COOKIE_HEADER);
    headers.contains_key(&TOKEN) || headers.contains_key(&COOKIE)
}

/// What every handler shares.
pub struct AppState {
    /// The engine.
    pub manager: Manager,
    /// Accepted API keys.
    pub keys: ApiKeys,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Cookie codec.
    pub cookies: Cookies,
    /// HTTP limits.
    pub limits: Limits,
    /// The store's scheme, for `/readyz`.
    pub store_kind: &'static str,
    /// Per-address counts of invalid session credentials.
    pub probes: crate::probing::ProbeGuard,
    /// Permits for requests in flight (`limits.max_concurrency`), shared by
    /// every route.
    pub in_flight: tokio::sync::Semaphore,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store_kind", &self.store_kind)
            .finish_non_exhaustive()
    }
}

/// The state handlers receive.
pub type Shared = Arc<AppState>;

impl AppState {
    /// The server clock's time, in unix seconds.
    pub fn now_secs(&self) -> u64 {
        self.manager.now().as_secs()
    }
}

// ---------------------------------------------------------------- extractors

/// A scope a route requires.
pub trait RequiredScope: Send + Sync + 'static {
    /// The scope.
    const SCOPE: Scope;
}

/// Marker: the `validate` scope.
#[derive(Debug)]
pub struct ValidateScope;
impl RequiredScope for ValidateScope {
    const SCOPE: Scope = Scope::Validate;
}
/// Marker: the `sessions` scope.
#[derive(Debug)]
pub struct SessionsScope;
impl RequiredScope for SessionsScope {
    const SCOPE: Scope = Scope::Sessions;
}
/// Marker: the `admin` scope.
#[derive(Debug)]
pub struct AdminScope;
impl RequiredScope for AdminScope {
    const SCOPE: Scope = Scope::Admin;
}

/// Proof that the request carried an API key with scope `S`.
#[derive(Debug)]
pub struct Auth<S>(PhantomData<S>);

impl<S: RequiredScope> FromRequestParts<Shared> for Auth<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let key = bearer(&parts.headers).ok_or_else(ApiError::missing_api_key)?;
        let found: &ApiKey = state.keys.find(key).ok_or_else(ApiError::invalid_api_key)?;
        if found.allows(S::SCOPE) {
            Ok(Auth(PhantomData))
        } else {
            Err(ApiError::forbidden(S::SCOPE.as_str()))
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    bearer_value(headers.get(header::AUTHORIZATION)?)
}

/// The key in an `Authorization: Bearer <key>` value.
pub fn bearer_value(value: &HeaderValue) -> Option<&str> {
    let value = value.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

/// The session credential: the token from `Sesame-Token`, or the one sealed
/// in `Sesame-Cookie`.
pub struct Credential {
    token: Zeroizing<String>,
}

impl FromRequestParts<Shared> for Credential {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let text = |name: &str| -> Result<Option<&str>, ApiError> {
            match parts.headers.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|s| Some(s.trim()))
                    .map_err(|_| ApiError::invalid_session("the credential header is not text")),
            }
        };
        match (text(TOKEN_HEADER)?, text(COOKIE_HEADER)?) {
            (Some(_), Some(_)) => Err(ApiError::bad_request(
                ErrorCode::AmbiguousCredential,
                "send Sesame-Token or Sesame-Cookie, not both",
            )),
            (Some(token), None) => Ok(Credential {
                token: Zeroizing::new(token.to_owned()),
            }),
            (None, Some(cookie)) => Ok(Credential {
                token: state.cookies.open(cookie, state.now_secs())?,
            }),
            (None, None) => Err(ApiError::invalid_session(
                "send the session as Sesame-Token or Sesame-Cookie",
            )),
        }
    }
}

/// A JSON body read under the size limit (`limits.max_body_bytes`, else 413)
/// and within the body deadline (`limits.body_timeout`, else 408). An empty
/// body reads as `{}`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Shared> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            let mime = ct.split(';').next().unwrap_or("").trim();
            if !(mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorCode::UnsupportedMediaType,
                    "send the body as application/json",
                ));
            }
        }
        let limit = state.limits.max_body_bytes;
        let deadline = state.limits.body_timeout.0;
        let bytes = tokio::time::timeout(deadline, axum::body::to_bytes(req.into_body(), limit))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    ErrorCode::BodyTimeout,
                    format!("the body did not arrive within {} ms", deadline.as_millis()),
                )
            })?
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    format!("the body is over {limit} bytes"),
                )
            })?;
        parse_json_body(&bytes).map(JsonBody)
    }
}

/// Reads a request body (already under the size limit) as [`JsonBody`] does:
/// an empty or all-whitespace body reads as `{}`, anything else must be one
/// JSON object, in UTF-8 throughout. (Public for the fuzz targets in
/// `fuzz/`, which must read bodies exactly as the server does.)
///
/// Why the UTF-8 check first: `serde_json::from_slice` does not validate the
/// strings it skips, so a field a type ignores (an unknown key of `device`)
/// could carry bytes that are not UTF-8 and the body, not JSON at all, was
/// accepted (found by the `api_json` fuzz target).
///
/// # Examples
/// ```
/// use sesame_server::api::{IncrementRequest, parse_json_body};
///
/// let req: IncrementRequest = parse_json_body(br#"{"key": "n", "by": 2.0}"#).unwrap();
/// assert_eq!((req.key.as_str(), req.by), ("n", 2));
/// assert!(parse_json_body::<IncrementRequest>(b"[\"n\", 2]").is_err());
/// ```
///
/// # Errors
/// 400 `invalid_json` when the body is not a JSON object of type `T`.
pub fn parse_json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => b"{}",
        Some(b'{') => bytes,
        // serde reads a struct from an array too (`[null, null]` would be
        // a revoke with no exception): every body here is an object.
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidJson,
                "the body must be a JSON object",
            ));
        }
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidJson,
            format!("invalid body: not UTF-8 ({e})"),
        )
    })?;
    serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidJson, format!("invalid body: {e}")))
}

// ---------------------------------------------------------------- views

fn secs(t: Timestamp) -> u64 {
    t.as_secs()
}

/// A live session as the API shows it. Times are unix seconds.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// Session id: SHA-256 of the token, hex.
    pub id: String,
    /// The user, or null for an anonymous session.
    pub user: Option<String>,
    /// The data map.
    pub data: Data,
    /// Data version, for compare-and-set.
    pub version: u64,
    /// Creation (or login) time.
    pub created_at: u64,
    /// Last recorded use.
    pub last_accessed: u64,
    /// Ends if unused until then.
    pub idle_expires_at: u64,
    /// Ends then whatever happens.
    pub absolute_expires_at: u64,
    /// The nearer of the two.
    pub expires_at: u64,
    /// The client the session is bound to.
    pub device: DeviceInfo,
}

impl From<SessionRecord> for SessionView {
    fn from(r: SessionRecord) -> Self {
        Self {
            expires_at: secs(r.expires_at()),
            id: r.id.to_hex(),
            user: r.user_id.map(|u| u.as_str().to_owned()),
            data: r.data,
            version: r.version,
            created_at: secs(r.created_at),
            last_accessed: secs(r.last_accessed),
            idle_expires_at: secs(r.idle_expires_at),
            absolute_expires_at: secs(r.absolute_expires_at),
            device: r.device,
        }
    }
}

/// Everything known about a session (the recipe's `debug_session`).
#[derive(Debug, Serialize)]
pub struct InspectionView {
    /// Session id.
    pub id: String,
    /// A live session or its tombstone exists.
    pub exists: bool,
    /// The session is live.
    pub live: bool,
    /// Its user.
    pub user: Option<String>,
    /// Its data (live only).
    pub data: Option<Data>,
    /// Its version (live only).
    pub version: Option<u64>,
    /// Created (live only).
    pub created_at: Option<u64>,
    /// Last use (live only).
    pub last_accessed: Option<u64>,
    /// Seconds until the idle timeout (live only).
    pub idle_seconds_left: Option<u64>,
    /// Seconds until the absolute timeout (live only).
    pub absolute_seconds_left: Option<u64>,
    /// Bound device (live only).
    pub device: Option<DeviceInfo>,
    /// Why it ended (ended only).
    pub end_reason: Option<EndReason>,
    /// When it ended (ended only).
    pub ended_at: Option<u64>,
}

impl From<Inspection> for InspectionView {
    fn from(i: Inspection) -> Self {
        Self {
            id: i.id.to_hex(),
            exists: i.exists,
            live: i.live,
            user: i.user_id.map(|u| u.as_str().to_owned()),
            data: i.data,
            version: i.version,
            created_at: i.created_at.map(secs),
            last_accessed: i.last_accessed.map(secs),
            idle_seconds_left: i.idle_seconds_left,
            absolute_seconds_left: i.absolute_seconds_left,
            device: i.device,
            end_reason: i.end_reason,
            ended_at: i.ended_at.map(secs),
        }
    }
}

// ---------------------------------------------------------------- handlers

/// `POST /v1/sessions` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The user; absent for an anonymous session.
    #[serde(default)]
    pub user: Option<String>,
    /// Initial data.
    #[serde(default)]
    pub data: Data,
    /// The client.
    #[serde(default, deserialize_with = "fields::device_object")]
    pub device: DeviceInfo,
}

/// A new token, as `create` and `rotate` return it.
#[derive(Debug, Serialize)]
pub struct Issued {
    /// The session token: give it to the client (or use `cookie`).
    pub token: String,
    /// The token sealed as a cookie value, when cookie keys are configured.
    pub cookie: Option<String>,
    /// The complete `Set-Cookie` value carrying `cookie` under the configured
    /// cookie policy, for the app to send as is (with `cookie`).
    pub set_cookie: Option<String>,
    /// When the session expires unless used (unix seconds).
    pub expires_at: u64,
    /// The session.
    pub session: SessionView,
    /// Sessions of the same user the cap ended to make room.
    pub evicted: Vec<String>,
}

fn issued(
    state: &AppState,
    token: &sesame::SessionToken,
    session: SessionRecord,
    evicted: Vec<SessionId>,
) -> Result<Issued, ApiError> {
    let (cookie, set_cookie) = state
        .cookies
        .issue(token.expose(), state.now_secs())?
        .unzip();
    Ok(Issued {
        token: token.expose().to_owned(),
        cookie,
        set_cookie,
        expires_at: secs(session.expires_at()),
        session: session.into(),
        evicted: evicted.iter().map(SessionId::to_hex).collect(),
    })
}

async fn create(
    _: Auth<SessionsScope>,
    State(state): State<Shared>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let created = state
        .manager
        .create(req.user.as_deref(), req.data, req.device)
        .await?;
    tracing::debug!(session = %created.session.id.short(), "session created");
    let body = issued(&state, &created.token, created.session, created.evicted)?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// `POST /v1/session/validate` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The client presenting the session.
    #[serde(default, deserialize_with = "fields::device_object")]
    pub device: DeviceInfo,
}

/// A replacement credential after renewal.
#[derive(Debug, Serialize)]
pub struct Renewed {
    /// The new token.
    pub token: String,
    /// The new cookie value, when cookie keys are configured.
    pub cookie: Option<String>,
    /// The complete `Set-Cookie` value carrying `cookie` (with `cookie`).
    pub set_cookie: Option<String>,
}

/// `validate`'s answer.
#[derive(Debug, Serialize)]
pub struct ValidateResponse {
    /// The session.
    pub session: SessionView,
    /// Set when the token was renewed: send the new one to the client.
    pub renewed: Option<Renewed>,
    /// The device did not match and the policy says `flag`.
    pub device_flagged: bool,
    /// The token was rotated and is within its grace period.
    pub via_grace: bool,
}

async fn validate(
    _: Auth<ValidateScope>,
    State(state): State<Shared>,
    cred: Result<Credential, ApiError>,
    JsonBody(req): JsonBody<ValidateRequest>,
) -> Response {
    let started = Instant::now();
    let ip = req.device.ip;
    let result = validate_inner(&state, cred, req).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code().as_str(),
    };
    state.metrics.observe_validate(outcome, started.elapsed());
    let mut response = result.map(Json).into_response();
    if let Some(ip) = ip {
        // The token guard counts a refusal under this end user's address.
        response
            .extensions_mut()
            .insert(crate::probing::ReportedIp(ip));
    }
    response
}

async fn validate_inner(
    state: &AppState,
    cred: Result<Credential, ApiError>,
    req: ValidateRequest,
) -> Result<ValidateResponse, ApiError> {
    let cred = cred?;
    let loaded = state.manager.load(&cred.token, &req.device).await?;
    let renewed = match &loaded.renewed {
        Some(token) => {
            let (cookie, set_cookie) = state
                .cookies
                .issue(token.expose(), state.now_secs())?
                .unzip();
            Some(Renewed {
                token: token.expose().to_owned(),
                cookie,
                set_cookie,
            })
        }
        None => None,
    };
    Ok(ValidateResponse {
        renewed,
        device_flagged: loaded.device_flagged,
        via_grace: loaded.via_grace,
        session: loaded.session.into(),
    })
}

fn live_view(inspection: Inspection, now: u64) -> Result<SessionView, ApiError> {
    if let Some(reason) = inspection.end_reason {
        return Err(sesame::Error::Ended { reason }.into());
    }
    let (true, Some(data), Some(version), Some(created_at), Some(last_accessed)) = (
        inspection.live,
        inspection.data,
        inspection.version,
        inspection.created_at,
        inspection.last_accessed,
    ) else {
        return Err(sesame::Error::NotFound.into());
    };
    // Inspection gives the time left; the view gives instants.
    let idle = now + inspection.idle_seconds_left.unwrap_or(0);
    let absolute = now + inspection.absolute_seconds_left.unwrap_or(0);
    Ok(SessionView {
        id: inspection.id.to_hex(),
        user: inspection.user_id.map(|u| u.as_str().to_owned()),
        data,
        version,
        created_at: secs(created_at),
        last_accessed: secs(last_accessed),
        idle_expires_at: idle,
        absolute_expires_at: absolute,
        expires_at: idle.min(absolute),
        device: inspection.device.unwrap_or_default(),
    })
}

async fn get_session(
    _: Auth<SessionsScope>,
    State(state): State<Shared>,
    cred: Credential,
) -> Result<Json<SessionView>, ApiError> {
    let inspection = state.manager.inspect(&cred.token).await?;
    Ok(Json(live_view(inspection, state.now_secs())?))
}

/// `PATCH /v1/session` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    /// Keys to set.
    #[serde(default)]
    pub set: Data,
    /// Keys to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Apply only if the session is still at this version (else 409).
    #[serde(default, deserialize_with = "fields::optional_count")]
    pub expected_version: Option<u64>,
}

async fn patch_session(
    _: Auth<SessionsScope>,
    State(state): State<Shared>,
    cred: Credential,
    JsonBody(req): JsonBody<PatchRequest>,
) -> Result<Json<SessionView>, ApiError> {
    let mut patch = Patch::new();
    for (key, value) in req.set {
        patch.push(key, PatchOp::Set(value))?;
    }
    for key in req.remove {
        patch.push(key, PatchOp::Remove)?;
    }
    let record = state
        .manager
        .update(&cred.token, &patch, req.expected_version)
        .await?;
    Ok(Json(record.into()))
}

/// `POST /v1/session/increment` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrementRequest {
    /// The data key.
    pub key: String,
    /// How much to add (default 1; may be negative).
    #[serde(default = "one", deserialize_with = "fields::integer")]
    pub by: i64,
}

fn one() -> i64 {
    1
}

/// `increment`'s answer.
#[derive(Debug, Serialize)]
pub struct IncrementResponse {
    /// The key.
    pub key: String,
    /// Its new value.
    pub value: i64,
}

async fn increment(
    _: Auth<SessionsScope>,
    State(state): State<Shared>,
    cred: Credential,
    JsonBody(req): JsonBody<IncrementRequest>,
) -> Result<Json<IncrementResponse>, ApiError> {
    let value = state
        .manager
        .increment(&cred.token, &req.key, req.by)
        .await?;
    Ok(Json(IncrementResponse {
        key: req.key,
        value,
    }))
}

/// `POST /v1/session/rotate` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// Log this user in on the session (the lifetime restarts); absent keeps
    /// the current user (privilege change).
    #[serde(default)]
    pub user: Option<String>,
}

async fn rotate(
    _: Auth<SessionsScope>,
    State(state): State<Shared>,
    cred: Credential,
    JsonBody(req): JsonBody<RotateRequest>,
) -> Result<Json<Issued>, ApiError> {
    let rotated = match &req.user {
        Some(user) => state.manager.login(&cred.token, user).await?,
        None => state.manager.rotate(&cred.token).await?,
    };
    Ok(Json(issued(
        &state,
        &rotated.token,
        rotated.session,
        rotated.evicted,
    )?))
}

/// Whether a session was live and is now ended.
#[derive(Debug, Serialize)]
pub struct Ended {
    /// False when it was not live.
    pub ended: bool,
}

/// `DELETE /v1/session`'s answer.
#[derive(Debug, Serialize)]
pub struct LoggedOut {
    /// False when the session was not live.
    pub ended: bool,
    /// The complete `Set-Cookie` value that removes the session cookie.
    pub clear_cookie: String,
}

async fn end_session(
    _: Auth<SessionsScope>,
    State(state): State<Shared>,
    cred: Credential,
) -> Result<Json<LoggedOut>, ApiError> {
    let ended = state
        .manager
        .destroy(&cred.token, EndReason::LoggedOut)
        .await?;
    tracing::debug!(session = %SessionId::of_token(&cred.token).short(), ended, "logout");
    Ok(Json(LoggedOut {
        ended,
        clear_cookie: state.cookies.clear_cookie().to_owned(),
    }))
}

async fn cookie_policy(
    _: Auth<ValidateScope>,
    State(state): State<Shared>,
) -> Json<CookiePolicyView> {
    Json(state.cookies.policy_view())
}

async fn inspect_token(
    _: Auth<AdminScope>,
    State(state): State<Shared>,
    cred: Credential,
) -> Result<Json<InspectionView>, ApiError> {
    Ok(Json(state.manager.inspect(&cred.token).await?.into()))
}

async fn inspect_id(
    _: Auth<AdminScope>,
    State(state): State<Shared>,
    SessionIdParam(id): SessionIdParam,
) -> Result<Json<InspectionView>, ApiError> {
    Ok(Json(state.manager.inspect_id(&id).await?.into()))
}

async fn revoke_id(
    _: Auth<AdminScope>,
    State(state): State<Shared>,
    SessionIdParam(id): SessionIdParam,
) -> Result<Json<Ended>, ApiError> {
    let ended = state.manager.end_id(&id, EndReason::Revoked).await?;
    Ok(Json(Ended { ended }))
}

/// A user's live sessions.
#[derive(Debug, Serialize)]
pub struct UserSessions {
    /// The user.
    pub user: String,
    /// Oldest first.
    pub sessions: Vec<SessionView>,
}

async fn list_user(
    _: Auth<AdminScope>,
    State(state): State<Shared>,
    UserParam(user): UserParam,
) -> Result<Json<UserSessions>, ApiError> {
    let sessions = state.manager.list_user(&user).await?;
    Ok(Json(UserSessions {
        user,
        sessions: sessions.into_iter().map(Into::into).collect(),
    }))
}

/// `POST /v1/users/{user}/revoke` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Keep this session (by id).
    #[serde(default)]
    pub except_id: Option<String>,
    /// Keep this session (by token): "log out my other devices".
    #[serde(default)]
    pub except_token: Option<String>,
}

/// The sessions a revoke ended.
#[derive(Debug, Serialize)]
pub struct Revoked {
    /// Their ids.
    pub revoked: Vec<String>,
}

async fn revoke_user(
    _: Auth<AdminScope>,
    State(state): State<Shared>,
    UserParam(user): UserParam,
    JsonBody(req): JsonBody<RevokeRequest>,
) -> Result<Json<Revoked>, ApiError> {
    let except = match (&req.except_id, &req.except_token) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "give except_id or except_token, not both",
            ));
        }
        (Some(id), None) => Some(fields::session_id(id)?),
        // A malformed token here is a bad field, not a failed credential.
        (None, Some(token)) => Some(
            sesame::SessionToken::parse(token)
                .map_err(|_| {
                    ApiError::bad_request(
                        ErrorCode::InvalidRequest,
                        "except_token is not a session token",
                    )
                })?
                .id(),
        ),
        (None, None) => None,
    };
    let ended = state.manager.revoke_user(&user, except.as_ref()).await?;
    Ok(Json(Revoked {
        revoked: ended.iter().map(SessionId::to_hex).collect(),
    }))
}

/// `POST /v1/cookies/decode` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeRequest {
    /// The cookie value.
    pub cookie: String,
}

async fn decode_cookie(
    _: Auth<AdminScope>,
    State(state): State<Shared>,
    JsonBody(req): JsonBody<DecodeRequest>,
) -> Result<Json<CookieInspection>, ApiError> {
    state
        .cookies
        .inspect(&req.cookie, state.now_secs())
        .map(Json)
        .ok_or_else(|| {
            ApiError::bad_request(ErrorCode::CookiesDisabled, "no cookie keys are configured")
        })
}

/// What a cleanup run did.
#[derive(Debug, Serialize)]
pub struct CleanupView {
    /// Records examined.
    pub scanned: u64,
    /// Records deleted.
    pub deleted: u64,
    /// Live sessions found expired and ended.
    pub expired: usize,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl From<&sesame::CleanupReport> for CleanupView {
    fn from(r: &sesame::CleanupReport) -> Self {
        Self {
            scanned: r.scanned,
            deleted: r.deleted,
            expired: r.expired.len(),
            duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

async fn cleanup(
    _: Auth<AdminScope>,
    State(state): State<Shared>,
) -> Result<Json<CleanupView>, ApiError> {
    let report = crate::cleanup::run_once(&state.manager, &state.metrics).await?;
    Ok(Json((&report).into()))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(state): State<Shared>) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .manager
        .store()
        .ping()
        .await
        .map_err(crate::pending::not_ready)?;
    Ok(Json(
        serde_json::json!({"status": "ready", "store": state.store_kind}),
    ))
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    )
}

/// Every route: (method, path) as the OpenAPI document names them.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/sessions"),
    ("post", "/v1/session/validate"),
    ("get", "/v1/session"),
    ("patch", "/v1/session"),
    ("delete", "/v1/session"),
    ("post", "/v1/session/increment"),
    ("post", "/v1/session/rotate"),
    ("get", "/v1/session/inspect"),
    ("get", "/v1/sessions/{id}"),
    ("post", "/v1/sessions/{id}/revoke"),
    ("get", "/v1/users/{user}/sessions"),
    ("post", "/v1/users/{user}/revoke"),
    ("post", "/v1/cookies/decode"),
    ("post", "/v1/cleanup"),
    ("get", "/v1/cookie-policy"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

/// The router, without the middleware stack.
pub fn routes(state: Shared) -> Router {
    Router::new()
        .route("/v1/sessions", post(create))
        .route("/v1/session/validate", post(validate))
        .route(
            "/v1/session",
            get(get_session).patch(patch_session).delete(end_session),
        )
        .route("/v1/session/increment", post(increment))
        .route("/v1/session/rotate", post(rotate))
        .route("/v1/session/inspect", get(inspect_token))
        .route("/v1/sessions/{id}", get(inspect_id))
        .route("/v1/sessions/{id}/revoke", post(revoke_id))
        .route("/v1/users/{user}/sessions", get(list_user))
        .route("/v1/users/{user}/revoke", post(revoke_user))
        .route("/v1/cookies/decode", post(decode_cookie))
        .route("/v1/cleanup", post(cleanup))
        .route("/v1/cookie-policy", get(cookie_policy))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `api_json` fuzz target: bytes that are not UTF-8 in a
    /// string the type skips (an unknown key of `device`) were accepted.
    #[test]
    fn a_body_that_is_not_utf8_is_invalid_json_even_where_skipped() {
        let body = b"{\"device\": {\"other\": \"Moz\xff\xffilla\"}}";
        for err in [
            parse_json_body::<ValidateRequest>(body).err(),
            parse_json_body::<CreateRequest>(body).err(),
        ] {
            let err = err.expect("refused");
            assert_eq!(
                (err.status(), err.code().as_str()),
                (StatusCode::BAD_REQUEST, "invalid_json")
            );
        }
        let fine: ValidateRequest =
            parse_json_body("{\"device\": {\"other\": \"Mozilla ü\"}}".as_bytes()).unwrap();
        assert!(fine.device.is_empty());
        assert!(parse_json_body::<ValidateRequest>(b" \r\n").is_ok());
        assert!(parse_json_body::<ValidateRequest>(b"[]").is_err());
    }
}
