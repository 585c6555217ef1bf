//! How a `StoreError` is answered by a JSON API.

use axum::http::StatusCode;
use store::StoreError;

use crate::Problem;

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        match &err {
            StoreError::NotFound => Problem::new(StatusCode::NOT_FOUND, err.to_string()),
            StoreError::IdempotencyConflict => Problem::new(StatusCode::CONFLICT, err.to_string()),
            StoreError::InvalidCursor(_) => Problem::new(StatusCode::BAD_REQUEST, err.to_string()),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %store::error_chain(&err), "DynamoDB unavailable");
                Problem::unavailable("The residents database is unavailable; please retry shortly.")
            }
            StoreError::Internal(_) => {
                tracing::error!(error = %store::error_chain(&err), "store failure");
                Problem::internal()
            }
        }
    }
}
