//! A test-only OTLP/HTTP receiver: what the real services export, decoded with the
//! opentelemetry-proto types, for assertions on trace IDs and parent links.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// One exported span, flattened for assertions. IDs are lower-case hex.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    pub service: String,
    pub name: String,
    /// 1 internal, 2 server, 3 client (OTLP's `SpanKind`).
    pub kind: i32,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub attributes: BTreeMap<String, String>,
    /// 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    pub status_message: String,
    /// The instrumentation scope (tracer) that made it.
    pub scope: String,
    pub events: Vec<ReceivedEvent>,
    /// The span as exported, with its resource's attributes: for the X-Ray translation.
    pub raw: Span,
    pub resource: Vec<KeyValue>,
}

/// One event of a span (`exception`, `attempt failed`, `fault injected`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
}

impl ReceivedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// Its events of that name.
    pub fn events(&self, name: &str) -> Vec<&ReceivedEvent> {
        self.events.iter().filter(|e| e.name == name).collect()
    }

    pub fn duration(&self) -> Duration {
        Duration::from_nanos(
            self.raw
                .end_time_unix_nano
                .saturating_sub(self.raw.start_time_unix_nano),
        )
    }

    /// The trace ID in X-Ray form (`1-xxxxxxxx-yyyy…`).
    pub fn xray_trace_id(&self) -> String {
        format!("1-{}-{}", &self.trace_id[..8], &self.trace_id[8..])
    }
}

#[derive(Debug, Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    /// (service, instrumentation scope, metric name)
    metrics: Vec<(String, String, String)>,
}

/// Listens on a free loopback port until dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    pub port: u16,
    received: Arc<Mutex<Received>>,
    server: tokio::task::JoinHandle<()>,
}

impl OtlpReceiver {
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Received::default()));
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .route("/v1/metrics", post(metrics))
            .with_state(received.clone());
        let (port, server) = crate::serve_on_loopback(app).await;
        Self {
            port,
            received,
            server,
        }
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT` for services that should export here, with the
    /// batch delays shortened so tests wait less.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500".into()),
        ]
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received.lock().expect("lock").spans.clone()
    }

    /// (service, instrumentation scope, metric name) of every metric received.
    pub fn metrics(&self) -> Vec<(String, String, String)> {
        self.received.lock().expect("lock").metrics.clone()
    }

    /// Waits (at most 20 s) until `done` holds for the spans received so far, and
    /// returns them; panics with what did arrive otherwise.
    pub async fn wait_for_spans(
        &self,
        what: &str,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let wait = crate::poll_until(Duration::from_secs(20), Duration::from_millis(100), || {
            let spans = self.spans();
            done(&spans).then_some(spans)
        });
        match wait.await {
            Some(spans) => spans,
            None => panic!("never received {what}; got {:#?}", self.spans()),
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        // `[a, b]`: what a string array attribute holds.
        Some(any_value::Value::ArrayValue(array)) => {
            let items: Vec<String> = array.values.iter().map(|v| text(Some(v))).collect();
            format!("[{}]", items.join(", "))
        }
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(list: &[KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

async fn traces(State(received): State<Arc<Mutex<Received>>>, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
    let spans = flatten_spans(request);
    received.lock().expect("lock").spans.extend(spans);
    Vec::new()
}

/// Every span of one OTLP trace export, with its service, scope and resource.
pub fn flatten_spans(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_default();
        let resource_attributes = resource_spans
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
            for span in scope_spans.spans {
                out.push(ReceivedSpan {
                    service: service.clone(),
                    name: span.name.clone(),
                    kind: span.kind,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: attributes(&span.attributes),
                    status_code: span.status.as_ref().map_or(0, |s| s.code),
                    status_message: span
                        .status
                        .as_ref()
                        .map(|s| s.message.clone())
                        .unwrap_or_default(),
                    scope: scope.clone(),
                    events: span
                        .events
                        .iter()
                        .map(|e| ReceivedEvent {
                            name: e.name.clone(),
                            attributes: attributes(&e.attributes),
                        })
                        .collect(),
                    raw: span,
                    resource: resource_attributes.clone(),
                });
            }
        }
    }
    out
}

async fn metrics(State(received): State<Arc<Mutex<Received>>>, body: Bytes) -> Vec<u8> {
    let request = ExportMetricsServiceRequest::decode(body).expect("an OTLP metrics export");
    let mut received = received.lock().expect("lock");
    for resource_metrics in request.resource_metrics {
        let resource = resource_metrics
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for scope_metrics in resource_metrics.scope_metrics {
            let scope = scope_metrics.scope.map(|s| s.name).unwrap_or_default();
            for metric in scope_metrics.metrics {
                received
                    .metrics
                    .push((service.clone(), scope.clone(), metric.name));
            }
        }
    }
    Vec::new()
}
