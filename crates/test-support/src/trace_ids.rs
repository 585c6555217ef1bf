//! Tracing for tests that read the current trace ID (a page that shows the trace to
//! quote): spans get real OpenTelemetry trace IDs, as in a service, but nothing is
//! exported. Logs only with `TEST_LOG`, like [`crate::init_tracing`].

use std::sync::Once;

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Sets up, once per test binary, an OpenTelemetry layer without an exporter (so
/// `telemetry::http::current_trace_id()` answers) and, with `TEST_LOG`, log lines.
/// Call it before anything else sets up tracing (`fresh_store` does): the first
/// subscriber wins.
pub fn init_tracing_with_trace_ids() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let spans = tracing_opentelemetry::layer().with_tracer(provider.tracer("tests"));
        let logs = std::env::var_os("TEST_LOG").map(|_| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
        });
        let _ = tracing_subscriber::registry()
            .with(spans)
            .with(logs)
            .try_init();
    });
}
