//! The one error type of server-listing's handlers, so that they can use `?` on both
//! their own checks and the store.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::Problem;
use store::StoreError;

/// Why a request was not answered as asked.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400: a query parameter is not valid; the message names it.
    BadQuery(String),
    /// As api-kit answers the store: 404, 400 for a bad cursor, 503 (with
    /// `Retry-After`) when DynamoDB is unavailable or did not confirm a write, an opaque
    /// 500 otherwise (the cause goes on the request's log line).
    Store(StoreError),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl ApiError {
    pub(crate) fn into_problem(self) -> Problem {
        match self {
            Self::BadQuery(message) => Problem::new(StatusCode::BAD_REQUEST, message),
            Self::Store(err) => api_kit::store_problem(err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_problem().into_response()
    }
}
