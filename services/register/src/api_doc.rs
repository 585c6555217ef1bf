//! register's OpenAPI document: its title and description here, its operation from
//! the handler's `#[utoipa::path]` (registered with it in `lib.rs`), the domain's
//! schemas (`domain::RegistrationInput` as `RegistrationRequest`, `domain::Resident`);
//! api-kit adds `/health`, `/ready` and `/openapi.json`.

use api_contract::ProblemDetails;
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
    components(schemas(domain::RegistrationInput, domain::Resident, ProblemDetails)),
    tags((name = "registrations", description = "Admitting new residents"))
)]
pub(crate) struct ApiDoc;
