//! The APIs' own extractors: a resident's `{ckid}` and the `Idempotency-Key` header,
//! each refused as problem+json.

use api_contract::IDEMPOTENCY_KEY;
use axum::extract::FromRequestParts;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use domain::{IdempotencyKey, ResidentId};
use service_kit::Problem;

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
