//! The SDK interceptors on every store client: one that records each attempt of a call
//! (for its span, its metrics and whether a write's outcome is known), and one that
//! injects the `dynamodb-throttling` fault.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use faults::{Fault, Faults, Scenario};

use crate::traced::{self, Attempt};

/// Records how each attempt ended into the call [`traced::traced`] is running.
#[derive(Debug)]
pub(crate) struct AttemptRecorder;

impl Intercept for AttemptRecorder {
    fn name(&self) -> &'static str {
        "AttemptRecorder"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = match (context.output_or_error(), context.response()) {
            (Some(Err(_)), Some(response)) => Attempt::Refused(error_code(response)),
            (Some(Err(err)), None) => unanswered(err),
            _ => Attempt::Succeeded,
        };
        traced::record_attempt(attempt);
        Ok(())
    }
}

/// DynamoDB's error code from its answer (`{"__type": "com.amazonaws...#Code"}`).
fn error_code(response: &HttpResponse) -> String {
    let code = response
        .body()
        .bytes()
        .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
        .and_then(|body| {
            let kind = body.get("__type")?.as_str()?;
            Some(kind.rsplit('#').next().unwrap_or(kind).to_owned())
        });
    code.unwrap_or_else(|| format!("HTTP {}", response.status().as_u16()))
}

/// An attempt that got no answer: refused before anything was sent (the connection or
/// its TLS handshake failed), or possibly received by DynamoDB (a timeout, a connection
/// lost after sending) — then nobody knows whether a write was applied.
fn unanswered<E>(err: &OrchestratorError<E>) -> Attempt {
    let connect = err.as_connector_error().and_then(|connector| {
        telemetry::errors::chain(connector)
            .find_map(|e| e.downcast_ref::<hyper_util::client::legacy::Error>())
            .filter(|e| e.is_connect())
    });
    if let Some(connect) = connect {
        let tls = telemetry::errors::chain(connect).any(|e| e.is::<rustls::Error>());
        return Attempt::NotSent(if tls { "tls" } else { "dispatch_failure" });
    }
    let kind = if err.is_timeout_error() || err.as_connector_error().is_some_and(|c| c.is_timeout())
    {
        "timeout"
    } else {
        "dispatch_failure"
    };
    Attempt::Unanswered(kind)
}

/// Injects `dynamodb-throttling`: a drawn attempt is sent so that DynamoDB refuses it
/// unapplied, and its answer is replaced by DynamoDB's own throttling error. The SDK then
/// deserializes, classifies and retries (with its backoff and retry quota) exactly as it
/// would a real throttle.
#[derive(Debug)]
pub(crate) struct Throttle {
    faults: Faults,
}

impl Throttle {
    pub(crate) fn new(faults: Faults) -> Self {
        Self { faults }
    }
}

/// Marks the attempt in flight as one to answer with a throttle.
#[derive(Debug, Clone)]
struct Throttled;

impl Storable for Throttled {
    type Storer = StoreReplace<Self>;
}

const THROTTLING_BODY: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Throughput exceeds the current capacity of your table or index. (injected by the dynamodb-throttling fault)"}"#;

impl Intercept for Throttle {
    fn name(&self) -> &'static str {
        "Throttle"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let scenario = Scenario::DynamodbThrottling;
        let Some(Fault::DynamodbThrottling { rate, .. }) = self.faults.active(scenario) else {
            return Ok(());
        };
        if !rate.hit() {
            return Ok(());
        }
        telemetry::span::record_fault(scenario.name());
        // An empty request names no table: DynamoDB refuses it without applying
        // anything (and on AWS its signature no longer matches either).
        let request = context.request_mut();
        *request.body_mut() = SdkBody::from("{}");
        request.headers_mut().insert("content-length", "2");
        cfg.interceptor_state().store_put(Throttled);
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Throttled>().is_none() {
            return Ok(());
        }
        cfg.interceptor_state().unset::<Throttled>();
        let mut response =
            HttpResponse::new(StatusCode::try_from(400)?, SdkBody::from(THROTTLING_BODY));
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        *context.response_mut() = response;
        Ok(())
    }
}
