//! Errors as HTTP responses: one place maps every failure to a status and a
//! stable machine-readable code.
//!
//! The body is always `{"code": "...", "message": "..."}`, plus `reason` for
//! an ended session, `current_version` for a conflict, and `clear_cookie` on
//! a 401 refusing a session the request presented (added by
//! [`crate::server::guard`], which knows what the request carried). Codes
//! are the [`ErrorCode`] enum, the list `openapi.json` documents (a test
//! compares them). An engine error's status comes from its
//! [`sesame::ErrorKind`] ([`status_of`]), the same classification
//! `sesame-tower` answers by. Internal failures are a generic 500 (or 503 for
//! the store) whose text names no internals; the detail goes to the log only.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sesame::{EndReason, ErrorKind};

/// Every `code` an error response carries.
///
/// It is also put in the response's extensions, so middleware can tell
/// which error was sent without reading the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No live session for the credential (malformed, unknown or forged).
    Invalid,
    /// The session expired (idle or absolute), or the cookie is too old.
    Expired,
    /// The session ended: logged out.
    LoggedOut,
    /// The session ended: revoked.
    Revoked,
    /// The session ended: evicted by the per-user cap.
    Evicted,
    /// The session ended: rotated (the old token past its grace).
    Rotated,
    /// The session ended: the device did not match.
    DeviceMismatch,
    /// The session ended: a rotated token was reused.
    TokenReuse,
    /// The session ended: a security event.
    SecurityEvent,
    /// The session ended: a DBSC proof failed (its cookie was used without
    /// the browser's key).
    DbscFailed,
    /// A compare-and-set named a stale version.
    Conflict,
    /// The user is at the session cap (`reject_new`).
    LimitReached,
    /// The store has no room for another session.
    StoreFull,
    /// The session data would exceed `policy.max_data_size`.
    DataTooLarge,
    /// A user id is empty or too long.
    InvalidUserId,
    /// A data key is empty or too long.
    InvalidKey,
    /// A session id is not 64 hex characters.
    InvalidSessionId,
    /// A value is not valid JSON.
    InvalidValue,
    /// An increment met a value that is not an integer.
    NotAnInteger,
    /// The store cannot be reached.
    StoreUnavailable,
    /// A fault of the server.
    Internal,
    /// No API key was sent.
    MissingApiKey,
    /// The API key is unknown.
    InvalidApiKey,
    /// The API key lacks the route's scope.
    Forbidden,
    /// The body is not the JSON the route takes.
    InvalidJson,
    /// The body is over `limits.max_body_bytes`.
    PayloadTooLarge,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The headers are over `limits.max_header_bytes`.
    HeadersTooLarge,
    /// The request took over `limits.request_timeout`.
    Timeout,
    /// No concurrency permit was free within `limits.queue_timeout`.
    Overloaded,
    /// The body did not arrive within `limits.body_timeout`.
    BodyTimeout,
    /// The caller (API key and end-user address) presented too many invalid
    /// credentials.
    TooManyInvalidTokens,
    /// Both a token and a cookie were sent.
    AmbiguousCredential,
    /// A cookie route was called with no cookie keys configured.
    CookiesDisabled,
    /// The request is malformed in another way the message names.
    InvalidRequest,
    /// No such endpoint.
    NotFound,
    /// The endpoint does not take this method.
    MethodNotAllowed,
}

impl ErrorCode {
    /// Every code, in the order `openapi.json` lists them.
    pub const ALL: [ErrorCode; 37] = [
        ErrorCode::Invalid,
        ErrorCode::Expired,
        ErrorCode::LoggedOut,
        ErrorCode::Revoked,
        ErrorCode::Evicted,
        ErrorCode::Rotated,
        ErrorCode::DeviceMismatch,
        ErrorCode::TokenReuse,
        ErrorCode::SecurityEvent,
        ErrorCode::DbscFailed,
        ErrorCode::Conflict,
        ErrorCode::LimitReached,
        ErrorCode::StoreFull,
        ErrorCode::DataTooLarge,
        ErrorCode::InvalidUserId,
        ErrorCode::InvalidKey,
        ErrorCode::InvalidSessionId,
        ErrorCode::InvalidValue,
        ErrorCode::NotAnInteger,
        ErrorCode::StoreUnavailable,
        ErrorCode::Internal,
        ErrorCode::MissingApiKey,
        ErrorCode::InvalidApiKey,
        ErrorCode::Forbidden,
        ErrorCode::InvalidJson,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::HeadersTooLarge,
        ErrorCode::Timeout,
        ErrorCode::Overloaded,
        ErrorCode::BodyTimeout,
        ErrorCode::TooManyInvalidTokens,
        ErrorCode::AmbiguousCredential,
        ErrorCode::CookiesDisabled,
        ErrorCode::InvalidRequest,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
    ];

    /// The code as sent (`"limit_reached"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "invalid",
            ErrorCode::Expired => "expired",
            ErrorCode::LoggedOut => "logged_out",
            ErrorCode::Revoked => "revoked",
            ErrorCode::Evicted => "evicted",
            ErrorCode::Rotated => "rotated",
            ErrorCode::DeviceMismatch => "device_mismatch",
            ErrorCode::TokenReuse => "token_reuse",
            ErrorCode::SecurityEvent => "security_event",
            ErrorCode::DbscFailed => "dbsc_failed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::StoreFull => "store_full",
            ErrorCode::DataTooLarge => "data_too_large",
            ErrorCode::InvalidUserId => "invalid_user_id",
            ErrorCode::InvalidKey => "invalid_key",
            ErrorCode::InvalidSessionId => "invalid_session_id",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::NotAnInteger => "not_an_integer",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::MissingApiKey => "missing_api_key",
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::BodyTimeout => "body_timeout",
            ErrorCode::TooManyInvalidTokens => "too_many_invalid_tokens",
            ErrorCode::AmbiguousCredential => "ambiguous_credential",
            ErrorCode::CookiesDisabled => "cookies_disabled",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
        }
    }

    /// The code of an ended session: both timeouts are `expired`.
    pub fn ended(reason: EndReason) -> ErrorCode {
        match reason {
            EndReason::IdleTimeout | EndReason::AbsoluteTimeout => ErrorCode::Expired,
            EndReason::LoggedOut => ErrorCode::LoggedOut,
            EndReason::Revoked => ErrorCode::Revoked,
            EndReason::Evicted => ErrorCode::Evicted,
            EndReason::Rotated => ErrorCode::Rotated,
            EndReason::DeviceMismatch => ErrorCode::DeviceMismatch,
            EndReason::TokenReuse => ErrorCode::TokenReuse,
            EndReason::SecurityEvent => ErrorCode::SecurityEvent,
            EndReason::DbscFailed => ErrorCode::DbscFailed,
            // `EndReason` is non-exhaustive; a test checks every reason the
            // engine has maps to its own code, so this arm stays unused.
            _ => ErrorCode::SecurityEvent,
        }
    }

    /// Whether the code is a failure of the store or of the server (counted
    /// in `sesame_store_errors_total`).
    pub fn is_server_fault(self) -> bool {
        matches!(
            self,
            ErrorCode::StoreUnavailable | ErrorCode::StoreFull | ErrorCode::Internal
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status every engine error of `kind` is answered with. `sesame-tower`
/// answers with the same (`tests/error_kinds.rs` checks it).
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

/// An error the API returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// Stable code: `invalid`, `expired`, `conflict`, `forbidden`, ...
    pub code: ErrorCode,
    /// Human-readable text (no internals).
    pub message: String,
    /// For ended sessions: the precise reason (`expired_idle`, `revoked`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// For conflicts: the session's current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// On a 401 refusing a presented session: the complete `Set-Cookie`
    /// value that removes the session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clear_cookie: Option<String>,
}

/// The response extension a 401 refusing a session carries, so that
/// [`crate::server::guard`] can add `clear_cookie` when the request
/// presented a session credential.
#[derive(Debug, Clone)]
pub struct SessionRefusal(pub ErrorBody);

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                reason: None,
                current_version: None,
                clear_cookie: None,
            },
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no API key.
    pub fn missing_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::MissingApiKey,
            "send an API key as Authorization: Bearer <key>",
        )
    }

    /// 401: an unknown API key.
    pub fn invalid_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidApiKey,
            "the API key is not valid",
        )
    }

    /// 403: the key lacks the scope.
    pub fn forbidden(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("the API key lacks the {scope} scope"),
        )
    }

    /// 401 `invalid`: no usable session credential.
    pub fn invalid_session(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Invalid, message)
    }

    /// 401 `expired` with reason `cookie_expired`: an authentic cookie
    /// older than its maximum age.
    pub fn cookie_expired() -> Self {
        let mut err = Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Expired,
            "the cookie is older than its maximum age",
        );
        err.body.reason = Some("cookie_expired");
        err
    }

    /// 404 for unknown routes.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such endpoint",
        )
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.body.code
    }

    /// The ended-session reason, if any.
    pub fn reason(&self) -> Option<&'static str> {
        self.body.reason
    }

    /// A 401 about the session (not about the API key): the app's cookie
    /// for it is dead.
    pub fn is_session_refusal(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
            && !matches!(
                self.body.code,
                ErrorCode::MissingApiKey | ErrorCode::InvalidApiKey
            )
    }

    /// The refusal `body` again, with `clear_cookie`.
    pub fn refusal_with_clear_cookie(body: ErrorBody, clear_cookie: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            body: ErrorBody {
                clear_cookie: Some(clear_cookie.to_owned()),
                ..body
            },
        }
    }
}

impl From<sesame::Error> for ApiError {
    fn from(e: sesame::Error) -> Self {
        use sesame::Error as E;
        let status = status_of(e.kind());
        let code = match &e {
            E::InvalidToken | E::NotFound => ErrorCode::Invalid,
            E::Ended { reason } => ErrorCode::ended(*reason),
            E::Conflict { .. } => ErrorCode::Conflict,
            E::LimitReached => ErrorCode::LimitReached,
            E::StoreFull => ErrorCode::StoreFull,
            E::DataTooLarge { .. } => ErrorCode::DataTooLarge,
            E::InvalidUserId(_) => ErrorCode::InvalidUserId,
            E::InvalidKey(_) => ErrorCode::InvalidKey,
            E::InvalidSessionId => ErrorCode::InvalidSessionId,
            E::Serialization(_) => ErrorCode::InvalidValue,
            E::NotAnInteger { .. } => ErrorCode::NotAnInteger,
            E::StoreUnavailable(_) => ErrorCode::StoreUnavailable,
            // Configuration, corrupt records, cookies, bugs, and variants
            // added later: their kind decides the status, the text stays in
            // the log.
            _ if status.is_server_error() => ErrorCode::Internal,
            _ => ErrorCode::InvalidRequest,
        };
        let message = match &e {
            E::InvalidToken | E::NotFound => "no live session for this token".to_owned(),
            E::Ended { reason } => format!("the session has ended: {reason}"),
            E::Conflict { current_version } => {
                format!("the session is at version {current_version}")
            }
            E::Serialization(_) => "a value is not valid JSON".to_owned(),
            E::StoreUnavailable(source) => {
                tracing::warn!(error = %source, "session store unavailable");
                "the session store is unavailable; retry later".to_owned()
            }
            other if code == ErrorCode::Internal => {
                tracing::error!(error = %other, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let mut err = Self::new(status, code, message);
        if let E::Ended { reason } = e {
            err.body.reason = Some(reason.as_str());
        }
        if let E::Conflict { current_version } = e {
            err.body.current_version = Some(current_version);
        }
        err
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let refusal = (self.is_session_refusal() && self.body.clear_cookie.is_none())
            .then(|| SessionRefusal(self.body.clone()));
        let status = self.status;
        let code = self.body.code;
        let mut response = (status, axum::Json(self.body)).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(code, ErrorCode::MissingApiKey | ErrorCode::InvalidApiKey) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(code);
        if let Some(refusal) = refusal {
            response.extensions_mut().insert(refusal);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_engine_error_maps_to_a_stable_code() {
        let cases: Vec<(sesame::Error, u16, ErrorCode)> = vec![
            (sesame::Error::InvalidToken, 401, ErrorCode::Invalid),
            (sesame::Error::NotFound, 401, ErrorCode::Invalid),
            (
                sesame::Error::Ended {
                    reason: EndReason::IdleTimeout,
                },
                401,
                ErrorCode::Expired,
            ),
            (
                sesame::Error::Ended {
                    reason: EndReason::Revoked,
                },
                401,
                ErrorCode::Revoked,
            ),
            (
                sesame::Error::Conflict { current_version: 3 },
                409,
                ErrorCode::Conflict,
            ),
            (sesame::Error::LimitReached, 409, ErrorCode::LimitReached),
            (
                sesame::Error::DataTooLarge { size: 9, limit: 2 },
                413,
                ErrorCode::DataTooLarge,
            ),
            (
                sesame::Error::NotAnInteger { key: "n".into() },
                422,
                ErrorCode::NotAnInteger,
            ),
            (
                sesame::Error::InvalidSessionId,
                400,
                ErrorCode::InvalidSessionId,
            ),
            (
                sesame::Error::unavailable(std::io::Error::other("secret detail")),
                503,
                ErrorCode::StoreUnavailable,
            ),
            (
                sesame::Error::Internal("secret detail".into()),
                500,
                ErrorCode::Internal,
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.status().as_u16(), status);
            assert_eq!(api.code(), code);
            assert!(!api.body.message.contains("secret"));
        }
    }

    #[test]
    fn every_engine_error_is_answered_by_its_kind_without_internals() {
        for err in sesame::testing::errors::every_error() {
            let kind = err.kind();
            let text = format!("{err:?}");
            let api = ApiError::from(err);
            assert_eq!(api.status(), status_of(kind), "{text}");
            assert!(!api.body.message.contains("secret"), "{text}");
            if kind == ErrorKind::Internal {
                assert_eq!(api.code(), ErrorCode::Internal, "{text}");
            }
        }
    }

    #[test]
    fn the_codes_are_the_ones_openapi_documents() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
        let documented: Vec<&str> =
            doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
        let ours: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            ours.iter().collect::<BTreeSet<_>>(),
            documented.iter().collect::<BTreeSet<_>>(),
            "ErrorCode and openapi.json's Error.code enum differ"
        );
        assert_eq!(ours.len(), documented.len(), "a code is listed twice");
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
        }
        for reason in EndReason::ALL {
            let code = ErrorCode::ended(reason);
            match reason {
                EndReason::IdleTimeout | EndReason::AbsoluteTimeout => {
                    assert_eq!(code, ErrorCode::Expired);
                }
                other => assert_eq!(code.as_str(), other.as_str()),
            }
        }
    }
}
