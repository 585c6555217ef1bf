//! server-listing's OpenAPI document: its title and description here, its operations
//! from the handlers' `#[utoipa::path]` (registered with them in `lib.rs`); api-kit adds
//! `/health`, `/ready` and `/openapi.json`.

use api_contract::{ProblemDetails, ServerPage};
use utoipa::OpenApi;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "server-listing",
        description = "Cuddle Kube's internal residents API: list residents newest first, \
            get one, feed one.\n\nEvery error is `application/problem+json` (RFC 9457), \
            including 404 for an unknown path and 405 for a method a path does not support. \
            A 503 carries `Retry-After` and, for a feeding, says by its `type` whether the \
            feeding may have happened."
    ),
    components(schemas(domain::Resident, ServerPage, ProblemDetails)),
    tags((name = "residents", description = "Read and feed the residents"))
)]
pub(crate) struct ApiDoc;
