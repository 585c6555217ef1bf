//! The JSON APIs' extractors: axum's own, with every rejection answered as problem+json
//! (axum answers plain text, which no caller of a JSON API should have to parse).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;

use crate::Problem;

/// `Json<T>`: 400 malformed, 413 too large, 415 wrong type, 422 wrong shape. The
/// response side is plain `axum::Json`.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        match &rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The body must be JSON, sent with Content-Type: application/json.",
            ),
            // serde_json's own message (line and column), without axum's wrapper text.
            JsonRejection::JsonSyntaxError(err) => Self::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "The body is not valid JSON: {}",
                    telemetry::errors::innermost(err)
                ),
            ),
            JsonRejection::JsonDataError(err) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "The JSON does not have the expected shape: {}",
                    telemetry::errors::innermost(err)
                ),
            ),
            JsonRejection::BytesRejection(_)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "The body is too large.")
            }
            _ => Self::new(rejection.status(), "The body could not be read."),
        }
    }
}

/// `Query<T>`, refused with a 400 (the only way it fails is a query string that does
/// not fit `T`, such as a parameter given twice).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        // serde_urlencoded's message names the parameter ("duplicate field `limit`").
        Self::new(
            StatusCode::BAD_REQUEST,
            format!(
                "The query string is not valid: {}.",
                telemetry::errors::innermost(&rejection)
            ),
        )
    }
}
