//! OpenAPI schemas for what service-kit answers (`/health`, `/ready`), for the APIs'
//! generated documents, and the problem+json answer they all describe their errors with.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Response, Type};

use crate::problem::CONTENT_TYPE;

/// The name of the problem+json schema a document using [`problem_response`] must
/// define (the APIs' is `api_contract::ProblemDetails`).
pub const PROBLEM_SCHEMA: &str = "ProblemDetails";

/// A problem+json answer described in words, optionally with `Retry-After`.
pub fn problem_response(description: &str, retry_after: bool) -> RefOr<Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        CONTENT_TYPE,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(PROBLEM_SCHEMA)))
            .build(),
    );
    if retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                ))
                .description(Some("Seconds to wait before retrying."))
                .build(),
        );
    }
    RefOr::T(response.build())
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub service: String,
    pub version: String,
    pub commit: String,
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /ready` when the service's dependencies answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    #[schema(example = "server-listing")]
    pub service: String,
    #[schema(example = "ready")]
    pub status: String,
}

/// `/health` and `/ready`, which service-kit serves for every service, as a document to
/// merge into a service's own (`service_doc.merge_from(OperationsApi::openapi())`).
#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(health, ready),
    components(schemas(Health, Ready)),
    tags((name = "operations", description = "Liveness, readiness and the API document"))
)]
pub struct OperationsApi;

// Bodiless twins of `health_router`'s handlers: they only carry the documentation.

/// Liveness: the process answers. Cheap; touches no dependency.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = 200, description = "The service is running.", body = Health, content_type = "application/json")),
)]
#[expect(dead_code, reason = "documentation only: health_router serves /health")]
fn health() {}

/// Readiness: the service's dependencies (DynamoDB, or the website's APIs) answer.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = 200, description = "The dependencies answer; the service can take requests.", body = Ready, content_type = "application/json"),
        NotReady,
    ),
)]
#[expect(dead_code, reason = "documentation only: health_router serves /ready")]
fn ready() {}

/// `/ready`'s 503: a dependency does not answer.
#[derive(Debug)]
struct NotReady;

impl utoipa::IntoResponses for NotReady {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "503".into(),
            problem_response("A dependency does not answer.", true),
        )])
    }
}
