//! The trace gateway's cost, side by side with the sidecar in front of it: spans at a
//! steady rate into one sidecar (OTLP/HTTP, as an app sends them), routed to one gateway
//! (`infra/collector/gateway.yaml`) that tail-samples and exports to the X-Ray stand-in;
//! real collectors and the repository's configs, as `tests/tests/stack/gateway.rs` runs them
//! (`stack_tests::trace_tier`). Measured: each collector's CPU time and memory over the
//! steady part (after the first decisions), and each kept span's delay from its end to
//! its arrival at the stand-in.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message as _;
use serde::Serialize;
use stack_tests::trace_tier::{Sampling, TraceTier};

use crate::cpu::process_ticks;

/// Spans per second sent (a busy environment: ~200 requests/s of 5 spans).
const RATE: u64 = 1_000;
const SPANS_PER_TRACE: u64 = 5;
/// Each span's parent, by index: a chain down to DynamoDB, and the rendering.
const PARENTS: [Option<usize>; 5] = [None, Some(0), Some(1), Some(2), Some(0)];
/// As `TRACE_SAMPLE_PERCENT` could be set on AWS; no span is an error or slow here.
pub const SAMPLE_PERCENT: f64 = 10.0;
const SAMPLING: Sampling = Sampling {
    percent: SAMPLE_PERCENT,
    slow_trace_ms: 60_000,
};
/// Until the gateway decides and exports steadily: its decision wait (20 s), its batch
/// (5 s).
const WARMUP: Duration = Duration::from_secs(25);

#[derive(Debug, Serialize)]
pub struct GatewayCost {
    pub spans_per_s: f64,
    /// CPU milliseconds per second of each, over the steady part.
    pub gateway_cpu_ms_per_s: f64,
    pub sidecar_cpu_ms_per_s: f64,
    /// Before the first span, and at the end of the steady part (20 s of traces held).
    pub gateway_idle_rss_mib: f64,
    pub gateway_rss_mib: f64,
    pub sidecar_rss_mib: f64,
    pub kept_spans: usize,
    /// From a span's end to its arrival at the X-Ray stand-in.
    pub delay_p50_s: f64,
    pub delay_p99_s: f64,
}

/// Sends for `WARMUP` + `steady`, then waits for the last decisions.
pub async fn measure(steady: Duration) -> Result<GatewayCost, String> {
    let tier = TraceTier::start(1, SAMPLING).await;
    let (_, sidecar, _) = &tier.sidecars[0];
    let gateway = &tier.gateways[0];
    let url = format!("{}/v1/traces", tier.otlp_endpoint(tier.sidecars[0].0));
    let http = reqwest::Client::new();
    let mut rng = fastrand::Rng::with_seed(7);
    let rss = |pid: u32| crate::report::rss_kib(pid).map_or(f64::NAN, |kib| kib as f64 / 1024.0);
    let gateway_idle_rss_mib = rss(gateway.collector.pid());

    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut sent = 0u64;
    let mut window: Option<(Instant, u64, [u64; 2])> = None;
    while started.elapsed() < WARMUP + steady {
        tick.tick().await;
        if window.is_none() && started.elapsed() >= WARMUP {
            window = Some((
                Instant::now(),
                sent,
                [
                    process_ticks(gateway.collector.pid())?,
                    process_ticks(sidecar.pid())?,
                ],
            ));
        }
        let body = traces(RATE / 10 / SPANS_PER_TRACE, &mut rng).encode_to_vec();
        let response = http
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("OTLP to the sidecar: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("the sidecar answered {}", response.status()));
        }
        sent += RATE / 10;
    }
    let (from, sent_before, ticks_before) = window.ok_or("no steady part")?;
    let seconds = from.elapsed().as_secs_f64();
    let ticks_per_s = procfs::ticks_per_second() as f64;
    let cpu_ms_per_s = |pid: u32, before: u64| -> Result<f64, String> {
        Ok((process_ticks(pid)? - before) as f64 / ticks_per_s * 1000.0 / seconds)
    };
    let gateway_cpu_ms_per_s = cpu_ms_per_s(gateway.collector.pid(), ticks_before[0])?;
    let sidecar_cpu_ms_per_s = cpu_ms_per_s(sidecar.pid(), ticks_before[1])?;
    let (gateway_rss_mib, sidecar_rss_mib) = (rss(gateway.collector.pid()), rss(sidecar.pid()));

    // The last traces are decided a decision wait after their first span.
    tokio::time::sleep(WARMUP + Duration::from_secs(5)).await;
    let mut delays: Vec<f64> = gateway
        .xray
        .arrivals()
        .iter()
        .map(|(span, arrived)| {
            let ended = UNIX_EPOCH + Duration::from_nanos(span.raw.end_time_unix_nano);
            arrived
                .duration_since(ended)
                .unwrap_or_default()
                .as_secs_f64()
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        delays
            .get(((delays.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(GatewayCost {
        spans_per_s: (sent - sent_before) as f64 / seconds,
        gateway_cpu_ms_per_s,
        sidecar_cpu_ms_per_s,
        gateway_idle_rss_mib,
        gateway_rss_mib,
        sidecar_rss_mib,
        kept_spans: delays.len(),
        delay_p50_s: quantile(0.5),
        delay_p99_s: quantile(0.99),
    })
}

/// `count` traces shaped like a listing's (the website's request, its call, the API's
/// request, its DynamoDB call, the rendering), each span with the attributes ours carry.
fn traces(count: u64, rng: &mut fastrand::Rng) -> ExportTraceServiceRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let text = |key: &str, value: &str| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    };
    let mut spans = Vec::new();
    for _ in 0..count {
        let trace_id = rng.u128(..).to_be_bytes().to_vec();
        let ids: Vec<Vec<u8>> = (0..SPANS_PER_TRACE)
            .map(|_| rng.u64(..).to_be_bytes().to_vec())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let (name, kind) = [
                ("GET /residents", span::SpanKind::Server),
                ("GET server-listing", span::SpanKind::Client),
                ("GET /v1/servers", span::SpanKind::Server),
                ("DynamoDB.Query", span::SpanKind::Client),
                ("render", span::SpanKind::Internal),
            ][i];
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: id.clone(),
                parent_span_id: PARENTS[i].map_or_else(Vec::new, |p| ids[p].clone()),
                name: name.to_owned(),
                kind: kind as i32,
                start_time_unix_nano: now - 3_000_000,
                end_time_unix_nano: now,
                attributes: vec![
                    text("http.request.method", "GET"),
                    text("http.route", "/residents"),
                    text("url.full", "http://server-listing:8080/v1/servers?limit=12"),
                    text("server.address", "server-listing"),
                    text("network.protocol.version", "1.1"),
                    text("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                    text("aws.xray.trace_id", "1-00000000-000000000000000000000000"),
                ],
                status: Some(Status::default()),
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", "website"),
                    text("deployment.environment.name", "bench"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "telemetry".to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
