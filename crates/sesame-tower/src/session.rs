//! The session as handlers see it: [`Session`], and the extractors that require one.
//!
//! **Lazy.** The layer puts a handle holding only the presented (already Fernet-verified) token
//! into the request; the store is asked on the first access, once (a `OnceCell`). A route that
//! never touches the session costs no store call.
//!
//! **Changes are a patch.** `insert` and `remove` change a local copy and record a
//! [`Patch`]; the layer commits it after the handler returns, in one store operation, per key, so
//! concurrent requests of one session that change different keys both keep their changes. For
//! read-modify-write of one key use [`Session::increment`] (atomic in the store) — never
//! `get` + `insert`, which loses updates under concurrency like every whole-record session
//! library does.
//!
//! **Token changes** (creation, login, privilege rotation, renewal) set a flag that makes the
//! layer write `Set-Cookie`; nothing else does.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use base64::Engine as _;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sesame::store::{Write, Written};
use sesame::{Data, DeviceInfo, EndReason, Patch, PatchOp, SessionId, SessionRecord, SessionToken};
use zeroize::Zeroizing;

use crate::SessionError;
use crate::layer::Shared;

/// The data key under which the session's CSRF token is kept.
pub const CSRF_KEY: &str = "_csrf";

/// What the request presented, after the cookie codec looked at it.
pub(crate) enum Presented {
    /// No token.
    Nothing,
    /// An authentic token (the Fernet MAC verified); the store has not been asked yet.
    Token(Zeroizing<String>),
    /// A token that was refused before any store access, with the reason code.
    Refused(&'static str),
}

pub(crate) struct Live {
    /// The token that maps to `record.id`; `None` when the request reached the session through
    /// a rotated token within its grace (its successor's token is not known here).
    pub(crate) token: Option<SessionToken>,
    pub(crate) record: SessionRecord,
}

pub(crate) enum Absent {
    NoSession,
    Refused(&'static str),
    Ended(EndReason),
    Failed(sesame::Error),
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) live: Option<Live>,
    pub(crate) absent: Option<Absent>,
    pub(crate) patch: Patch,
    /// The token changed: the response must carry it.
    pub(crate) issue: bool,
    pub(crate) logged_out: bool,
    /// A session was loaded or created in this request (its response must not be cached).
    pub(crate) used: bool,
}

/// Shared between the layer (which commits) and the handler's extractors.
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) presented: Presented,
    pub(crate) header_client: bool,
    pub(crate) device: DeviceInfo,
    loaded: tokio::sync::OnceCell<()>,
    pub(crate) state: Mutex<State>,
}

impl Handle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        presented: Presented,
        header_client: bool,
        device: DeviceInfo,
    ) -> Self {
        Self {
            shared,
            presented,
            header_client,
            device,
            loaded: tokio::sync::OnceCell::new(),
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn was_loaded(&self) -> bool {
        self.loaded.initialized()
    }

    async fn ensure_loaded(&self) {
        self.loaded.get_or_init(|| self.load()).await;
    }

    async fn load(&self) {
        let outcome = match &self.presented {
            Presented::Nothing => Err(Absent::NoSession),
            Presented::Refused(code) => Err(Absent::Refused(code)),
            Presented::Token(token) => {
                self.shared.metrics.count_load();
                let loaded = self.shared.manager.load(token, &self.device).await;
                Self::resumed(token, loaded)
            }
        };
        self.settle(outcome);
    }

    /// The first access to the session is a write: loads it and makes `write` in one store
    /// step ([`sesame::Manager::load_and_write`]: one round trip on Redis). `None` when the
    /// session was loaded before, or no token was presented: then the caller writes as usual.
    async fn load_with_write(&self, write: Write<'_>) -> Option<sesame::Result<Written>> {
        let Presented::Token(token) = &self.presented else {
            return None;
        };
        let mut written = None;
        self.loaded
            .get_or_init(|| async {
                self.shared.metrics.count_load();
                let step = self
                    .shared
                    .manager
                    .load_and_write(token, &self.device, write)
                    .await;
                let loaded = step.map(|step| {
                    written = Some(step.written);
                    step.loaded
                });
                self.settle(Self::resumed(token, loaded));
            })
            .await;
        written
    }

    /// A load's outcome as the handle keeps it: the live session and whether it was renewed.
    fn resumed(
        token: &str,
        loaded: sesame::Result<sesame::Loaded>,
    ) -> Result<(Live, bool), Absent> {
        match loaded {
            Ok(loaded) => {
                let renewed = loaded.renewed.is_some();
                let token = match loaded.renewed {
                    Some(t) => Some(t),
                    None if loaded.via_grace => None,
                    None => SessionToken::parse(token).ok(),
                };
                Ok((
                    Live {
                        token,
                        record: loaded.session,
                    },
                    renewed,
                ))
            }
            Err(sesame::Error::Ended { reason }) => Err(Absent::Ended(reason)),
            Err(sesame::Error::NotFound) => Err(Absent::NoSession),
            Err(sesame::Error::InvalidToken) => Err(Absent::Refused("invalid_token")),
            Err(e) => Err(Absent::Failed(e)),
        }
    }

    fn settle(&self, outcome: Result<(Live, bool), Absent>) {
        let mut state = self.state.lock();
        match outcome {
            Ok((live, renewed)) => {
                state.live = Some(live);
                state.issue |= renewed;
                state.used = true;
            }
            Err(absent) => state.absent = Some(absent),
        }
    }

    /// The session's state as an error when there is no live session.
    fn absent_error(state: &State) -> SessionError {
        match &state.absent {
            None | Some(Absent::NoSession) => SessionError::NoSession,
            Some(Absent::Refused(code)) => SessionError::InvalidToken(code),
            Some(Absent::Ended(reason)) => SessionError::Ended(*reason),
            Some(Absent::Failed(e)) => SessionError::Engine(copy_error(e)),
        }
    }

    /// Err only for engine failures (an absent session is not an error for a plain `Session`).
    fn engine_failure(state: &State) -> Result<(), SessionError> {
        match &state.absent {
            Some(Absent::Failed(e)) if state.live.is_none() => {
                Err(SessionError::Engine(copy_error(e)))
            }
            _ => Ok(()),
        }
    }

    /// Creates the session now (anonymous, or for `user`), with the pending changes as its data.
    async fn create_now(
        &self,
        user: Option<&str>,
        extra: Option<(&str, Value)>,
    ) -> Result<(), SessionError> {
        let (data, previous) = {
            let mut state = self.state.lock();
            let mut data = state
                .live
                .as_ref()
                .map(|l| l.record.data.clone())
                .unwrap_or_default();
            state.patch.apply_to(&mut data);
            if let Some((k, v)) = extra {
                data.insert(k.to_owned(), v);
            }
            (data, state.live.take().map(|l| l.record.id))
        };
        if let Some(id) = previous {
            // Reached through a rotated token within its grace: end it, a new one replaces it.
            self.shared.manager.end_id(&id, EndReason::Rotated).await?;
        }
        let created = self
            .shared
            .manager
            .create(user, data, self.device.clone())
            .await?;
        let mut state = self.state.lock();
        state.live = Some(Live {
            token: Some(created.token),
            record: created.session,
        });
        state.absent = None;
        state.patch = Patch::new();
        state.issue = true;
        state.used = true;
        Ok(())
    }
}

/// Copies an engine error for a second caller (engine errors are not `Clone`; only the code
/// travels to clients anyway).
fn copy_error(e: &sesame::Error) -> sesame::Error {
    match e {
        sesame::Error::StoreUnavailable(_) => {
            sesame::Error::unavailable("session store unavailable")
        }
        sesame::Error::Corrupt { id, detail } => sesame::Error::Corrupt {
            id: id.clone(),
            detail: detail.clone(),
        },
        other => sesame::Error::Internal(other.code().to_owned()),
    }
}

/// A fresh CSRF token: 256 bits of base64url.
pub(crate) fn new_csrf_token() -> Result<String, SessionError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut bytes[..]).map_err(|_| {
        SessionError::Engine(sesame::Error::Internal("random generator failed".into()))
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..]))
}

/// The request's session: lazy, possibly absent. Extract it in any handler under a
/// [`SessionLayer`](crate::SessionLayer); reading an absent session gives `None`, writing to it
/// creates one (anonymous) when the response is sent.
///
/// # Examples
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use sesame::cookie::{FernetKey, KeyRing};
/// use sesame::{Manager, MemoryStore, Policy};
/// use sesame_tower::{Session, SessionError, SessionLayer};
/// use tower::ServiceExt as _;
///
/// async fn visit(session: Session) -> Result<String, SessionError> {
///     let visits = session.increment("visits", 1).await?; // atomic, in the store, now
///     session.insert("theme", "dark").await?; // committed after the handler returns
///     let theme: Option<String> = session.get("theme").await?; // sees this request's change
///     Ok(format!("visit {visits}, theme {}", theme.unwrap_or_default()))
/// }
///
/// let manager = Manager::new(MemoryStore::new(), Policy::default())?;
/// let app = Router::new()
///     .route("/", get(visit))
///     .layer(SessionLayer::new(manager, KeyRing::new(FernetKey::generate()?)));
/// let response = app.oneshot(Request::get("/").body(Body::empty())?).await?;
/// assert_eq!(response.status(), 200);
/// // The session was created by the first write: its cookie goes to the browser.
/// assert!(response.headers().contains_key("set-cookie"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// Every method returns [`SessionError`], an axum rejection: `?` in a handler answers with
/// its status and a JSON body of stable codes. `SessionError::Engine` when the store fails
/// (503 `store_unavailable`) or refuses a value (400 for a bad key, 413 over the size limit);
/// [`SessionError::ValueType`] when [`Session::get`] asks for a type the value does not have.
/// Reading an absent session is not an error (`None`); [`Session::require`] and the
/// [`RequireSession`] / [`RequireUser`] extractors make it one.
#[derive(Clone)]
pub struct Session(pub(crate) Arc<Handle>);

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.0.state.lock();
        f.debug_struct("Session")
            .field("loaded", &self.0.was_loaded())
            .field("id", &state.live.as_ref().map(|l| l.record.id.short()))
            .finish_non_exhaustive()
    }
}

/// One of a user's sessions, for a "your sessions" page.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    /// The session id (hex SHA-256 of its token: it cannot be used as a token).
    pub id: String,
    /// True for the session of this request.
    pub current: bool,
    /// The user agent it was created with.
    pub user_agent: Option<String>,
    /// The IP address it was created from.
    pub ip: Option<String>,
    /// Creation (or login) time, ms since the epoch.
    pub created_at_ms: u64,
    /// Last recorded use, ms since the epoch (to within the touch interval).
    pub last_used_ms: u64,
}

impl Session {
    /// Whether a live session exists (loads it if needed).
    pub async fn exists(&self) -> Result<bool, SessionError> {
        self.0.ensure_loaded().await;
        let state = self.0.state.lock();
        Handle::engine_failure(&state)?;
        Ok(state.live.is_some())
    }

    /// `Ok` when a live session exists, else why not (`NoSession`, `Ended { reason }`, ...).
    pub async fn require(&self) -> Result<(), SessionError> {
        self.0.ensure_loaded().await;
        let state = self.0.state.lock();
        match state.live {
            Some(_) => Ok(()),
            None => Err(Handle::absent_error(&state)),
        }
    }

    /// The logged-in user, if any.
    pub async fn user_id(&self) -> Result<Option<String>, SessionError> {
        self.0.ensure_loaded().await;
        let state = self.0.state.lock();
        Handle::engine_failure(&state)?;
        Ok(state
            .live
            .as_ref()
            .and_then(|l| l.record.user_id.as_ref())
            .map(|u| u.as_str().to_owned()))
    }

    /// The session's id (hex), if a session exists.
    pub async fn id(&self) -> Result<Option<String>, SessionError> {
        self.0.ensure_loaded().await;
        let state = self.0.state.lock();
        Handle::engine_failure(&state)?;
        Ok(state.live.as_ref().map(|l| l.record.id.to_hex()))
    }

    /// The value at `key` as JSON, including this request's own changes.
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        self.0.ensure_loaded().await;
        let state = self.0.state.lock();
        Handle::engine_failure(&state)?;
        if let Some((_, op)) = state.patch.ops().iter().find(|(k, _)| k == key) {
            return Ok(match op {
                PatchOp::Set(v) => Some(v.clone()),
                PatchOp::Remove => None,
            });
        }
        Ok(state
            .live
            .as_ref()
            .and_then(|l| l.record.data.get(key))
            .cloned())
    }

    /// The value at `key`, deserialized; `None` when the key (or the session) is absent.
    ///
    /// # Errors
    /// [`SessionError::ValueType`] when the value has another shape than `T` (a string asked
    /// for as a number, say): that is a bug to see, not an absent value to paper over. Ask for
    /// `Option<T>` to accept a stored `null`, or for [`serde_json::Value`] to take any shape
    /// ([`Session::get_value`]). `SessionError::Engine` when the store fails.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        match self.get_value(key).await? {
            None => Ok(None),
            Some(value) => {
                serde_json::from_value(value)
                    .map(Some)
                    .map_err(|_| SessionError::ValueType {
                        key: key.to_owned(),
                    })
            }
        }
    }

    /// Sets `key` to `value` (committed when the response is sent).
    pub async fn insert(&self, key: &str, value: impl Serialize) -> Result<(), SessionError> {
        self.0.ensure_loaded().await;
        let value = sesame::data::to_json(&value)?;
        let mut state = self.0.state.lock();
        Handle::engine_failure(&state)?;
        state.patch.push(key.to_owned(), PatchOp::Set(value))?;
        Ok(())
    }

    /// Removes `key` (committed when the response is sent).
    pub async fn remove(&self, key: &str) -> Result<(), SessionError> {
        self.0.ensure_loaded().await;
        let mut state = self.0.state.lock();
        Handle::engine_failure(&state)?;
        state.patch.push(key.to_owned(), PatchOp::Remove)?;
        Ok(())
    }

    /// Adds `delta` to the integer at `key` atomically in the store, now, and returns the new
    /// value: no concurrent increment is lost. Creates the session first if there is none.
    ///
    /// When this is the request's first access to its session, the load and the increment are
    /// one store step (one round trip on Redis).
    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64, SessionError> {
        sesame::data::validate_key(key)?;
        let write = Write::Increment { key, delta };
        if let Some(Written::Incremented(value)) =
            self.0.load_with_write(write).await.transpose()?
        {
            return Ok(value);
        }
        self.0.ensure_loaded().await;
        let id = {
            let mut state = self.0.state.lock();
            Handle::engine_failure(&state)?;
            // A pending write to the same key would clobber the increment at commit.
            if state.patch.ops().iter().any(|(k, _)| k == key) {
                let mut patch = Patch::new();
                for (k, op) in state.patch.ops().iter().filter(|(k, _)| k != key) {
                    patch.push(k.clone(), op.clone())?;
                }
                state.patch = patch;
            }
            state.live.as_ref().map(|l| l.record.id)
        };
        let id = match id {
            Some(id) => id,
            None => {
                self.0.create_now(None, None).await?;
                self.current_id()?
            }
        };
        let value = self.0.shared.manager.increment_id(&id, key, delta).await?;
        if let Some(live) = self.0.state.lock().live.as_mut() {
            live.record.data.insert(key.to_owned(), Value::from(value));
        }
        Ok(value)
    }

    fn current_id(&self) -> Result<SessionId, SessionError> {
        self.0
            .state
            .lock()
            .live
            .as_ref()
            .map(|l| l.record.id)
            .ok_or(SessionError::NoSession)
    }

    /// The session's CSRF token (synchronizer pattern), made on first use. Put it in forms as
    /// the field `csrf_token`, or send it in the `X-CSRF-Token` header.
    pub async fn csrf_token(&self) -> Result<String, SessionError> {
        if let Some(token) = self.get::<String>(CSRF_KEY).await? {
            return Ok(token);
        }
        let token = new_csrf_token()?;
        self.insert(CSRF_KEY, &token).await?;
        Ok(token)
    }

    /// Logs `user` in. The token is replaced (session fixation: the token from before the login
    /// stops working at once), the lifetime restarts, the user's session cap is enforced, and
    /// the CSRF token is replaced. Without a session, one is created for the user.
    pub async fn login(&self, user: &str) -> Result<(), SessionError> {
        self.0.ensure_loaded().await;
        let csrf = Value::from(new_csrf_token()?);
        let token = {
            let state = self.0.state.lock();
            Handle::engine_failure(&state)?;
            state.live.as_ref().and_then(|l| l.token.clone())
        };
        match token {
            Some(token) => {
                let rotated = self.0.shared.manager.login(token.expose(), user).await?;
                self.replace(rotated.token, rotated.session, csrf)
            }
            None => self.0.create_now(Some(user), Some((CSRF_KEY, csrf))).await,
        }
    }

    /// Replaces the token keeping user and lifetime — call it on every privilege change (the
    /// CSRF token is replaced too).
    pub async fn rotate(&self) -> Result<(), SessionError> {
        self.0.ensure_loaded().await;
        let csrf = Value::from(new_csrf_token()?);
        let token = {
            let state = self.0.state.lock();
            match &state.live {
                None => return Err(Handle::absent_error(&state)),
                Some(live) => live.token.clone(),
            }
        };
        match token {
            Some(token) => {
                let rotated = self.0.shared.manager.rotate(token.expose()).await?;
                self.replace(rotated.token, rotated.session, csrf)
            }
            None => {
                let user = self.user_id().await?;
                self.0
                    .create_now(user.as_deref(), Some((CSRF_KEY, csrf)))
                    .await
            }
        }
    }

    fn replace(
        &self,
        token: SessionToken,
        record: SessionRecord,
        csrf: Value,
    ) -> Result<(), SessionError> {
        let mut state = self.0.state.lock();
        state.live = Some(Live {
            token: Some(token),
            record,
        });
        state.patch.push(CSRF_KEY.to_owned(), PatchOp::Set(csrf))?;
        state.issue = true;
        state.used = true;
        Ok(())
    }

    /// Logs out: ends the session in the store (its token is dead everywhere at once), and
    /// makes the response expire the cookie and send `Clear-Site-Data: "cookies"`.
    pub async fn logout(&self) -> Result<(), SessionError> {
        self.0.ensure_loaded().await;
        let id = {
            let mut state = self.0.state.lock();
            state.logged_out = true;
            state.issue = false;
            state.patch = Patch::new();
            state.live.take().map(|l| l.record.id)
        };
        if let Some(id) = id {
            self.0
                .shared
                .manager
                .end_id(&id, EndReason::LoggedOut)
                .await?;
            self.0.state.lock().absent = Some(Absent::Ended(EndReason::LoggedOut));
        }
        Ok(())
    }

    async fn user_and_id(&self) -> Result<(String, SessionId), SessionError> {
        self.0.ensure_loaded().await;
        let state = self.0.state.lock();
        let live = state
            .live
            .as_ref()
            .ok_or_else(|| Handle::absent_error(&state))?;
        let user = live
            .record
            .user_id
            .as_ref()
            .ok_or(SessionError::LoginRequired)?;
        Ok((user.as_str().to_owned(), live.record.id))
    }

    /// "Log out other devices": ends every other session of this session's user. Returns how
    /// many ended.
    pub async fn revoke_other_sessions(&self) -> Result<usize, SessionError> {
        let (user, id) = self.user_and_id().await?;
        let ended = self.0.shared.manager.revoke_user(&user, Some(&id)).await?;
        Ok(ended.len())
    }

    /// The live sessions of this session's user, oldest first.
    pub async fn list_user_sessions(&self) -> Result<Vec<SessionSummary>, SessionError> {
        let (user, id) = self.user_and_id().await?;
        let records = self.0.shared.manager.list_user(&user).await?;
        Ok(records
            .into_iter()
            .map(|r| SessionSummary {
                id: r.id.to_hex(),
                current: r.id == id,
                user_agent: r.device.user_agent.clone(),
                ip: r.device.ip.map(|ip| ip.to_string()),
                created_at_ms: r.created_at.as_millis(),
                last_used_ms: r.last_accessed.as_millis(),
            })
            .collect())
    }

    /// Ends one of this user's sessions by id (from [`Session::list_user_sessions`]). A session
    /// of another user, or an unknown id, is not touched: `Ok(false)`.
    pub async fn end_user_session(&self, id_hex: &str) -> Result<bool, SessionError> {
        let (user, _) = self.user_and_id().await?;
        let Ok(target) = SessionId::from_hex(id_hex) else {
            return Ok(false);
        };
        let mine = self
            .0
            .shared
            .manager
            .list_user(&user)
            .await?
            .iter()
            .any(|r| r.id == target);
        if !mine {
            return Ok(false);
        }
        Ok(self
            .0
            .shared
            .manager
            .end_id(&target, EndReason::Revoked)
            .await?)
    }

    /// A copy of the session's data with this request's changes applied.
    pub async fn data(&self) -> Result<Data, SessionError> {
        self.0.ensure_loaded().await;
        let state = self.0.state.lock();
        Handle::engine_failure(&state)?;
        let mut data = state
            .live
            .as_ref()
            .map(|l| l.record.data.clone())
            .unwrap_or_default();
        state.patch.apply_to(&mut data);
        Ok(data)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, SessionError> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(SessionError::LayerMissing)
    }
}

/// A session that must exist: missing, invalid, expired or ended → 401 with the reason
/// (`{"error":"session_ended","reason":"logged_out"}`). Dereferences to [`Session`].
#[derive(Debug, Clone)]
pub struct RequireSession(pub Session);

impl std::ops::Deref for RequireSession {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequireSession {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, SessionError> {
        let session = Session::from_request_parts(parts, state).await?;
        session.require().await?;
        Ok(Self(session))
    }
}

/// A session with a logged-in user; an anonymous session → 401 `login_required`.
/// Dereferences to [`Session`].
///
/// The rejection is `R`: [`SessionError`] (the JSON refusal) unless the app names its own — any
/// type that is made from a `SessionError` and is a response, e.g. a redirect to the login
/// page for a browser app.
///
/// # Examples
/// ```
/// use axum::response::{IntoResponse, Redirect, Response};
/// use sesame_tower::{RequireUser, SessionError};
///
/// /// Not logged in: off to the login page; anything else as usual.
/// struct ToLogin(SessionError);
///
/// impl From<SessionError> for ToLogin {
///     fn from(e: SessionError) -> Self {
///         Self(e)
///     }
/// }
///
/// impl IntoResponse for ToLogin {
///     fn into_response(self) -> Response {
///         if self.0.is_unauthorized() {
///             Redirect::to("/login").into_response()
///         } else {
///             self.0.into_response()
///         }
///     }
/// }
///
/// async fn account(user: RequireUser<ToLogin>) -> String {
///     format!("hello {}", user.user_id)
/// }
///
/// async fn api_me(user: RequireUser) -> String {
///     user.user_id.clone() // refused with SessionError's JSON
/// }
/// # let _ = (account, api_me);
/// ```
pub struct RequireUser<R = SessionError> {
    /// The user.
    pub user_id: String,
    /// The session.
    pub session: Session,
    rejection: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for RequireUser<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireUser")
            .field("user_id", &self.user_id)
            .field("session", &self.session)
            .finish()
    }
}

impl<R> Clone for RequireUser<R> {
    fn clone(&self) -> Self {
        Self {
            user_id: self.user_id.clone(),
            session: self.session.clone(),
            rejection: PhantomData,
        }
    }
}

impl<R> std::ops::Deref for RequireUser<R> {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl<S, R> FromRequestParts<S> for RequireUser<R>
where
    S: Send + Sync,
    R: From<SessionError> + IntoResponse,
{
    type Rejection = R;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, R> {
        let RequireSession(session) = RequireSession::from_request_parts(parts, state).await?;
        let user_id = session
            .user_id()
            .await?
            .ok_or(SessionError::LoginRequired)?;
        Ok(Self {
            user_id,
            session,
            rejection: PhantomData,
        })
    }
}
