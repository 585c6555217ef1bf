//! The real local trace path, as a user's screen shows it: the services export to the
//! OpenTelemetry Collector (built from upstream, running the repo's
//! `docker/otel-collector.yaml`), which sends on to Jaeger; a test reads a trace back
//! through Jaeger's own query API. One collector and one Jaeger per test, on free ports;
//! with [`TracePath::start_with_alerts`], Prometheus too, scraping the collector and
//! evaluating the local alert rules.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use telemetry_backends::{
    Binaries, COLLECTOR_BIN_VAR, JAEGER_BIN_VAR, LocalTelemetry, MetricsQuery, SloParameters,
    TraceSpan,
};

use crate::otlp::{ReceivedEvent, ReceivedSpan};

/// How long a trace may take to reach Jaeger: the services export every 100 ms here.
const ARRIVAL_LIMIT: Duration = Duration::from_secs(30);

/// A collector in front of a Jaeger; both stopped when dropped.
#[derive(Debug)]
pub struct TracePath {
    traces: LocalTelemetry,
    logs: PathBuf,
}

impl TracePath {
    pub async fn start() -> Self {
        Self::start_then(|_, _| Ok(())).await
    }

    /// [`start`](Self::start), and Prometheus alerting by the repo's rules at
    /// `time_scale` ([`telemetry_backends::DEMO_TIME_SCALE`] for a test that waits for
    /// an alert).
    pub async fn start_with_alerts(time_scale: u32) -> Self {
        let binary = telemetry_backends::find_prometheus().unwrap_or_else(|e| panic!("{e}"));
        let rules = SloParameters::from_repository(&repository())
            .unwrap_or_else(|e| panic!("{e}"))
            .rules(time_scale);
        Self::start_then(move |traces, logs| {
            let port = telemetry_backends::Ports::free()?.query;
            traces.start_prometheus(&binary, &rules, port, &logs.join("prometheus"), logs)
        })
        .await
    }

    /// Starts the collector and Jaeger, then `then` on them (in a blocking task).
    async fn start_then(
        then: impl FnOnce(&mut LocalTelemetry, &std::path::Path) -> std::io::Result<()> + Send + 'static,
    ) -> Self {
        let binaries = Binaries::from_env().unwrap_or_else(|| {
            panic!(
                "{JAEGER_BIN_VAR} and {COLLECTOR_BIN_VAR} are unset: run the tests with \
                 `cargo xtask test`, which builds Jaeger and the collector"
            )
        });
        let logs = crate::temp_dir("trace-path");
        let dir = logs.clone();
        let traces = tokio::task::spawn_blocking(move || {
            let mut traces = LocalTelemetry::start_on_free_ports(&binaries, &repository(), &dir)?;
            then(&mut traces, &dir)?;
            Ok::<_, std::io::Error>(traces)
        })
        .await
        .expect("the start did not panic")
        .unwrap_or_else(|e| panic!("the local telemetry: {e} (logs in {})", logs.display()));
        Self { traces, logs }
    }

    /// The Prometheus of [`start_with_alerts`](Self::start_with_alerts).
    pub fn metrics(&self) -> MetricsQuery {
        MetricsQuery::new(
            self.traces
                .prometheus_url()
                .expect("started with start_with_alerts"),
        )
    }

    /// `OTEL_*` for services that should export here, with the batch delays shortened so
    /// tests wait less.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.traces.otlp_endpoint()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500".into()),
        ]
    }

    /// The spans of `trace` (32 hex digits) Jaeger holds once `done` holds for them;
    /// panics with what Jaeger did hold after [`ARRIVAL_LIMIT`].
    pub async fn wait_for_trace(
        &self,
        trace: &str,
        what: &str,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let query = self.traces.query();
        let started = Instant::now();
        loop {
            let (query, id) = (query.clone(), trace.to_owned());
            let spans: Vec<ReceivedSpan> = tokio::task::spawn_blocking(move || query.trace(&id))
                .await
                .expect("the query did not panic")
                .unwrap_or_else(|e| panic!("Jaeger's query API: {e}"))
                .into_iter()
                .map(received)
                .collect();
            if done(&spans) {
                return spans;
            }
            if started.elapsed() > ARRIVAL_LIMIT {
                panic!(
                    "Jaeger never held {what} in trace {trace}; it held {spans:#?} (collector \
                     and Jaeger logs in {})",
                    self.logs.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for TracePath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.logs);
    }
}

/// A span as Jaeger gave it, in the shape the tests already read from the OTLP receiver;
/// `raw` holds what Jaeger's answer carries of the span itself (IDs, name, kind, times).
fn received(span: TraceSpan) -> ReceivedSpan {
    let raw = Span {
        trace_id: bytes(&span.trace_id),
        span_id: bytes(&span.span_id),
        parent_span_id: bytes(&span.parent_span_id),
        name: span.name.clone(),
        kind: i32::try_from(span.kind).unwrap_or_default(),
        start_time_unix_nano: span.start_unix_nano,
        end_time_unix_nano: span.end_unix_nano,
        ..Span::default()
    };
    let resource = vec![KeyValue {
        key: "service.name".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(span.service.clone())),
        }),
        ..KeyValue::default()
    }];
    ReceivedSpan {
        service: span.service,
        name: span.name,
        kind: raw.kind,
        trace_id: span.trace_id,
        span_id: span.span_id,
        parent_span_id: span.parent_span_id,
        attributes: span.attributes,
        status_code: i32::try_from(span.status_code).unwrap_or_default(),
        status_message: span.status_message,
        scope: span.scope,
        events: span
            .events
            .into_iter()
            .map(|event| ReceivedEvent {
                name: event.name,
                attributes: event.attributes,
            })
            .collect(),
        raw,
        resource,
    }
}

fn repository() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}
