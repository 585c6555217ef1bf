//! The two internal APIs, called only through the traced client in [`AppState::api`]
//! (a client span per call, `X-Amzn-Trace-Id` carried, timeouts set at build).
//!
//! Every failure becomes an [`UpstreamError`] whose variants say what the visitor should
//! be told; the cause is logged here and never shown. A write whose answer is lost
//! after it was sent is [`UpstreamError::OutcomeUnknown`], never "nothing happened".

use axum::http::{HeaderValue, StatusCode};
use domain::{IdempotencyKey, RegistrationInput, Resident, ResidentId};
use serde::Deserialize;

use telemetry::errors::display;
use telemetry::http::Remote;

use crate::AppState;

/// The problem `type` both APIs answer (with 503) for a write whose outcome they do
/// not know, e.g. DynamoDB timed out after the request was sent. Repeating the
/// request with the same `Idempotency-Key` is safe.
pub const OUTCOME_UNKNOWN: &str =
    "https://github.com/cuddlekube/cuddlekube/blob/main/docs/problems.md#outcome-unknown";

const SERVER_LISTING: Remote = Remote("server-listing");
const REGISTER: Remote = Remote("register");

/// The request header that makes a write safe to repeat.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Residents per page of the listing.
pub const PAGE_SIZE: u8 = 12;

/// Why a call to an API did not give the website what it asked for.
#[derive(Debug)]
pub enum UpstreamError {
    /// 404: no such resident.
    NotFound,
    /// 400: refused as malformed (a tampered cursor, a bad filter, a bad key).
    BadRequest,
    /// 422: register refused the registration, field by field.
    Invalid(Vec<FieldProblem>),
    /// 409: the idempotency key was already used with other details.
    Conflict,
    /// 413: what was sent is larger than the API takes.
    TooLarge,
    /// Any other 4xx: the API refused what the website sent (a bug here, or a
    /// tampered form); nothing was done.
    Refused(StatusCode),
    /// Nothing was done: not reachable, or a 502/503/504/429 that is not an unknown
    /// outcome.
    Unavailable,
    /// A write that may or may not have happened: the API said so (503
    /// [`OUTCOME_UNKNOWN`]), or its answer was lost after the request was sent.
    OutcomeUnknown,
    /// A 5xx, a redirect, or an answer not understood: a bug or a misconfiguration.
    Unexpected,
}

/// One refused field of a registration, as register describes it. `code` (with `min`
/// and `max` where they apply) is machine-readable; `message` is register's own words,
/// kept for the logs, never shown.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
}

/// One page of the residents listing, as server-listing answers it.
#[derive(Debug, Deserialize)]
pub struct ResidentList {
    pub servers: Vec<Resident>,
    pub next_cursor: Option<String>,
}

/// Whether a call changes anything: an answer lost after a write was sent leaves its
/// outcome unknown, after a read it is just unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Read,
    Write,
}

impl AppState {
    #[tracing::instrument(skip(self))]
    pub async fn list_residents(
        &self,
        cursor: Option<&str>,
        os: Option<&str>,
        limit: u8,
    ) -> Result<ResidentList, UpstreamError> {
        let query = {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", &limit.to_string());
            if let Some(cursor) = cursor {
                query.append_pair("cursor", cursor);
            }
            if let Some(os) = os {
                query.append_pair("os", os);
            }
            query.finish()
        };
        self.read_server_listing(&format!("/v1/servers?{query}"))
            .await
    }

    #[tracing::instrument(skip(self))]
    pub async fn resident(&self, ckid: &ResidentId) -> Result<Resident, UpstreamError> {
        self.read_server_listing(&format!("/v1/servers/{ckid}"))
            .await
    }

    /// GET a path of server-listing's.
    async fn read_server_listing<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, UpstreamError> {
        let url = self.config.server_listing_url.join(path);
        let sent = self
            .api
            .get(url)
            .with_extension(SERVER_LISTING)
            .send()
            .await;
        answer(sent, SERVER_LISTING, Call::Read).await
    }

    /// Feeds a resident. With a key, a repeat (a retry, a double click) is answered
    /// with the first feeding instead of feeding again.
    #[tracing::instrument(skip(self, key))]
    pub async fn feed(
        &self,
        ckid: &ResidentId,
        key: Option<&IdempotencyKey>,
    ) -> Result<Resident, UpstreamError> {
        let url = self
            .config
            .server_listing_url
            .join(&format!("/v1/servers/{ckid}/feed"));
        let request = with_key(self.api.post(url).with_extension(SERVER_LISTING), key);
        answer(request.send().await, SERVER_LISTING, Call::Write).await
    }

    /// Asks register to admit a resident; with a key, a repeat is answered with the
    /// first admission.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        registration: &RegistrationInput,
        key: Option<&IdempotencyKey>,
    ) -> Result<Resident, UpstreamError> {
        let url = self.config.register_url.join("/v1/registrations");
        let request = with_key(
            self.api
                .post(url)
                .with_extension(REGISTER)
                .json(registration),
            key,
        );
        answer(request.send().await, REGISTER, Call::Write).await
    }
}

fn with_key(
    request: reqwest_middleware::RequestBuilder,
    key: Option<&IdempotencyKey>,
) -> reqwest_middleware::RequestBuilder {
    // A parsed key is visible ASCII, always a valid header value.
    match key.and_then(|key| HeaderValue::from_str(key.as_str()).ok()) {
        Some(value) => request.header(IDEMPOTENCY_KEY, value),
        None => request,
    }
}

/// The problem+json members the website reads.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    #[serde(default, rename = "type")]
    problem_type: String,
    #[serde(default)]
    errors: Vec<FieldProblem>,
}

/// Classifies a failure to get an answer at all.
fn not_answered(err: &reqwest_middleware::Error, Remote(api): Remote, call: Call) -> UpstreamError {
    let error = display(err);
    if err.is_builder() {
        // The request could not even be built: our bug, not an outage.
        tracing::error!(api, error, "request to the API not built");
        return UpstreamError::Unexpected;
    }
    if err.is_connect() {
        tracing::warn!(api, error, "API did not answer");
        return UpstreamError::Unavailable;
    }
    match call {
        Call::Read => {
            tracing::warn!(api, error, "API answer lost");
            UpstreamError::Unavailable
        }
        Call::Write => {
            tracing::warn!(
                api,
                error,
                "API answer lost after a write was sent: outcome unknown"
            );
            UpstreamError::OutcomeUnknown
        }
    }
}

async fn answer<T: serde::de::DeserializeOwned>(
    sent: Result<reqwest::Response, reqwest_middleware::Error>,
    remote: Remote,
    call: Call,
) -> Result<T, UpstreamError> {
    let Remote(api) = remote;
    let response = sent.map_err(|err| not_answered(&err, remote, call))?;
    let status = response.status();
    if status.is_success() {
        return response.json::<T>().await.map_err(|err| {
            if err.is_decode() {
                tracing::error!(api, error = display(&err), "API answer not understood");
                UpstreamError::Unexpected
            } else {
                not_answered(&err.into(), remote, call)
            }
        });
    }
    // Only these answers carry members the website reads.
    let problem = if matches!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response.json::<Problem>().await.unwrap_or_default()
    } else {
        Problem::default()
    };
    Err(match status {
        StatusCode::NOT_FOUND => UpstreamError::NotFound,
        StatusCode::BAD_REQUEST => {
            tracing::info!(api, "API refused the request as malformed");
            UpstreamError::BadRequest
        }
        StatusCode::CONFLICT => UpstreamError::Conflict,
        StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::info!(api, "API refused the request as too large");
            UpstreamError::TooLarge
        }
        StatusCode::UNPROCESSABLE_ENTITY => UpstreamError::Invalid(problem.errors),
        StatusCode::SERVICE_UNAVAILABLE if problem.problem_type == OUTCOME_UNKNOWN => {
            tracing::warn!(api, %status, "API does not know whether the write happened");
            UpstreamError::OutcomeUnknown
        }
        StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::BAD_GATEWAY
        | StatusCode::GATEWAY_TIMEOUT
        | StatusCode::TOO_MANY_REQUESTS => {
            tracing::warn!(api, %status, "API unavailable");
            UpstreamError::Unavailable
        }
        status if status.is_client_error() => {
            tracing::error!(api, %status, "API refused the request");
            UpstreamError::Refused(status)
        }
        _ => {
            tracing::error!(api, %status, "API answered unexpectedly");
            UpstreamError::Unexpected
        }
    })
}
