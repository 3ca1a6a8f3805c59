//! A 401 that refuses a session the request presented (`Sesame-Token` or
//! `Sesame-Cookie`) carries `clear_cookie`: the complete `Set-Cookie` value
//! that removes the app's cookie (DECISIONS D2), so no app keeps sending a
//! dead one. A 401 for the API key (`missing_api_key`, `invalid_api_key`)
//! concerns no session and is left alone.
//!
//! The handler marks such a refusal with [`SessionRefusal`] (its error
//! body); this step answers it again with `clear_cookie` added. It sits
//! outside [`super::token_guard`], which must see the handler's own answer.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

use super::Step;
use crate::api::{Shared, presents_session};
use crate::error::{ApiError, SessionRefusal};

/// The clear-cookie step.
#[derive(Debug, Clone)]
pub struct ClearCookie {
    state: Shared,
}

impl ClearCookie {
    /// Uses the state's cookie policy for the removal value.
    pub fn new(state: &Shared) -> Self {
        Self {
            state: Arc::clone(state),
        }
    }
}

impl Step for ClearCookie {
    /// Whether the request presented a session.
    type Note = bool;

    fn before(&self, req: &mut Request) -> Result<bool, Response> {
        Ok(presents_session(req.headers()))
    }

    fn after(&self, presented: bool, mut response: Response) -> Response {
        match response.extensions_mut().remove::<SessionRefusal>() {
            Some(SessionRefusal(body)) if presented => {
                ApiError::refusal_with_clear_cookie(body, self.state.cookies.clear_cookie())
                    .into_response()
            }
            _ => response,
        }
    }
}
