//! A JSON API's router: its routes, its OpenAPI document, and problem+json answers for
//! requests no route takes.

use axum::Router;
use axum::http::{StatusCode, Uri};
use service_kit::Problem;
use utoipa_axum::router::OpenApiRouter;

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

/// A JSON API's router: `routes` (each registered with its `#[utoipa::path]`, so its
/// path and method are written once, there), their OpenAPI document at `/openapi.json`,
/// and problem+json 404 and 405 answers for everything else.
pub fn api_router(routes: OpenApiRouter) -> Router {
    let (routes, document) = routes.split_for_parts();
    routes
        .merge(crate::openapi::document_router(document))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
}
