//! OpenAPI schemas for what service-kit answers, for the services' generated documents.

use std::collections::BTreeMap;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ObjectBuilder, OpenApi as Document, Ref, RefOr, Response, Type};
use utoipa::{OpenApi, ToSchema};

use crate::problem::{CONTENT_TYPE, OUTCOME_UNKNOWN};

/// Where every service serves its document.
pub const DOCUMENT_PATH: &str = "/openapi.json";

/// `GET /openapi.json` answering `document` with service-kit's own operations merged
/// in, serialized once.
pub fn document_router(document: Document) -> Router {
    let mut document = document.merge_from(OperationsApi::openapi());
    let description = document.info.description.take().unwrap_or_default();
    document.info.description = Some(format!("{description}\n\n{}", bounds()));
    let json = serde_json::to_vec(&document).expect("an OpenAPI document always serializes");
    let json = axum::body::Bytes::from(json);
    Router::new().route(
        DOCUMENT_PATH,
        get(move || {
            let json = json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], json) }
        }),
    )
}

/// An RFC 9457 problem: every error of the JSON APIs
/// (`Content-Type: application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDetails {
    /// `about:blank` (the status says what kind of problem it is), or for a 503 whose
    /// write may have been applied, `https://github.com/cuddlekube/cuddlekube/blob/main/docs/problems.md#outcome-unknown`.
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
    paths(health, ready, openapi_json),
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

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this service.",
        body = Object, content_type = "application/json")),
)]
#[expect(
    dead_code,
    reason = "documentation only: document_router serves /openapi.json"
)]
fn openapi_json() {}

/// What every service bounds, in words, from the values it runs with.
fn bounds() -> String {
    let limits = crate::Limits::default();
    format!(
        "**Bounds.** A request body may be at most {} KiB (413; at once, unread, when \
         `Content-Length` declares more). A request is answered within {} s (else 503 with \
         `Retry-After`; for a write, the `outcome-unknown` problem type, since it may have \
         been applied). A connection must send a request head within {} s of opening or of \
         its previous answer (else it is closed: this is also the keep-alive idle timeout); \
         at most {} connections and {} requests are served at once (beyond, 503). A 503 of \
         type `about:blank` means nothing was done; of type \
         `{OUTCOME_UNKNOWN}`, that a write may or may not have been applied — repeat it \
         with the same `Idempotency-Key`.",
        limits.body_bytes / 1024,
        limits.request_timeout.as_secs(),
        limits.connections.head_timeout.as_secs(),
        limits.connections.max_connections,
        limits.concurrency
    )
}

/// A problem+json answer, optionally with `Retry-After`.
fn problem(description: &str, retry_after: bool) -> RefOr<Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        CONTENT_TYPE,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ProblemDetails")))
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

const INTERNAL: &str = "An unexpected failure; the cause is logged, never returned.";

/// The answers of every read beside its own: 500, and 503 when DynamoDB is
/// unavailable or the service is overloaded.
#[derive(Debug)]
pub struct ReadFailures;

impl utoipa::IntoResponses for ReadFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            ("500".into(), problem(INTERNAL, false)),
            (
                "503".into(),
                problem(
                    "DynamoDB is unavailable or the service is overloaded; retry after \
                     `Retry-After` seconds.",
                    true,
                ),
            ),
        ])
    }
}

/// The answers of every write beside its own: 500, and 503 — nothing was done
/// (`about:blank`), or whether the write was applied is unknown (`outcome-unknown`).
#[derive(Debug)]
pub struct WriteFailures;

impl utoipa::IntoResponses for WriteFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let unavailable = format!(
            "Either nothing was done (problem `type` `about:blank`: DynamoDB is unavailable or \
             the service is overloaded), or the write may or may not have been applied \
             (`type` `{OUTCOME_UNKNOWN}`: DynamoDB or the request timed out after the write \
             was sent). Repeating the request with the same `Idempotency-Key` is safe in both \
             cases: it is never applied twice. Retry after `Retry-After` seconds."
        );
        BTreeMap::from([
            ("500".into(), problem(INTERNAL, false)),
            ("503".into(), problem(&unavailable, true)),
        ])
    }
}

/// 404 for a `{ckid}` no resident has.
#[derive(Debug)]
pub struct NoSuchResident;

impl utoipa::IntoResponses for NoSuchResident {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([("404".into(), problem("No resident has this ckid.", false))])
    }
}
