//! Invalid session credentials: counted in `sesame_invalid_tokens_total`,
//! and per caller by the token-guessing guard ([`crate::probing`]), which
//! turns a blocked caller's 401 `invalid` into 429
//! `too_many_invalid_tokens` with `Retry-After`.
//!
//! Innermost, so it sees the handler's own answer: only a request to
//! `/v1/session…` carrying `Sesame-Token` or `Sesame-Cookie` that the API
//! refused as `invalid` is counted, and nothing else is ever changed — a
//! valid session validates even for a blocked caller. The caller is worked
//! out only for such a refusal (the API key hashed once more, the address
//! read), so a valid request pays two header lookups here.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Step;
use crate::api::{AppState, Shared, presents_session};
use crate::error::{ApiError, ErrorCode};
use crate::fields::{DEVICE_IP_HEADER, parse_device_ip};
use crate::probing::{Blocked, Caller, ReportedIp};

/// The token guard step.
#[derive(Debug, Clone)]
pub struct TokenGuard {
    state: Shared,
}

impl TokenGuard {
    /// Counts into the state's guard and metrics.
    pub fn new(state: &Shared) -> Self {
        Self {
            state: Arc::clone(state),
        }
    }
}

/// What identifies the caller of a request that names a session, kept
/// until the answer says whether the credential was invalid.
#[derive(Debug)]
pub struct Presented {
    authorization: Option<HeaderValue>,
    device_ip: Option<HeaderValue>,
}

/// Whether the request names a session: `/v1/session` or below, with a
/// token or cookie header.
fn names_session(req: &Request) -> bool {
    let route = req.extensions().get::<MatchedPath>();
    route.is_some_and(|r| r.as_str() == "/v1/session" || r.as_str().starts_with("/v1/session/"))
        && presents_session(req.headers())
}

/// `Sesame-Device-Ip`, typed (a `&str` name is parsed on every lookup).
const DEVICE_IP: HeaderName = HeaderName::from_static(DEVICE_IP_HEADER);

impl Step for TokenGuard {
    type Note = Option<Presented>;

    fn before(&self, req: &mut Request) -> Result<Self::Note, Response> {
        if !names_session(req) {
            return Ok(None);
        }
        // Header values are reference-counted: cloning one copies nothing.
        Ok(Some(Presented {
            authorization: req.headers().get(header::AUTHORIZATION).cloned(),
            device_ip: req.headers().get(&DEVICE_IP).cloned(),
        }))
    }

    fn after(&self, presented: Self::Note, response: Response) -> Response {
        let Some(presented) = presented else {
            return response;
        };
        if !matches!(
            response.extensions().get::<ErrorCode>(),
            Some(ErrorCode::Invalid)
        ) {
            return response;
        }
        let state: &AppState = &self.state;
        state.metrics.invalid_token();
        if !state.probes.enabled() {
            return response;
        }
        // `invalid` comes after the API key was accepted, so it is found.
        let Some(key) = presented
            .authorization
            .as_ref()
            .and_then(|v| crate::api::bearer_value(v))
            .and_then(|k| state.keys.find(k))
        else {
            return response;
        };
        // The address the handler read from the body wins; else the header's.
        let ip: Option<IpAddr> = response
            .extensions()
            .get::<ReportedIp>()
            .map(|r| r.0)
            .or_else(|| presented.device_ip.as_ref().and_then(parse_device_ip));
        let caller = Caller::new(key.hash, ip);
        match state.probes.record_invalid(caller, state.now_secs()) {
            None => response,
            // The credential that starts a block is answered as it was
            // (401); the caller's next invalid ones get 429.
            Some(blocked) if blocked.started => {
                state.metrics.invalid_token_block();
                tracing::warn!(
                    api_key = %key.name,
                    client = %caller.client().map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    invalid = blocked.count,
                    block_secs = blocked.retry_after,
                    "too many invalid session tokens or cookies: caller blocked"
                );
                response
            }
            Some(blocked) => too_many(blocked),
        }
    }
}

/// 429 `too_many_invalid_tokens` with `Retry-After`.
fn too_many(blocked: Blocked) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyInvalidTokens,
        "too many invalid session tokens or cookies from this caller; retry later",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(blocked.retry_after));
    response
}
