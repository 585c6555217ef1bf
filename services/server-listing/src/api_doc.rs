//! `GET /openapi.json`: the OpenAPI document, generated from the handlers' annotations
//! and the schemas below.
//!
//! `domain::Resident` is what the API sends; the domain crate knows nothing of
//! OpenAPI, so [`ResidentDoc`] mirrors its shape for the document. A test compares the
//! two, so the mirror cannot drift from what is sent.

use std::sync::LazyLock;

use axum::Json;
use service_kit::openapi::{FieldProblem, OperationsApi, ProblemDetails};
use utoipa::openapi::OpenApi as Document;
use utoipa::{OpenApi, ToSchema};

use crate::servers::{self, ServerPage};

pub const PATH: &str = "/openapi.json";

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "server-listing",
        description = "Cuddle Kube's internal residents API: list residents newest first, \
            get one, feed one.\n\nEvery error is `application/problem+json` (RFC 9457), \
            including 404 for an unknown path and 405 for a method a path does not support. \
            A 503 carries `Retry-After`."
    ),
    paths(
        servers::list_servers,
        servers::get_server,
        servers::feed_server,
        openapi_json,
    ),
    components(schemas(ResidentDoc, ServerPage, ProblemDetails, FieldProblem)),
    tags((name = "residents", description = "Read and feed the residents"))
)]
pub struct ApiDoc;

static DOCUMENT: LazyLock<Document> =
    LazyLock::new(|| ApiDoc::openapi().merge_from(OperationsApi::openapi()));

/// A resident as the API sends it: the 2019 attribute names plus what a real system
/// keeps. Every member is always present (`null` when it has no value).
#[derive(Debug, ToSchema)]
#[schema(as = Resident)]
#[expect(
    dead_code,
    reason = "documentation only: the API sends domain::Resident, whose shape this mirrors"
)]
pub struct ResidentDoc {
    /// The resident's id: a time-sortable ULID (residents from 2019 keep ids like `ck1`).
    #[schema(
        pattern = "^[A-Za-z0-9._-]{1,64}$",
        example = "01KAV5S1YJ5Z1Q6T2W6M3C8E9R"
    )]
    ckid: String,
    /// The resident's name.
    #[schema(example = "foo foo cuddly poops")]
    name: String,
    /// The server's instance type.
    #[schema(rename = "type", example = "m5.xlarge")]
    server_type: String,
    /// Whole years in service.
    #[schema(minimum = 0, example = 10)]
    service: u16,
    /// How happy the resident is, 1 to 10; feeding raises it.
    #[schema(minimum = 1, maximum = 10, example = 7)]
    happiness: u8,
    /// The pet name, empty when there is none.
    #[schema(example = "sven")]
    petname: String,
    /// The operating system, as registered.
    #[schema(example = "linux")]
    os: String,
    /// An `https` URL of a picture.
    #[schema(
        required = true,
        format = "uri",
        example = "https://example.com/ck1.png"
    )]
    image: Option<String>,
    /// When the resident was admitted (UTC, microseconds); `null` only for a resident
    /// from 2019 that has not been migrated yet.
    #[schema(required = true, format = DateTime, example = "2026-11-23T19:09:00.123456Z")]
    registered_at: Option<String>,
    /// How many times the resident was fed.
    #[schema(minimum = 0, example = 3)]
    feed_count: u64,
    /// When the resident was last fed (UTC, microseconds), `null` if never.
    #[schema(required = true, format = DateTime, example = "2026-11-24T08:00:00.000000Z")]
    last_fed_at: Option<String>,
}

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this service",
            body = Object, content_type = "application/json"),
    )
)]
pub(crate) async fn openapi_json() -> Json<&'static Document> {
    Json(&DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use domain::Resident;
    use serde_json::{Value, json};

    use super::*;

    fn document() -> Value {
        serde_json::to_value(&*DOCUMENT).unwrap()
    }

    fn names(value: &Value) -> BTreeSet<String> {
        match value {
            Value::Object(members) => members.keys().cloned().collect(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect(),
            other => panic!("expected an object or array, got {other}"),
        }
    }

    #[test]
    fn resident_schema_has_exactly_the_members_the_api_sends() {
        let resident: Resident = serde_json::from_value(json!({
            "ckid": "ck1", "name": "n", "type": "t", "service": 1, "happiness": 2, "os": "o"
        }))
        .unwrap();
        let sent = names(&serde_json::to_value(&resident).unwrap());
        let doc = document();
        let schema = &doc["components"]["schemas"]["Resident"];
        assert_eq!(names(&schema["properties"]), sent);
        assert_eq!(names(&schema["required"]), sent);
    }

    #[test]
    fn page_schema_always_has_both_members() {
        let doc = document();
        let schema = &doc["components"]["schemas"]["ServerPage"];
        let both: BTreeSet<String> = ["next_cursor", "servers"].map(String::from).into();
        assert_eq!(names(&schema["properties"]), both);
        assert_eq!(names(&schema["required"]), both);
        assert_eq!(
            schema["properties"]["servers"]["items"]["$ref"],
            "#/components/schemas/Resident"
        );
    }
}
