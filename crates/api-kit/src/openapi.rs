//! The shared parts of the APIs' OpenAPI documents: serving the document, the bounds
//! every API keeps (in words), and the failure answers every read and write may give.

use std::collections::BTreeMap;

use api_contract::OUTCOME_UNKNOWN;
use axum::Router;
use axum::http::header;
use axum::routing::get;
use service_kit::Limits;
use service_kit::openapi::{OperationsApi, problem_response};
use utoipa::OpenApi;
use utoipa::openapi::{OpenApi as Document, RefOr, Response};

/// Where every API serves its document.
pub const DOCUMENT_PATH: &str = "/openapi.json";

/// `GET /openapi.json` answering `document` with `/health`, `/ready` and itself merged
/// in, serialized once.
pub(crate) fn document_router(document: Document) -> Router {
    let mut document = document
        .merge_from(OperationsApi::openapi())
        .merge_from(DocumentApi::openapi());
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

/// `/openapi.json` itself, as a document to merge.
#[derive(Debug, OpenApi)]
#[openapi(paths(openapi_json))]
struct DocumentApi;

/// This document.
#[utoipa::path(
    get,
    path = DOCUMENT_PATH,
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this service.",
        body = Object, content_type = "application/json")),
)]
#[expect(
    dead_code,
    reason = "documentation only: document_router serves /openapi.json"
)]
fn openapi_json() {}

/// What every API bounds, in words, from the values it runs with.
fn bounds() -> String {
    let limits = Limits::default();
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

const INTERNAL: &str = "An unexpected failure; the cause is logged, never returned.";

/// The answers of every read beside its own: 500, and 503 when DynamoDB is
/// unavailable or the service is overloaded.
#[derive(Debug)]
pub struct ReadFailures;

impl utoipa::IntoResponses for ReadFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            ("500".into(), problem_response(INTERNAL, false)),
            (
                "503".into(),
                problem_response(
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
            ("500".into(), problem_response(INTERNAL, false)),
            ("503".into(), problem_response(&unavailable, true)),
        ])
    }
}

/// 404 for a `{ckid}` no resident has.
#[derive(Debug)]
pub struct NoSuchResident;

impl utoipa::IntoResponses for NoSuchResident {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "404".into(),
            problem_response("No resident has this ckid.", false),
        )])
    }
}
