//! What the `tracing` macros cannot put on a span: array attributes, and events that
//! belong to the trace but not to the log (one per failed attempt or injected fault
//! would flood the log; the one line per failure is logged where the answer is made).

use opentelemetry::trace::Status;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A string-array attribute such as `aws.dynamodb.table_names`.
pub fn set_string_array(span: &tracing::Span, key: &'static str, values: &[&str]) {
    let values: Vec<StringValue> = values.iter().map(|v| (*v).to_owned().into()).collect();
    span.set_attribute(key, Value::Array(Array::String(values)));
}

/// The span failed: error status and an `exception` event (the semantic-convention
/// event X-Ray and Jaeger show as the cause) with the cause chain as its message.
pub fn record_exception(span: &tracing::Span, kind: &str, message: &str) {
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", kind.to_owned()),
            KeyValue::new("exception.message", message.to_owned()),
        ],
    );
    span.set_status(Status::error(kind.to_owned()));
}

/// One attempt of a call that is retried failed with `error_type` (an AWS error code,
/// `timeout`, ...).
pub fn record_failed_attempt(span: &tracing::Span, attempt: u32, error_type: &str) {
    span.add_event(
        "attempt failed",
        vec![
            KeyValue::new("aws.sdk.attempt", i64::from(attempt)),
            KeyValue::new("error.type", error_type.to_owned()),
        ],
    );
}

/// A fault scenario acted on this request (on the current span).
pub fn record_fault(scenario: &'static str) {
    tracing::Span::current().add_event(
        "fault injected",
        vec![KeyValue::new("fault.name", scenario)],
    );
}
