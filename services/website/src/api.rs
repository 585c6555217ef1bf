//! The two internal APIs, called only through the traced client in [`AppState::api`]
//! (a client span per call, `X-Amzn-Trace-Id` carried, timeouts set at build).
//!
//! Every failure becomes an [`ApiError`] whose variants say what the visitor should
//! see; the cause is logged here and never shown.

use axum::http::StatusCode;
use domain::{Resident, ResidentId};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;

#[derive(Debug)]
pub enum ApiError {
    /// No such resident.
    NotFound,
    /// The request was refused as malformed (a tampered cursor, a bad filter).
    BadRequest,
    /// register refused the registration, field by field.
    Invalid(Vec<FieldProblem>),
    /// register: the idempotency token was already used with other details.
    Conflict,
    /// Down, timing out, overloaded, or answering 503.
    Unavailable,
    /// Anything else: a bug or a misconfiguration.
    Unexpected,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
pub struct ResidentPage {
    pub servers: Vec<Resident>,
    pub next_cursor: Option<String>,
}

/// Residents per page of the listing.
pub const PAGE_SIZE: u8 = 12;

impl AppState {
    #[tracing::instrument(skip(self))]
    pub async fn list_residents(
        &self,
        cursor: Option<&str>,
        os: Option<&str>,
    ) -> Result<ResidentPage, ApiError> {
        let query = {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", &PAGE_SIZE.to_string());
            if let Some(cursor) = cursor {
                query.append_pair("cursor", cursor);
            }
            if let Some(os) = os {
                query.append_pair("os", os);
            }
            query.finish()
        };
        let url = self
            .config
            .server_listing_url
            .join(&format!("/v1/servers?{query}"));
        json(self.api.get(url).send().await, "server-listing").await
    }

    #[tracing::instrument(skip(self))]
    pub async fn resident(&self, ckid: &ResidentId) -> Result<Resident, ApiError> {
        let url = self
            .config
            .server_listing_url
            .join(&format!("/v1/servers/{ckid}"));
        json(self.api.get(url).send().await, "server-listing").await
    }

    #[tracing::instrument(skip(self))]
    pub async fn feed(&self, ckid: &ResidentId) -> Result<Resident, ApiError> {
        let url = self
            .config
            .server_listing_url
            .join(&format!("/v1/servers/{ckid}/feed"));
        json(self.api.post(url).send().await, "server-listing").await
    }

    #[tracing::instrument(skip(self, registration))]
    pub async fn register(
        &self,
        registration: &Value,
        idempotency_key: &str,
    ) -> Result<Resident, ApiError> {
        let mut request = self
            .api
            .post(self.config.register_url.join("/v1/registrations"))
            .json(registration);
        if !idempotency_key.is_empty() {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        json(request.send().await, "register").await
    }
}

/// The problem+json members the website reads.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    #[serde(default)]
    errors: Vec<FieldProblem>,
}

async fn json<T: serde::de::DeserializeOwned>(
    sent: Result<reqwest::Response, reqwest_middleware::Error>,
    api: &'static str,
) -> Result<T, ApiError> {
    let response = match sent {
        Ok(response) => response,
        Err(err) => {
            tracing::warn!(api, error = %err, "API did not answer");
            return Err(ApiError::Unavailable);
        }
    };
    let status = response.status();
    if status.is_success() {
        return response.json::<T>().await.map_err(|err| {
            if err.is_timeout() || err.is_body() {
                tracing::warn!(api, error = %err, "API answer cut short");
                ApiError::Unavailable
            } else {
                tracing::error!(api, error = %err, "API answer not understood");
                ApiError::Unexpected
            }
        });
    }
    match status {
        StatusCode::NOT_FOUND => Err(ApiError::NotFound),
        StatusCode::BAD_REQUEST => {
            tracing::info!(api, "API refused the request as malformed");
            Err(ApiError::BadRequest)
        }
        StatusCode::CONFLICT => Err(ApiError::Conflict),
        StatusCode::UNPROCESSABLE_ENTITY => {
            let problem = response.json::<Problem>().await.unwrap_or_default();
            Err(ApiError::Invalid(problem.errors))
        }
        StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::BAD_GATEWAY
        | StatusCode::GATEWAY_TIMEOUT
        | StatusCode::TOO_MANY_REQUESTS => {
            tracing::warn!(api, %status, "API unavailable");
            Err(ApiError::Unavailable)
        }
        _ => {
            tracing::error!(api, %status, "API answered unexpectedly");
            Err(ApiError::Unexpected)
        }
    }
}
