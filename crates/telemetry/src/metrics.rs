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
}

/// Created on first use, after [`crate::init`] has installed the meter provider.
fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("cuddlekube");
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

/// One DynamoDB call (`operation` as in the API: `GetItem`, `Query`, ...).
pub fn record_dynamodb_call(operation: &'static str, succeeded: bool, elapsed: Duration) {
    instruments().dynamodb_duration.record(
        elapsed.as_secs_f64(),
        &[
            KeyValue::new("rpc.method", operation),
            KeyValue::new("outcome", if succeeded { "ok" } else { "error" }),
        ],
    );
}
