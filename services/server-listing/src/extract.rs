//! Extractors whose rejections are problem+json: axum's own `Query` and `Path` answer
//! with plain text, which no caller of a JSON API should have to parse.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use domain::ResidentId;
use serde::de::DeserializeOwned;
use service_kit::Problem;
use store::StoreError;

/// `Query<T>`, refused with a 400 problem (the only way it fails is a query string that
/// does not fit `T`, such as a parameter given twice).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_problem(&rejection)),
        }
    }
}

fn query_problem(rejection: &QueryRejection) -> Problem {
    // serde_urlencoded's message names the parameter (e.g. "duplicate field `limit`");
    // axum's wrapper text around it adds nothing.
    let mut reason = rejection.body_text();
    let mut source = std::error::Error::source(rejection);
    while let Some(cause) = source {
        reason = cause.to_string();
        source = cause.source();
    }
    Problem::new(
        StatusCode::BAD_REQUEST,
        format!("The query string is not valid: {reason}."),
    )
}

/// The `{ckid}` of the path as a [`ResidentId`]. A ckid that cannot be a resident's id
/// (wrong characters, too long, not UTF-8) is answered 404 exactly like an id nobody
/// has: no such resident can exist, so the store is not asked.
#[derive(Debug, Clone)]
pub(crate) struct Ckid(pub ResidentId);

impl<S> FromRequestParts<S> for Ckid
where
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(text)) => ResidentId::parse(&text)
                .map(Self)
                .map_err(|_| StoreError::NotFound.into()),
            Err(PathRejection::FailedToDeserializePathParams(_)) => {
                Err(StoreError::NotFound.into())
            }
            // The route has no `{ckid}`: a wiring mistake, not the caller's.
            Err(rejection) => {
                tracing::error!(error = %rejection.body_text(), "the route has no ckid");
                Err(Problem::internal())
            }
        }
    }
}
