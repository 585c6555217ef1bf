//! The one error type of register's handlers, so that they can use `?` on both the
//! domain's validation and the store.

use api_contract::FieldProblem;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::ValidationErrors;
use service_kit::Problem;
use store::StoreError;

/// Why a request was not admitted.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 422 with every refused field under `errors`.
    Invalid(ValidationErrors),
    /// As api-kit answers the store: 409 for a reused key, 503 (with `Retry-After`)
    /// when DynamoDB is unavailable or did not confirm the write, an opaque 500 otherwise
    /// (the cause goes on the request's log line).
    Store(StoreError),
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Invalid(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// The 422's `errors`, as the contract writes them.
fn field_problems(errors: Vec<domain::FieldError>) -> serde_json::Value {
    let problems: Vec<FieldProblem> = errors.into_iter().map(FieldProblem::from).collect();
    serde_json::to_value(problems).unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(ValidationErrors(errors)) => {
                let detail = match errors.len() {
                    1 => "1 field of the registration is invalid.".to_owned(),
                    n => format!("{n} fields of the registration are invalid."),
                };
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
                    .with("errors", field_problems(errors))
                    .into_response()
            }
            Self::Store(err) => api_kit::store_problem(err).into_response(),
        }
    }
}
