//! Counts answers that report a store failure (`store_unavailable`,
//! `store_full`, `internal`) in `sesame_store_errors_total`, whichever route
//! gave them.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;

use super::Step;
use crate::api::Shared;
use crate::error::ErrorCode;
use crate::metrics::Metrics;

/// The store-error counting step.
#[derive(Debug, Clone)]
pub struct StoreErrors {
    metrics: Arc<Metrics>,
}

impl StoreErrors {
    /// Counts into the server's metrics.
    pub fn new(state: &Shared) -> Self {
        Self {
            metrics: Arc::clone(&state.metrics),
        }
    }
}

impl Step for StoreErrors {
    type Note = ();

    fn before(&self, _: &mut Request) -> Result<(), Response> {
        Ok(())
    }

    fn after(&self, (): (), response: Response) -> Response {
        if response
            .extensions()
            .get::<ErrorCode>()
            .is_some_and(|code| code.is_server_fault())
        {
            self.metrics.store_error();
        }
        response
    }
}
