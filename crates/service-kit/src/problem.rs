//! RFC 9457 problem details: the one error body of the JSON APIs.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use telemetry::http::Failure;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// The `type` of a 503 for a write that may or may not have been applied (a timeout
/// after the request reached the database). Documented in `docs/problems.md`.
pub const OUTCOME_UNKNOWN: &str =
    "https://github.com/cuddlekube/cuddlekube/blob/main/docs/problems.md#outcome-unknown";

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// An `application/problem+json` answer. `detail` must be safe to show the caller
/// (never an SDK message or a Debug dump); the cause, if any, goes to the log line of
/// the request that answered with it (`telemetry::http::trace_requests`), not here.
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    detail: String,
    extensions: Map<String, Value>,
    retry_after: bool,
    cause: Option<Failure>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind: "about:blank",
            detail: detail.into(),
            extensions: Map::new(),
            retry_after: false,
            cause: None,
        }
    }

    /// 503 with `Retry-After`: a dependency is down or the service is busy, nothing
    /// was done, and trying later may work.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut problem = Self::new(StatusCode::SERVICE_UNAVAILABLE, detail);
        problem.retry_after = true;
        problem
    }

    /// 503 with `Retry-After` and type [`OUTCOME_UNKNOWN`]: a write may or may not have
    /// been applied, and repeating it with the same `Idempotency-Key` is safe.
    pub fn outcome_unknown(detail: impl Into<String>) -> Self {
        let mut problem = Self::unavailable(detail);
        problem.kind = OUTCOME_UNKNOWN;
        problem
    }

    /// 500 with a fixed message; the cause belongs in the logs, not here.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side; it has been logged.",
        )
    }

    /// Adds a member such as `errors` (RFC 9457 extension members).
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.extensions.insert(name.to_owned(), value);
        self
    }

    /// What caused the problem, logged (with its whole chain) on the request's line at
    /// `level`.
    pub fn caused_by(
        mut self,
        level: tracing::Level,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.cause = Some(Failure {
            level,
            cause: Arc::new(cause),
        });
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The problem's `type` URI (`about:blank` unless it is a kind of its own).
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": self.kind,
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Value::Object(members) = &mut body {
            members.extend(self.extensions);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(cause);
        }
        response
    }
}
