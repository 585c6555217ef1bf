//! `ApiJson<T>`: axum's `Json` extractor with its rejections answered as problem+json
//! (400 malformed, 413 too large, 415 wrong type, 422 wrong shape) instead of axum's
//! plain-text bodies. The response side is plain `axum::Json`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

use crate::Problem;

#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(problem_for(&rejection)),
        }
    }
}

fn problem_for(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The body must be JSON, sent with Content-Type: application/json.",
        ),
        JsonRejection::JsonSyntaxError(err) => Problem::new(
            StatusCode::BAD_REQUEST,
            format!("The body is not valid JSON: {}", serde_source(err)),
        ),
        JsonRejection::JsonDataError(err) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "The JSON does not have the expected shape: {}",
                serde_source(err)
            ),
        ),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "The body is too large.")
        }
        _ => Problem::new(rejection.status(), "The body could not be read."),
    }
}

/// serde_json's own message (line and column), without axum's wrapper text.
fn serde_source(err: &dyn std::error::Error) -> String {
    let mut innermost = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        innermost = cause.to_string();
        source = cause.source();
    }
    innermost
}
