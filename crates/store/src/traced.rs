//! Every DynamoDB call as an OpenTelemetry client span, attributed the way X-Ray and
//! Jaeger recognise an AWS call (`rpc.system=aws-api`, `rpc.service=DynamoDB`), so the
//! trace map draws DynamoDB as its own node; and its latency as a metric.

use std::future::Future;
use std::time::Instant;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use tracing::{Instrument, field};

/// Conditional failures are answers, not faults: the store expects and handles them.
const EXPECTED_CODES: [&str; 2] = [
    "ConditionalCheckFailedException",
    "TransactionCanceledException",
];

pub(crate) async fn traced<T, E, R>(
    operation: &'static str,
    table: &str,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
{
    // Outside any request (readiness probes, admin commands) a call would start a trace
    // of its own; those are measured but not traced.
    if tracing::Span::current().is_none() {
        let started = Instant::now();
        let result = call.await;
        telemetry::metrics::record_dynamodb_call(operation, result.is_ok(), started.elapsed());
        return result;
    }
    let span = tracing::info_span!(
        "dynamodb",
        otel.name = %format_args!("DynamoDB.{operation}"),
        otel.kind = "client",
        otel.status_code = field::Empty,
        rpc.system = "aws-api",
        rpc.service = "DynamoDB",
        rpc.method = operation,
        aws.dynamodb.table_names = table,
        aws.table_name = table,
        error.type = field::Empty,
    );
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    if let Err(err) = &result {
        let code = match err {
            SdkError::ServiceError(service) => service.err().code().unwrap_or("ServiceError"),
            SdkError::TimeoutError(_) => "timeout",
            SdkError::DispatchFailure(_) => "dispatch_failure",
            _ => "response_error",
        };
        span.record("error.type", code);
        if !EXPECTED_CODES.contains(&code) {
            span.record("otel.status_code", "ERROR");
        }
    }
    telemetry::metrics::record_dynamodb_call(operation, result.is_ok(), started.elapsed());
    result
}
