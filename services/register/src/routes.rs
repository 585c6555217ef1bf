//! `POST /v1/registrations`: a registration in, a new resident out.

use api_contract::{IDEMPOTENT_REPLAYED, ProblemDetails, paths};
use api_kit::IdempotencyKeyHeader;
use api_kit::openapi::WriteFailures;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::NewResident;
use service_kit::Problem;
use service_kit::extract::ApiJson;
use store::Admission;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::RegistrationBody;

/// Admits a new resident.
///
/// Every field is checked and every problem is reported at once (422). With an
/// `Idempotency-Key`, a retry with the same body is answered with the first resident
/// (the same 201, body and `Location`) and never admits a second one; the same key with
/// a different body is a 409. Keys are remembered for 24 hours.
///
/// A 503 says whether anything was admitted: `about:blank`, nothing was; the
/// `outcome-unknown` type, it may have been, and repeating with the same key is safe.
#[utoipa::path(
    post,
    path = paths::REGISTRATIONS,
    tag = "registrations",
    operation_id = "register",
    params(
        (
            "Idempotency-Key" = Option<String>, Header, nullable = false,
            min_length = 1, max_length = 128, pattern = "^[\\x21-\\x7E]+$",
            example = "3f9c2a6e-website-form-7781",
            description = "1 to 128 visible ASCII characters. The same key with the same body \
                replays the first answer (never a second resident); with a different body \
                it is a 409. Remembered for 24 hours."
        ),
    ),
    request_body(
        content = domain::RegistrationInput,
        content_type = "application/json",
        description = "A resident's input fields; `ckid` and unknown fields are ignored.",
    ),
    responses(
        (
            status = 201, description = "Admitted (or, for a repeated Idempotency-Key, the first admission replayed).",
            body = domain::Resident, content_type = "application/json",
            headers(
                ("Location" = String, description = "`/v1/servers/{ckid}`: where the resident can be read."),
                ("Idempotent-Replayed" = bool, description = "`true` when this answer replays an earlier admission with the same Idempotency-Key."),
            ),
        ),
        (
            status = 400, description = "The body is not valid JSON, or the Idempotency-Key header is invalid.",
            body = ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 409, description = "The Idempotency-Key was already used with a different body.",
            body = ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 413, description = "The body is larger than 16 KiB.",
            body = ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 415, description = "The body was not sent as `Content-Type: application/json`.",
            body = ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 422, description = "The body is not a JSON object, or fields are invalid: every problem is listed under `errors`.",
            body = ProblemDetails, content_type = "application/problem+json",
        ),
        WriteFailures,
    ),
)]
#[tracing::instrument(
    skip(state, body),
    fields(ckid = tracing::field::Empty, replayed = tracing::field::Empty)
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    key: IdempotencyKeyHeader,
    ApiJson(body): ApiJson<RegistrationBody>,
) -> Result<Created, ApiError> {
    let new = NewResident::parse(&body.0)?;
    let admission = state.admitter.admit(&new, key.0.as_ref()).await?;
    let span = tracing::Span::current();
    span.record("ckid", admission.resident.ckid.as_str());
    span.record("replayed", admission.replayed);
    Ok(Created(admission))
}

/// 201 with the resident, its `Location`, and `Idempotent-Replayed: true` on a replay.
#[derive(Debug)]
pub(crate) struct Created(pub Admission);

impl IntoResponse for Created {
    fn into_response(self) -> Response {
        let Admission { resident, replayed } = self.0;
        // A ckid is letters, digits, '.', '_' and '-' (domain::ResidentId), always a
        // valid header value.
        let Ok(location) = HeaderValue::try_from(paths::server(&resident.ckid)) else {
            tracing::error!(ckid = %resident.ckid, "a ckid is not a valid Location");
            return Problem::internal().into_response();
        };
        let mut response = (StatusCode::CREATED, Json(resident)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, location);
        if replayed {
            headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        }
        response
    }
}
