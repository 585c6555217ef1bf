//! OpenAPI schemas for what service-kit answers, for the services' generated documents.

use serde::Serialize;
use utoipa::ToSchema;

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

/// One invalid field of a request body.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    #[schema(example = "name")]
    pub field: String,
    #[schema(example = "name is required")]
    pub message: String,
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
