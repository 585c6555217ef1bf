//! The JSON APIs' extractors: axum's own, with every rejection answered as problem+json
//! (axum answers plain text, which no caller of a JSON API should have to parse).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::{IdempotencyKey, ResidentId};

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

/// The `{ckid}` of the path as a [`ResidentId`]. A ckid that cannot be a resident's id
/// (wrong characters, too long, not UTF-8) is answered 404 exactly like an id nobody
/// has: no such resident can exist, so the store is not asked.
#[derive(Debug, Clone, serde::Deserialize, FromRequestParts)]
#[serde(transparent)]
#[from_request(via(axum::extract::Path), rejection(NotAResident))]
pub struct Ckid(pub ResidentId);

/// Why a `{ckid}` was refused.
#[derive(Debug)]
pub struct NotAResident(PathRejection);

impl From<PathRejection> for NotAResident {
    fn from(rejection: PathRejection) -> Self {
        Self(rejection)
    }
}

impl IntoResponse for NotAResident {
    fn into_response(self) -> Response {
        match self.0 {
            PathRejection::FailedToDeserializePathParams(_) => {
                Problem::new(StatusCode::NOT_FOUND, NO_SUCH_RESIDENT).into_response()
            }
            // The route has no `{ckid}`: a wiring mistake, not the caller's.
            rejection => Problem::internal()
                .caused_by(tracing::Level::ERROR, rejection)
                .into_response(),
        }
    }
}

/// What a 404 for a resident says (also `StoreError::NotFound`'s answer).
pub const NO_SUCH_RESIDENT: &str = "no resident has that ckid";

/// The request header that makes a write safe to repeat.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Set (to `true`) on an answer that replays an earlier write with the same key.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The `Idempotency-Key` header, if sent. Present but not 1..=128 visible ASCII
/// characters (or sent twice) is a 400 naming the header, never "no key": a client that
/// meant to be safe to retry must not silently lose that.
#[derive(Debug)]
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).into_iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        if values.next().is_some() {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key must be sent at most once.",
            ));
        }
        // Bytes outside ASCII become U+FFFD, which the key's own check refuses.
        IdempotencyKey::parse(&String::from_utf8_lossy(value.as_bytes()))
            .map(|key| Self(Some(key)))
            .map_err(|err| Problem::new(StatusCode::BAD_REQUEST, format!("{err}.")))
    }
}
