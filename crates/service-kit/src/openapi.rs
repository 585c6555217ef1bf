//! OpenAPI schemas for what service-kit answers, for the services' generated documents.

use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::{ObjectBuilder, Type};

/// A text field of `min..=max` characters with the domain's character rule as its
/// `pattern` (`domain::required_text_pattern()` when the field is required, else
/// `domain::text_pattern()`), so that a schema-valid value is one the service accepts. For
/// the services' `schema_with` functions, which replace a field's whole schema and so
/// must carry its description and example too.
pub fn text(min: usize, max: usize, description: &str, example: &str) -> ObjectBuilder {
    let pattern = if min > 0 {
        domain::required_text_pattern()
    } else {
        domain::text_pattern()
    };
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .examples([example])
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
}

/// An RFC 9457 problem: every error of the JSON APIs
/// (`Content-Type: application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDetails {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[schema(example = "about:blank")]
    pub r#type: String,
    #[schema(example = "Not Found")]
    pub title: String,
    #[schema(example = 404)]
    pub status: u16,
    /// What went wrong, for a person; never internal details.
    pub detail: String,
    /// Per-field problems (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
}

/// One invalid field of a request body (`domain::FieldError`): `message` for a person,
/// `code` (with `min`/`max` where the code has them) for a client that words its own.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    #[schema(example = "name")]
    pub field: String,
    #[schema(example = "name must be at most 64 characters (got 65)")]
    pub message: String,
    #[schema(example = "too_long")]
    pub code: RefusalCode,
    /// The smallest value (`out_of_range`) or length in characters (`too_short`) allowed.
    #[schema(nullable = false)]
    pub min: Option<i64>,
    /// The largest value (`out_of_range`) or length in characters (`too_long`) allowed.
    #[schema(nullable = false, example = 64)]
    pub max: Option<i64>,
}

/// `domain::Refusal`'s codes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    Required,
    NotText,
    NotWholeNumber,
    OutOfRange,
    TooShort,
    TooLong,
    ControlCharacters,
    InvisibleCharacters,
    InvalidUrl,
    Malformed,
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
    components(schemas(Health, Ready, ProblemDetails)),
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
        (
            status = 503, description = "A dependency does not answer.",
            body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying.")),
        ),
    ),
)]
#[expect(dead_code, reason = "documentation only: health_router serves /ready")]
fn ready() {}
