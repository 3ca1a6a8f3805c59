//! Errors as HTTP responses: one place maps every failure to a status and a
//! stable machine-readable code.
//!
//! The body is always `{"code": "...", "message": "..."}`, plus `reason` for
//! an ended session, `current_version` for a conflict, and `clear_cookie` on
//! a 401 refusing a session the request presented (added by
//! [`crate::server::guard`], which knows what the request carried). Internal failures
//! are a generic 500 (or 503 for the store) whose text names no internals; the
//! detail goes to the log only.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sesame::EndReason;

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
    pub code: &'static str,
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

/// The response extension that tells middleware which error code was sent.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no API key.
    pub fn missing_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "send an API key as Authorization: Bearer <key>",
        )
    }

    /// 401: an unknown API key.
    pub fn invalid_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "the API key is not valid",
        )
    }

    /// 403: the key lacks the scope.
    pub fn forbidden(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the API key lacks the {scope} scope"),
        )
    }

    /// 401 `invalid`: no usable session credential.
    pub fn invalid_session(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid", message)
    }

    /// 401 `expired` with reason `cookie_expired`: an authentic cookie
    /// older than its maximum age.
    pub fn cookie_expired() -> Self {
        let mut err = Self::new(
            StatusCode::UNAUTHORIZED,
            "expired",
            "the cookie is older than its maximum age",
        );
        err.body.reason = Some("cookie_expired");
        err
    }

    /// 404 for unknown routes.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> &'static str {
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
            && !matches!(self.body.code, "missing_api_key" | "invalid_api_key")
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

/// The API code of an end reason: both timeouts are `expired`.
pub fn ended_code(reason: EndReason) -> &'static str {
    match reason {
        EndReason::IdleTimeout | EndReason::AbsoluteTimeout => "expired",
        other => other.as_str(),
    }
}

impl From<sesame::Error> for ApiError {
    fn from(e: sesame::Error) -> Self {
        use sesame::Error as E;
        match e {
            E::InvalidToken | E::NotFound => {
                Self::invalid_session("no live session for this token")
            }
            E::Ended { reason } => {
                let mut err = Self::new(
                    StatusCode::UNAUTHORIZED,
                    ended_code(reason),
                    format!("the session has ended: {reason}"),
                );
                err.body.reason = Some(reason.as_str());
                err
            }
            E::Conflict { current_version } => {
                let mut err = Self::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("the session is at version {current_version}"),
                );
                err.body.current_version = Some(current_version);
                err
            }
            E::LimitReached => Self::new(
                StatusCode::CONFLICT,
                "limit_reached",
                "the user already has the maximum number of sessions",
            ),
            E::StoreFull => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_full",
                "the session store is full",
            ),
            e @ E::DataTooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "data_too_large",
                e.to_string(),
            ),
            e @ (E::InvalidUserId(_) | E::InvalidKey(_) | E::InvalidSessionId) => {
                Self::bad_request(e.code(), e.to_string())
            }
            E::Serialization(_) => Self::bad_request("invalid_value", "a value is not valid JSON"),
            e @ E::NotAnInteger { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_an_integer",
                e.to_string(),
            ),
            E::StoreUnavailable(source) => {
                tracing::warn!(error = %source, "session store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the session store is unavailable; retry later",
                )
            }
            other => {
                tracing::error!(error = %other, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
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
        if code == "payload_too_large" {
            // The body was not read to its end, so this connection cannot
            // carry another request: saying so sends the client's next
            // request to a fresh connection instead of failing it here.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if matches!(code, "missing_api_key" | "invalid_api_key") {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(ErrorCode(code));
        if let Some(refusal) = refusal {
            response.extensions_mut().insert(refusal);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_error_maps_to_a_stable_code() {
        let cases: Vec<(sesame::Error, u16, &str)> = vec![
            (sesame::Error::InvalidToken, 401, "invalid"),
            (sesame::Error::NotFound, 401, "invalid"),
            (
                sesame::Error::Ended {
                    reason: EndReason::IdleTimeout,
                },
                401,
                "expired",
            ),
            (
                sesame::Error::Ended {
                    reason: EndReason::Revoked,
                },
                401,
                "revoked",
            ),
            (
                sesame::Error::Conflict { current_version: 3 },
                409,
                "conflict",
            ),
            (sesame::Error::LimitReached, 409, "limit_reached"),
            (
                sesame::Error::DataTooLarge { size: 9, limit: 2 },
                413,
                "data_too_large",
            ),
            (
                sesame::Error::unavailable(std::io::Error::other("secret detail")),
                503,
                "store_unavailable",
            ),
            (
                sesame::Error::Internal("secret detail".into()),
                500,
                "internal",
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.status().as_u16(), status);
            assert_eq!(api.code(), code);
            assert!(!api.body.message.contains("secret"));
        }
    }
}
