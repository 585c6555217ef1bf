//! Logs, traces and metrics for every Cuddle Kube service.
//!
//! One call, [`init`], reads the environment and returns a guard that flushes
//! everything when dropped:
//! - traces: OpenTelemetry with X-Ray trace IDs and the X-Ray propagator, bridged from
//!   `tracing` by `tracing-opentelemetry`; OTLP (HTTP/protobuf) export when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, none otherwise;
//!   the standard `OTEL_*` variables (sampler, resource, headers) are honoured;
//! - metrics: [`metrics`], exported the same way;
//! - logs: JSON lines with the X-Ray trace ID (or `LOG_FORMAT=pretty`: one short line
//!   per event, the trace ID too), filtered by `RUST_LOG` (default:
//!   [`DEFAULT_LOG_FILTER`]).
//!
//! Services use [`http::trace_requests`] on their routes and [`http::client`] for calls
//! out; the store traces its DynamoDB calls itself.

mod access_log;
pub mod errors;
pub mod http;
mod logs;
pub mod metrics;
mod resource;
pub mod span;
pub mod xray;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, InstrumentKind, SdkMeterProvider, Stream,
};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{FilterExt as _, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: what CloudWatch Logs and log tooling read.
    Json,
    /// One short line per event for a person at a terminal: time, level, service,
    /// target, message, fields and the X-Ray trace ID, the level coloured.
    Pretty,
}

impl LogFormat {
    /// Reads `LOG_FORMAT` (`json`, the default, or `pretty`).
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("LOG_FORMAT").as_deref() {
            Err(_) | Ok("") | Ok("json") => Ok(Self::Json),
            Ok("pretty") => Ok(Self::Pretty),
            Ok(other) => Err(format!("LOG_FORMAT={other:?} is not one of: json, pretty")),
        }
    }
}

/// Keeps telemetry running; dropping it flushes and stops the exporters. Drop it
/// outside the async runtime (the exporters block while they flush).
#[derive(Debug)]
#[must_use = "telemetry stops when the guard is dropped"]
pub struct TelemetryGuard {
    tracer_provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(err) = self.tracer_provider.shutdown() {
            eprintln!("telemetry: flushing traces failed: {err}");
        }
        if let Some(meter_provider) = &self.meter_provider
            && let Err(err) = meter_provider.shutdown()
        {
            eprintln!("telemetry: flushing metrics failed: {err}");
        }
    }
}

/// Every histogram as a base-2 exponential histogram: a collector's CloudWatch (EMF)
/// exporter sends those as values and counts, from which CloudWatch computes any
/// percentile (p99 included); explicit buckets would give it only min, max, sum, count.
fn exponential_histograms(instrument: &Instrument) -> Option<Stream> {
    (instrument.kind() == InstrumentKind::Histogram).then(|| {
        Stream::builder()
            .with_aggregation(Aggregation::Base2ExponentialHistogram {
                max_size: 160,
                max_scale: 20,
                record_min_max: true,
            })
            .build()
            .ok()
    })?
}

/// The log filter when `RUST_LOG` is unset: `info`, but a library's start-up chatter
/// (memory-serve says "serving …" for every embedded file of the website) only when it
/// warns. `RUST_LOG` replaces all of it (`RUST_LOG=info` brings those lines back).
pub const DEFAULT_LOG_FILTER: &str = "info,memory_serve=warn";

fn env_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| !value.trim().is_empty())
}

/// Sets up logs, traces and metrics for `service` (overridden by `OTEL_SERVICE_NAME`).
/// Call once, first thing in `main`, outside the async runtime.
pub fn init(service: &'static str) -> Result<TelemetryGuard, String> {
    let format = LogFormat::from_env()?;
    let log_filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(&directives)
            .map_err(|err| format!("RUST_LOG={directives:?} is not a valid filter: {err}"))?,
        _ => EnvFilter::new(DEFAULT_LOG_FILTER),
    };
    access_log::configure()?;
    metrics::set_scope(service);
    let resource = resource::detect(service);
    let service_name = resource::service_name(&resource);

    opentelemetry::global::set_text_map_propagator(xray::XrayPropagator::default());
    let mut traces = SdkTracerProvider::builder()
        .with_id_generator(xray::ContinuingIdGenerator::default())
        .with_resource(resource.clone());
    if env_set("OTEL_EXPORTER_OTLP_ENDPOINT") || env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()
            .map_err(|err| format!("OTEL_EXPORTER_OTLP_ENDPOINT: cannot export traces: {err}"))?;
        traces = traces.with_batch_exporter(exporter);
    }
    let tracer_provider = traces.build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());

    let meter_provider = if env_set("OTEL_EXPORTER_OTLP_ENDPOINT")
        || env_set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    {
        let exporter = MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()
            .map_err(|err| format!("OTEL_EXPORTER_OTLP_ENDPOINT: cannot export metrics: {err}"))?;
        let provider = SdkMeterProvider::builder()
            .with_periodic_exporter(exporter)
            .with_view(exponential_histograms)
            .with_resource(resource)
            .build();
        opentelemetry::global::set_meter_provider(provider.clone());
        Some(provider)
    } else {
        None
    };

    // Spans go to OpenTelemetry whatever RUST_LOG says (a quiet log must not blind the
    // traces); library internals stay out of them.
    let trace_filter = Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("aws_smithy_runtime", tracing::Level::WARN)
        .with_target("aws_config", tracing::Level::WARN)
        .with_target("hyper", tracing::Level::WARN)
        .with_target("h2", tracing::Level::WARN);
    // A line written inside a request carries the request's trace ID, which the log layer
    // reads from the request's span: so the log layer sees every span the traces see,
    // whatever RUST_LOG says (`RUST_LOG=warn` keeps the trace ID on the WARN lines), and
    // RUST_LOG chooses only which events it writes.
    let traced_spans = trace_filter.clone();
    let log_filter = log_filter.or(filter_fn(move |meta| {
        meta.is_span() && traced_spans.would_enable(meta.target(), meta.level())
    }));
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer_provider.tracer(service))
        .with_filter(trace_filter);
    let log_layer = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(logs::NoSpanFields)
            .event_format(logs::JsonLines {
                service: service_name,
            })
            .with_filter(log_filter)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .fmt_fields(logs::NoSpanFields)
            .event_format(logs::PrettyLines {
                service: service_name,
            })
            .with_filter(log_filter)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(otel_layer)
        .with(log_layer)
        .try_init()
        .map_err(|err| format!("logging was already set up: {err}"))?;
    Ok(TelemetryGuard {
        tracer_provider,
        meter_provider,
    })
}
