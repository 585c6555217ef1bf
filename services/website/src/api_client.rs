//! The website's client of the two internal APIs: one method per operation, each a
//! client span carrying `X-Amzn-Trace-Id` (timeouts set at build), paths and bodies
//! from `api-contract`.
//!
//! Every failure becomes an [`UpstreamError`] whose variants say what the visitor should
//! be told; the cause is logged here and never shown. A write whose answer is lost
//! after it was sent is [`UpstreamError::OutcomeUnknown`], never "nothing happened".

use api_contract::{
    FieldProblem, IDEMPOTENCY_KEY, OUTCOME_UNKNOWN, ProblemDetails, ServerPage, paths,
};
use axum::http::{HeaderValue, StatusCode};
use domain::{IdempotencyKey, RegistrationInput, Resident, ResidentId};
use reqwest_middleware::{ClientWithMiddleware, RequestBuilder};
use service_kit::config::BaseUrl;
use telemetry::errors::display;
use telemetry::http::Remote;

const SERVER_LISTING: Remote = Remote("server-listing");
const REGISTER: Remote = Remote("register");

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

/// Whether a call changes anything: an answer lost after a write was sent leaves its
/// outcome unknown, after a read it is just unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Read,
    Write,
}

/// The two APIs, called through the traced client.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: ClientWithMiddleware,
    server_listing: BaseUrl,
    register: BaseUrl,
}

impl ApiClient {
    pub fn new(http: ClientWithMiddleware, server_listing: BaseUrl, register: BaseUrl) -> Self {
        Self {
            http,
            server_listing,
            register,
        }
    }

    /// A page of residents, newest first, from `cursor` (the first page without),
    /// only those running `os` if given.
    #[tracing::instrument(skip(self))]
    pub async fn list_residents(
        &self,
        cursor: Option<&str>,
        os: Option<&str>,
        limit: u8,
    ) -> Result<ServerPage, UpstreamError> {
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
        self.read_server_listing(&format!("{}?{query}", paths::SERVERS))
            .await
    }

    #[tracing::instrument(skip(self))]
    pub async fn resident(&self, ckid: &ResidentId) -> Result<Resident, UpstreamError> {
        self.read_server_listing(&paths::server(ckid)).await
    }

    /// GET a path of server-listing's.
    async fn read_server_listing<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, UpstreamError> {
        let url = self.server_listing.join(path);
        let sent = self
            .http
            .get(url)
            .with_extension(SERVER_LISTING)
            .send()
            .await;
        answer(sent, SERVER_LISTING, Call::Read).await
    }

    /// Feeds a resident. With a key, a repeat (a retry, a double click) is answered
    /// with the first feeding instead of feeding again.
    #[tracing::instrument(skip(self, key))]
    pub async fn feed_resident(
        &self,
        ckid: &ResidentId,
        key: Option<&IdempotencyKey>,
    ) -> Result<Resident, UpstreamError> {
        let url = self.server_listing.join(&paths::feed(ckid));
        let request = with_key(self.http.post(url).with_extension(SERVER_LISTING), key);
        answer(request.send().await, SERVER_LISTING, Call::Write).await
    }

    /// Asks register to admit a resident; with a key, a repeat is answered with the
    /// first admission.
    #[tracing::instrument(skip_all)]
    pub async fn admit_resident(
        &self,
        registration: &RegistrationInput,
        key: Option<&IdempotencyKey>,
    ) -> Result<Resident, UpstreamError> {
        let url = self.register.join(paths::REGISTRATIONS);
        let request = with_key(
            self.http
                .post(url)
                .with_extension(REGISTER)
                .json(registration),
            key,
        );
        answer(request.send().await, REGISTER, Call::Write).await
    }
}

fn with_key(request: RequestBuilder, key: Option<&IdempotencyKey>) -> RequestBuilder {
    // A parsed key is visible ASCII, always a valid header value.
    match key.and_then(|key| HeaderValue::from_str(key.as_str()).ok()) {
        Some(value) => request.header(IDEMPOTENCY_KEY, value),
        None => request,
    }
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
        response.json::<ProblemDetails>().await.unwrap_or_default()
    } else {
        ProblemDetails::default()
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
