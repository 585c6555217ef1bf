//! register's OpenAPI document, generated from the handler's `#[utoipa::path]` and the
//! domain's schemas (`domain::RegistrationInput` as `RegistrationRequest`,
//! `domain::Resident`); service-kit adds `/health`, `/ready` and `/openapi.json`.

use service_kit::openapi::{FieldProblem, ProblemDetails};
use utoipa::OpenApi;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "register",
        description = "Cuddle Kube's internal admissions API: validate a registration and \
            admit the resident, idempotently. Errors are RFC 9457 `application/problem+json`; \
            a 503 carries `Retry-After` and says, by its `type`, whether the admission may \
            have happened."
    ),
    paths(crate::routes::register),
    components(schemas(domain::RegistrationInput, domain::Resident, ProblemDetails, FieldProblem)),
    tags((name = "registrations", description = "Admitting new residents"))
)]
pub(crate) struct ApiDoc;
