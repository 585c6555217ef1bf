//! The services' metrics: RED per route, and DynamoDB latency per operation. Exported
//! with the traces (OTLP) when an endpoint is configured; no-ops otherwise.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

struct Instruments {
    http_duration: Histogram<f64>,
    http_requests: Counter<u64>,
    http_errors: Counter<u64>,
    dynamodb_duration: Histogram<f64>,
    dynamodb_attempt_errors: Counter<u64>,
}

/// The instrumentation scope: the service's own name (set by [`crate::init`]), so each
/// service's metrics are told apart by scope as well as by `service.name`.
static SCOPE: OnceLock<&'static str> = OnceLock::new();

pub(crate) fn set_scope(service: &'static str) {
    let _ = SCOPE.set(service);
}

/// Created on first use, after [`crate::init`] has installed the meter provider.
fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter(SCOPE.get().copied().unwrap_or("cuddlekube"));
        Instruments {
            http_duration: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("Time to answer an HTTP request")
                .build(),
            http_requests: meter
                .u64_counter("http.server.requests")
                .with_description("HTTP requests answered")
                .build(),
            http_errors: meter
                .u64_counter("http.server.errors")
                .with_description("HTTP requests answered with a 5xx status")
                .build(),
            dynamodb_duration: meter
                .f64_histogram("dynamodb.client.operation.duration")
                .with_unit("s")
                .with_description("Time a DynamoDB call took, retries included")
                .build(),
            dynamodb_attempt_errors: meter
                .u64_counter("dynamodb.client.attempt.errors")
                .with_description(
                    "DynamoDB attempts that failed, retried or not: throttling shows here \
                     even when the SDK's retries hide it from the answer",
                )
                .build(),
        }
    })
}

/// One answered request. `route` is the matched route template (`/v1/servers/{ckid}`),
/// never the raw path, so the number of series stays bounded.
pub fn record_http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let attributes = [
        KeyValue::new("http.request.method", method.to_owned()),
        KeyValue::new("http.route", route.to_owned()),
        KeyValue::new("http.response.status_class", format!("{}xx", status / 100)),
    ];
    let m = instruments();
    m.http_duration.record(elapsed.as_secs_f64(), &attributes);
    m.http_requests.add(1, &attributes);
    if status >= 500 {
        m.http_errors.add(1, &attributes);
    }
}

/// One DynamoDB call (`operation` as in the API: `GetItem`, `Query`, ...); `error_type`
/// is the DynamoDB error code (or `timeout`, `dispatch_failure`, ...) of a failed one.
pub fn record_dynamodb_call(operation: &str, error_type: Option<&str>, elapsed: Duration) {
    let mut attributes = vec![
        KeyValue::new("rpc.method", operation.to_owned()),
        KeyValue::new("outcome", if error_type.is_none() { "ok" } else { "error" }),
    ];
    if let Some(error_type) = error_type {
        attributes.push(KeyValue::new("error.type", error_type.to_owned()));
    }
    instruments()
        .dynamodb_duration
        .record(elapsed.as_secs_f64(), &attributes);
}

/// One failed attempt of a DynamoDB call.
pub fn record_dynamodb_attempt_error(operation: &str, error_type: &str) {
    instruments().dynamodb_attempt_errors.add(
        1,
        &[
            KeyValue::new("rpc.method", operation.to_owned()),
            KeyValue::new("error.type", error_type.to_owned()),
        ],
    );
}
