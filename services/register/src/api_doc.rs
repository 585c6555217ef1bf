//! `GET /openapi.json`: register's OpenAPI document, generated from the handlers'
//! `#[utoipa::path]` attributes and the schemas below.
//!
//! The domain crate knows nothing of OpenAPI, so the request and the resident are
//! described here by mirrors of `domain::RegistrationInput` and `domain::Resident`.
//! The tests compare them with what the service really accepts and answers.

use axum::Json;
use domain::{OperatingSystem, PetName, ServerName, ServerType};
use serde::Serialize;
use service_kit::openapi::{self, FieldProblem, OperationsApi, ProblemDetails};
use utoipa::openapi::schema::{Object, SchemaType, Type};
use utoipa::{OpenApi, ToSchema};

pub const PATH: &str = "/openapi.json";

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "register",
        description = "Cuddle Kube's internal admissions API: validate a registration and \
            admit the resident, idempotently. Errors are RFC 9457 `application/problem+json`."
    ),
    paths(crate::registrations::register),
    components(schemas(RegistrationRequest, Resident, ProblemDetails, FieldProblem)),
    tags((name = "registrations", description = "Admitting new residents"))
)]
pub struct ApiDoc;

/// Serves the document, with service-kit's `/health` and `/ready`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi().merge_from(OperationsApi::openapi()))
}

/// A registration: a resident's input fields. Text is trimmed and may not contain
/// control characters or invisible direction marks (each field's `pattern`); lengths
/// count characters, not bytes. A client-sent `ckid` and
/// unknown fields are ignored.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "name": "foo foo cuddly poops", "type": "m2.xlarge", "service": 10, "happiness": 1,
    "petname": "sven", "os": "linux", "image": "https://example.com/ck1.png"
}))]
pub struct RegistrationRequest {
    #[schema(schema_with = name_schema)]
    pub name: String,
    #[serde(rename = "type")]
    #[schema(schema_with = type_schema)]
    pub server_type: String,
    #[schema(schema_with = os_schema)]
    pub os: String,
    #[schema(schema_with = petname_schema)]
    pub petname: Option<String>,
    /// Whole years in service.
    #[schema(minimum = 0, maximum = 100, default = 0, example = 10)]
    pub service: Option<i64>,
    #[schema(minimum = 1, maximum = 10, default = 5, example = 1)]
    pub happiness: Option<i64>,
    /// An absolute `https://` URL of a picture of the server.
    #[schema(
        format = "uri",
        max_length = 2048,
        example = "https://example.com/ck1.png"
    )]
    pub image: Option<String>,
}

// The text fields carry the domain's character rule as a pattern.

fn name_schema() -> Object {
    let (min, max) = (ServerName::MIN_CHARS, ServerName::MAX_CHARS);
    openapi::text(min, max, "The resident's name.", "foo foo cuddly poops").build()
}

fn type_schema() -> Object {
    let (min, max) = (ServerType::MIN_CHARS, ServerType::MAX_CHARS);
    openapi::text(min, max, "The server's instance type.", "m2.xlarge").build()
}

fn os_schema() -> Object {
    let (min, max) = (OperatingSystem::MIN_CHARS, OperatingSystem::MAX_CHARS);
    openapi::text(min, max, "The operating system.", "linux").build()
}

fn petname_schema() -> Object {
    let (min, max) = (PetName::MIN_CHARS, PetName::MAX_CHARS);
    let description = "A pet name; empty or absent when the server has none.";
    openapi::text(min, max, description, "sven")
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}

/// A resident, with the 2019 attribute names.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "ckid": "01KAS5V3TPJ6B4ZQ8M2N7R1XYC", "name": "foo foo cuddly poops", "type": "m2.xlarge",
    "service": 10, "happiness": 1, "petname": "sven", "os": "linux",
    "image": "https://example.com/ck1.png", "registered_at": "2026-11-23T19:09:00.123456Z",
    "feed_count": 0, "last_fed_at": null
}))]
pub struct Resident {
    /// The resident's id: a ULID for new residents (time-sortable); 2019 residents keep
    /// theirs (`ck1`, ...).
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9._-]+$",
        example = "01KAS5V3TPJ6B4ZQ8M2N7R1XYC"
    )]
    pub ckid: String,
    pub name: String,
    #[serde(rename = "type")]
    pub server_type: String,
    /// Whole years in service.
    #[schema(minimum = 0)]
    pub service: u16,
    #[schema(minimum = 1, maximum = 10)]
    pub happiness: u8,
    pub petname: String,
    pub os: String,
    #[schema(required = true, format = "uri")]
    pub image: Option<String>,
    /// When the resident was admitted (UTC, fixed width). Null only for a 2019 resident
    /// not yet migrated.
    #[schema(required = true, format = DateTime, example = "2026-11-23T19:09:00.123456Z")]
    pub registered_at: Option<String>,
    /// How often the resident was fed.
    pub feed_count: u64,
    #[schema(required = true, format = DateTime)]
    pub last_fed_at: Option<String>,
}
