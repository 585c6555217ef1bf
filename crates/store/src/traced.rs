//! Every DynamoDB call as an OpenTelemetry client span with the attributes X-Ray,
//! Application Signals and Jaeger read (`aws.remote.*`, `rpc.*`, `db.system.name`), an
//! event per failed attempt and an `exception` event when the call fails; its latency
//! and failed attempts as metrics; and what the attempts say about a write's outcome.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use tracing::{Instrument, field};

/// Conditional failures are answers, not faults: the store expects and handles them.
const EXPECTED_CODES: [&str; 1] = ["ConditionalCheckFailedException"];

/// Answers after which DynamoDB may or may not have applied a write (its documentation
/// says so of 500s).
const UNSURE_CODES: [&str; 2] = ["InternalServerError", "ServiceUnavailable"];

/// How one attempt of a call ended, as the attempt interceptor saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attempt {
    Succeeded,
    /// DynamoDB answered with this error code.
    Refused(String),
    /// Nothing reached DynamoDB (connection or TLS handshake failed).
    NotSent(&'static str),
    /// The request may have reached DynamoDB, but no answer came back.
    Unanswered(&'static str),
}

/// What the attempts of one call came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Attempts {
    pub made: u32,
    /// Some attempt may have been applied without our hearing of it.
    pub unanswered: bool,
    /// The last failed attempt's error type.
    pub last_failure: Option<String>,
}

struct Call {
    operation: &'static str,
    span: tracing::Span,
    attempts: Attempts,
}

tokio::task_local! {
    static CALL: Arc<Mutex<Call>>;
}

/// Called by the attempt interceptor once per attempt of the call running in this task.
pub(crate) fn record_attempt(attempt: Attempt) {
    let _ = CALL.try_with(|call| {
        let Ok(mut call) = call.lock() else { return };
        call.attempts.made += 1;
        let made = call.attempts.made;
        let failure = match &attempt {
            Attempt::Succeeded => return,
            Attempt::Refused(code) if EXPECTED_CODES.contains(&code.as_str()) => return,
            Attempt::Refused(code) => {
                call.attempts.unanswered |= UNSURE_CODES.contains(&code.as_str());
                code.clone()
            }
            Attempt::NotSent(kind) => (*kind).to_owned(),
            Attempt::Unanswered(kind) => {
                call.attempts.unanswered = true;
                (*kind).to_owned()
            }
        };
        telemetry::span::record_failed_attempt(&call.span, made, &failure);
        telemetry::metrics::record_dynamodb_attempt_error(call.operation, &failure);
        call.attempts.last_failure = Some(failure);
    });
}

/// A failed call: the SDK's error and what its attempts say.
#[derive(Debug)]
pub(crate) struct Failed<E, R> {
    pub error: SdkError<E, R>,
    pub attempts: Attempts,
}

/// `call` as a client span (see the module's documentation), its latency and failed
/// attempts as metrics.
///
/// The SDK's futures are large (the orchestrator's state for a call is kilobytes): `call`
/// is boxed before anything wraps it, so the span, the task-local, the store's own
/// future and `async_trait`'s box each move a pointer instead of copying it (those
/// copies were ≈ 8 % of a listing's instructions).
pub(crate) fn traced<'a, T, E, R>(
    operation: &'static str,
    table: &'a str,
    call: impl Future<Output = Result<T, SdkError<E, R>>> + Send + 'a,
) -> impl Future<Output = Result<T, Failed<E, R>>> + Send + 'a
where
    T: Send + 'a,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    traced_boxed(operation, table, Box::pin(call))
}

/// An SDK call's future, boxed.
type SdkCall<'a, T, E, R> =
    std::pin::Pin<Box<dyn Future<Output = Result<T, SdkError<E, R>>> + Send + 'a>>;

async fn traced_boxed<T, E, R>(
    operation: &'static str,
    table: &str,
    call: SdkCall<'_, T, E, R>,
) -> Result<T, Failed<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    // Outside any request (readiness probes, the fault watch, admin commands) a call
    // would start a trace of its own; those are measured but not traced.
    let span = if tracing::Span::current().is_none() {
        tracing::Span::none()
    } else {
        tracing::info_span!(
            "dynamodb",
            otel.name = %format_args!("DynamoDB.{operation}"),
            otel.kind = "client",
            rpc.system = "aws-api",
            rpc.system.name = "aws-api",
            rpc.service = "DynamoDB",
            rpc.method = operation,
            db.system.name = "aws.dynamodb",
            db.operation.name = operation,
            aws.remote.service = "AWS::DynamoDB",
            aws.remote.operation = operation,
            aws.remote.resource.type = "AWS::DynamoDB::Table",
            aws.remote.resource.identifier = table,
            aws.sdk.attempts = field::Empty,
            error.type = field::Empty,
        )
    };
    telemetry::span::set_string_array(&span, "aws.dynamodb.table_names", &[table]);
    let state = Arc::new(Mutex::new(Call {
        operation,
        span: span.clone(),
        attempts: Attempts::default(),
    }));
    let started = Instant::now();
    let result = CALL
        .scope(state.clone(), call.instrument(span.clone()))
        .await;
    let attempts = state
        .lock()
        .map(|call| call.attempts.clone())
        .unwrap_or_default();
    span.record("aws.sdk.attempts", attempts.made);
    let error_type = match &result {
        Ok(_) => None,
        Err(err) => Some(error_type(err, &attempts)),
    };
    telemetry::metrics::record_dynamodb_call(operation, error_type.as_deref(), started.elapsed());
    match result {
        Ok(output) => Ok(output),
        Err(error) => {
            let kind = error_type.unwrap_or_default();
            span.record("error.type", kind.as_str());
            if !EXPECTED_CODES.contains(&kind.as_str()) {
                telemetry::span::record_exception(
                    &span,
                    &kind,
                    &telemetry::errors::display(&error),
                );
            }
            Err(Failed { error, attempts })
        }
    }
}

fn error_type<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, attempts: &Attempts) -> String {
    match err {
        SdkError::ServiceError(service) => {
            service.err().code().unwrap_or("ServiceError").to_owned()
        }
        _ => attempts.last_failure.clone().unwrap_or_else(|| {
            match err {
                SdkError::TimeoutError(_) => "timeout",
                SdkError::DispatchFailure(_) => "dispatch_failure",
                _ => "response_error",
            }
            .to_owned()
        }),
    }
}
