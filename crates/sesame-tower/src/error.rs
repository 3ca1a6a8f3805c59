//! Why a request was refused, as a response with a machine-readable body.
//!
//! Every refusal is JSON `{"error": "...", "reason": "..."}` with stable snake_case codes and
//! nothing else: no store error text, no session id, no token. A client can tell "log in again"
//! (401) from "you were refused" (403) from "try again later" (503) and show the end reason
//! (`logged_out`, `revoked`, `expired_idle`, ...) without the server leaking internals.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sesame::{EndReason, ErrorKind};

/// The status an engine error of `kind` is answered with: the same as `sesame serve`'s (its
/// `tests/error_kinds.rs` checks both). `not_an_integer` is 422, as in the HTTP API: the request
/// is well-formed but cannot apply to the stored value.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Why a request could not use a session.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The request carries no session. 401 `{"error":"session_required","reason":"no_session"}`.
    NoSession,
    /// The request's session token is not acceptable: `invalid_cookie` (forged, tampered or
    /// malformed), `ambiguous_cookie` (two cookies with the session's name: cookie tossing),
    /// `cookie_expired` (authentic but older than the absolute lifetime). 401
    /// `{"error":"invalid_session","reason":...}`.
    InvalidToken(&'static str),
    /// The session has ended. 401 `{"error":"session_ended","reason":"logged_out"}` (or
    /// `revoked`, `expired_idle`, `expired_absolute`, `evicted`, `rotated`, `device_mismatch`,
    /// `token_reuse`, `security_event`).
    Ended(EndReason),
    /// The session has no user. 401 `{"error":"login_required","reason":"anonymous_session"}`.
    LoginRequired,
    /// A CSRF check failed. 403 `{"error":"csrf_failed","reason":...}` where the reason is
    /// `cross_site`, `origin_mismatch`, `token_missing`, `token_mismatch`, `no_session` or
    /// `body_too_large`.
    Csrf(&'static str),
    /// The request's `Host` is not allowed by the cookie policy (development mode serves only
    /// localhost). 400 `{"error":"host_not_allowed"}`.
    HostNotAllowed,
    /// The [`SessionLayer`](crate::SessionLayer) is not installed on this route. 500
    /// `{"error":"internal","reason":"session_layer_missing"}`.
    LayerMissing,
    /// [`Session::get`](crate::Session::get) asked for a type the value at `key` does not
    /// have: the app wrote another shape under that key (or an older version of it did). A bug
    /// of the app, not of the client: 500 `{"error":"internal","reason":"session_value_type"}`;
    /// the key is for the app's log only.
    ValueType {
        /// The data key.
        key: String,
    },
    /// The engine or store failed. The status is its [`sesame::ErrorKind`]'s ([`status_of`]):
    /// 400 for bad ids, keys or values, 409 for a conflict or `limit_reached`, 413 for
    /// `data_too_large`, 422 for `not_an_integer`, 503 for `store_unavailable`/`store_full`,
    /// otherwise 500 — the statuses `sesame serve` answers with. The body names only
    /// [`sesame::Error::code`].
    Engine(sesame::Error),
}

impl From<sesame::Error> for SessionError {
    fn from(e: sesame::Error) -> Self {
        match e {
            sesame::Error::Ended { reason } => SessionError::Ended(reason),
            sesame::Error::NotFound => SessionError::NoSession,
            sesame::Error::InvalidToken => SessionError::InvalidToken("invalid_token"),
            e => SessionError::Engine(e),
        }
    }
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (_, error, reason) = self.parts();
        match reason {
            Some(reason) => write!(f, "{error}: {reason}"),
            None => f.write_str(error),
        }
    }
}

impl std::error::Error for SessionError {}

impl SessionError {
    /// The HTTP status, the `error` code and the `reason` code.
    pub fn parts(&self) -> (StatusCode, &'static str, Option<&'static str>) {
        match self {
            SessionError::NoSession => (
                StatusCode::UNAUTHORIZED,
                "session_required",
                Some("no_session"),
            ),
            SessionError::InvalidToken(r) => (StatusCode::UNAUTHORIZED, "invalid_session", Some(r)),
            SessionError::Ended(reason) => (
                StatusCode::UNAUTHORIZED,
                "session_ended",
                Some(reason.as_str()),
            ),
            SessionError::LoginRequired => (
                StatusCode::UNAUTHORIZED,
                "login_required",
                Some("anonymous_session"),
            ),
            SessionError::Csrf(r) => (StatusCode::FORBIDDEN, "csrf_failed", Some(r)),
            SessionError::HostNotAllowed => (StatusCode::BAD_REQUEST, "host_not_allowed", None),
            SessionError::LayerMissing => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                Some("session_layer_missing"),
            ),
            SessionError::ValueType { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                Some("session_value_type"),
            ),
            SessionError::Engine(e) => {
                let status = status_of(e.kind());
                let error = if status.is_server_error() {
                    "session_unavailable"
                } else {
                    "session_error"
                };
                (status, error, Some(e.code()))
            }
        }
    }

    /// True for the 401 family: the client must (re)authenticate.
    pub fn is_unauthorized(&self) -> bool {
        self.parts().0 == StatusCode::UNAUTHORIZED
    }
}

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        let (status, error, reason) = self.parts();
        match &self {
            SessionError::Engine(e) if status.is_server_error() => {
                tracing::warn!(code = e.code(), "session engine error");
            }
            SessionError::ValueType { key } => {
                tracing::error!(key = %key, "session value of another type than asked for");
            }
            _ => {}
        }
        let body = match reason {
            Some(reason) => serde_json::json!({ "error": error, "reason": reason }),
            None => serde_json::json!({ "error": error }),
        };
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Cookie realm=\"session\""),
            );
        }
        response
    }
}
