//! server-listing's OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! and the domain's `Resident` schema; service-kit adds `/health`, `/ready` and
//! `/openapi.json`.

use service_kit::openapi::{FieldProblem, ProblemDetails};
use utoipa::OpenApi;

use crate::routes::{self, ServerPage};

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
    paths(routes::list_servers, routes::get_server, routes::feed_server),
    components(schemas(domain::Resident, ServerPage, ProblemDetails, FieldProblem)),
    tags((name = "residents", description = "Read and feed the residents"))
)]
pub(crate) struct ApiDoc;
