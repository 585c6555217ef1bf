//! Answers for requests no route takes, in the JSON APIs' problem+json format.

use axum::Router;
use axum::http::{StatusCode, Uri};

use crate::Problem;

async fn no_route(uri: Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        format!("There is no resource at {}.", uri.path()),
    )
}

async fn wrong_method() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "This resource does not support that method; see the Allow header.",
    )
}

/// Adds problem+json 404 and 405 answers to a JSON API router.
pub fn with_api_fallbacks(router: Router) -> Router {
    router
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
}
