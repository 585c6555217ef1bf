//! `infra/collector/aws.yaml` under a real OpenTelemetry Collector (the binary named by
//! `CUDDLEKUBE_OTELCOL_BIN`), byte for byte except its endpoints, which point at local
//! stand-ins for what the sidecar talks to on AWS: X-Ray's OTLP endpoint (HTTPS, checking
//! every SigV4 signature), CloudWatch Logs (moto; `MOTO_SERVER`) and the ECS task
//! metadata endpoint. The real services export to it while a fault makes a request fail;
//! then what reached the stand-ins is checked: the failing trace, whole and correctly
//! signed, kept by tail sampling's `errors` policy while the others were dropped; and EMF
//! events in the task's own log stream with every metric and dimension set the alarms and
//! the dashboard read.
//!
//! Waits: tail sampling decides 20 s after a trace's first span and the traces batch
//! leaves 5 s later; the metrics batch leaves 60 s after the first metrics arrive (both
//! as in production), so the test takes a little over a minute.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use stack_tests::cfn::{self, read_infra_file};
use stack_tests::ecs_metadata::EcsTaskMetadata;
use stack_tests::metric_reads::{NAMESPACE, alarm_reads, dashboard_reads};
use stack_tests::moto::Moto;
use stack_tests::otelcol::Collector;
use stack_tests::otlp::ReceivedSpan;
use stack_tests::stack::{Stack, fault_switched, quoted_trace_id};
use stack_tests::xray_standin::XrayStandIn;
use stack_tests::{Service, free_port};

const CONFIG_FILE: &str = "collector/aws.yaml";
const REGION: &str = "eu-west-1";
const ACCESS_KEY: &str = "AKIDCOLLECTORTEST";
const SECRET: &str = "collector-test-secret";
const LOG_GROUP: &str = "/cuddlekube/test/metrics";
const ENVIRONMENT: &str = "test";
/// As ECS makes them: 32 hex digits, the last part of the task's ARN.
const TASK_ID: &str = "5f2b1c9d8e7a46b3a1c0d9e8f7a6b5c4";
const ERROR: i32 = 2;

#[tokio::test]
async fn the_aws_config_sends_a_failing_trace_to_xray_signed_and_emf_metrics_the_alarms_read() {
    let xray = XrayStandIn::start(REGION, ACCESS_KEY, SECRET).await;
    let moto = Moto::start(REGION).await;
    // The services stack creates the group (EmfLogGroup); the sidecar may only add
    // streams and events to it.
    moto.create_log_group(LOG_GROUP).await;
    let ecs = EcsTaskMetadata::start(REGION, TASK_ID).await;
    let (otlp_port, health_port) = (free_port(), free_port());
    let config = local_config(
        &xray.traces_endpoint(),
        &moto.endpoint(),
        otlp_port,
        health_port,
    );
    let collector = Collector::start(
        &config,
        &[
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
            // Nothing may ask the EC2 metadata address (off this machine) for anything.
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("EMF_LOG_GROUP", LOG_GROUP.into()),
            // Only the errors policy may keep a trace here: no fraction, no trace slow enough.
            ("TRACE_SAMPLE_PERCENT", "0".into()),
            ("SLOW_TRACE_THRESHOLD_MS", "60000".into()),
            ("SSL_CERT_FILE", xray.ca_file().display().to_string()),
            ("ECS_CONTAINER_METADATA_URI_V4", ecs.uri()),
        ],
        health_port,
    )
    .await;
    let stack = Stack::start_exporting(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{otlp_port}"),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            format!("deployment.environment.name={ENVIRONMENT}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
        // Every second rather than every minute: all of the test's metrics reach the
        // collector well before its first metrics batch leaves.
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000".into()),
    ])
    .await;

    let (status, headers, _) = stack.visit("/residents").await;
    assert_eq!(status, 200);
    let ok_trace = otlp_trace_id(
        &quoted_trace_id(headers["x-amzn-trace-id"].to_str().unwrap()).expect("a trace ID"),
    );
    switch_on(&stack, &stack.listing, "dynamodb-throttling").await;
    let (status, _, html) = stack.visit("/residents").await;
    assert_eq!(status, 503, "the throttled listing is the 503 page: {html}");
    let failed_trace =
        otlp_trace_id(&quoted_trace_id(&html).expect("the 503 page quotes its trace"));

    let spans = xray
        .wait_for_spans(
            "the failing trace from the website and server-listing",
            Duration::from_secs(60),
            |spans| {
                let services: BTreeSet<&str> = spans
                    .iter()
                    .filter(|s| s.trace_id == failed_trace)
                    .map(|s| s.service.as_str())
                    .collect();
                services == BTreeSet::from(["server-listing", "website"])
            },
        )
        .await;
    let trace: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.trace_id == failed_trace)
        .collect();
    let ids: BTreeSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    for span in &trace {
        assert!(
            span.parent_span_id.is_empty() || ids.contains(span.parent_span_id.as_str()),
            "the trace is kept whole: {} {} has its parent {} missing",
            span.service,
            span.name,
            span.parent_span_id
        );
    }
    let query = trace
        .iter()
        .find(|s| s.service == "server-listing" && s.name == "DynamoDB.Query")
        .unwrap_or_else(|| panic!("server-listing's throttled Query: {trace:#?}"));
    assert_eq!(query.status_code, ERROR, "{query:#?}");
    assert_eq!(query.events("attempt failed").len(), 3, "{query:#?}");
    assert!(
        trace
            .iter()
            .any(|s| s.service == "website" && s.status_code == ERROR),
        "the website's side failed too: {trace:#?}"
    );
    let kept: BTreeSet<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    for trace_id in &kept {
        assert!(
            spans
                .iter()
                .any(|s| s.trace_id == *trace_id && s.status_code == ERROR),
            "only traces with an error are kept here; {trace_id} has none"
        );
    }
    assert!(
        !kept.contains(ok_trace.as_str()),
        "the successful visit's trace was not sampled"
    );
    assert_eq!(xray.refused(), 0, "refused: {:?}", xray.refusals());
    assert!(
        xray.encodings().iter().all(|e| e == "gzip"),
        "{:?}",
        xray.encodings()
    );

    let events = wait_for_emf(&moto, &collector).await;
    for event in &events {
        assert_eq!(event["aws.ecs.task.id"], TASK_ID, "{event}");
        assert_eq!(event["deployment.environment.name"], ENVIRONMENT, "{event}");
    }
    let sent_by: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["service.name"].as_str())
        .collect();
    assert_eq!(
        sent_by,
        BTreeSet::from(["server-listing", "website"]),
        "the metrics of both services the visits reached, by service.name"
    );
    assert_eq!(xray.refused(), 0, "refused: {:?}", xray.refusals());
    let log = collector.log();
    let complaints: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("\terror\t") || line.contains("deprecated"))
        .collect();
    assert!(
        complaints.is_empty(),
        "the collector logged no error and no deprecated name: {complaints:#?}"
    );
}

/// `faults on NAME --rate 1` in `service`, waiting until it took effect there.
async fn switch_on(stack: &Stack, service: &Service, name: &str) {
    stack.admin(&["faults", "on", name, "--rate", "1"]);
    service
        .wait_for_log(&format!("{name} switched on"), |line| {
            fault_switched(line, name, true)
        })
        .await;
}

/// `1-xxxxxxxx-yyyy…` as the OTLP trace ID.
fn otlp_trace_id(xray: &str) -> String {
    xray.replace('-', "")[1..].to_owned()
}

/// Waits (the metrics batch leaves 60 s after the first metrics; at most 150 s) until the
/// task's log stream holds EMF events with every metric and dimension set the alarms
/// and dashboard read, and returns those events. Checks on the way that the only stream
/// is the task's and that every event is EMF in the CuddleKube namespace.
async fn wait_for_emf(moto: &Moto, collector: &Collector) -> Vec<Value> {
    let reads: Vec<_> = alarm_reads().into_iter().chain(dashboard_reads()).collect();
    let started = Instant::now();
    loop {
        let streams = moto.log_streams(LOG_GROUP).await;
        let mut events = Vec::new();
        if !streams.is_empty() {
            assert_eq!(
                streams,
                [TASK_ID],
                "one stream, named after the ECS task ID"
            );
            events = moto
                .log_events(LOG_GROUP, TASK_ID)
                .await
                .iter()
                .map(|m| serde_json::from_str(m).unwrap_or_else(|e| panic!("{e}: {m}")))
                .collect();
        }
        let sent = emf_shapes(&events);
        let missing: BTreeSet<String> = reads
            .iter()
            .filter(|r| !sent.contains(&(r.metric.clone(), r.dimensions.clone())))
            .map(|r| format!("{}: {} by {:?}", r.reader, r.metric, r.dimensions))
            .collect();
        if missing.is_empty() {
            return events;
        }
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "CloudWatch never received what is read:\n{}\nit received {sent:#?}\ncollector log:\n{}",
            Vec::from_iter(missing).join("\n"),
            collector.log().join("\n")
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// (metric, dimension set) of every metric the EMF events declare; each directive must
/// be in the CuddleKube namespace and each dimension must have its value in the event.
fn emf_shapes(events: &[Value]) -> BTreeSet<(String, BTreeSet<String>)> {
    let mut shapes = BTreeSet::new();
    for event in events {
        let directives = event["_aws"]["CloudWatchMetrics"]
            .as_array()
            .unwrap_or_else(|| panic!("not an EMF event: {event}"));
        for directive in directives {
            assert_eq!(directive["Namespace"], NAMESPACE, "{event}");
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                let set: BTreeSet<String> = set
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| d.as_str().expect("a dimension name").to_owned())
                    .collect();
                for dimension in &set {
                    assert!(
                        event[dimension.as_str()].is_string(),
                        "{dimension} has no value: {event}"
                    );
                }
                for metric in directive["Metrics"].as_array().into_iter().flatten() {
                    let name = metric["Name"].as_str().expect("a metric name");
                    assert!(!event[name].is_null(), "{name} has no value: {event}");
                    shapes.insert((name.to_owned(), set.clone()));
                }
            }
        }
    }
    shapes
}

/// `infra/collector/aws.yaml` with only its endpoints moved: the OTLP receiver and the
/// health check to free loopback ports, the traces exporter to the X-Ray stand-in and
/// `awsemf` (given an `endpoint`) to moto. Edited as text, so everything else is the
/// file byte for byte; then checked, parsed, to differ in exactly those keys.
fn local_config(traces_endpoint: &str, logs_endpoint: &str, otlp: u16, health: u16) -> String {
    let original = read_infra_file(CONFIG_FILE);
    let tree: cfn::Value = serde_norway::from_str(&original).expect("YAML");
    let at = |path: &[&str]| -> String {
        path.iter()
            .try_fold(&tree, |value, key| value.get(*key))
            .and_then(cfn::Value::as_str)
            .unwrap_or_else(|| panic!("infra/{CONFIG_FILE}: no {}", path.join(".")))
            .to_owned()
    };
    let exporter = tree["service"]["pipelines"]["traces"]["exporters"][0]
        .as_str()
        .expect("the traces exporter")
        .to_owned();
    let health_path = ["extensions", "health_check", "endpoint"];
    let otlp_path = ["receivers", "otlp", "protocols", "http", "endpoint"];
    let traces_path = ["exporters", exporter.as_str(), "traces_endpoint"];

    let mut text = original.clone();
    for (path, value) in [
        (&health_path[..], format!("127.0.0.1:{health}")),
        (&otlp_path[..], format!("127.0.0.1:{otlp}")),
        (&traces_path[..], traces_endpoint.to_owned()),
    ] {
        let key = path.last().expect("a key");
        text = replace_once(
            &text,
            &format!("{key}: {}", at(path)),
            &format!("{key}: {value}"),
        );
    }
    text = replace_once(
        &text,
        "\n  awsemf:\n",
        &format!("\n  awsemf:\n    endpoint: {logs_endpoint}\n"),
    );

    let edited: cfn::Value = serde_norway::from_str(&text).expect("still YAML");
    let (before, after) = (leaves(&tree), leaves(&edited));
    let changed: BTreeSet<Vec<String>> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .cloned()
        .collect();
    let expected: BTreeSet<Vec<String>> = [
        &health_path[..],
        &otlp_path[..],
        &traces_path[..],
        &["exporters", "awsemf", "endpoint"][..],
    ]
    .iter()
    .map(|path| path.iter().map(|k| (*k).to_owned()).collect())
    .collect();
    assert_eq!(changed, expected, "only the endpoints are changed");
    text
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "infra/{CONFIG_FILE}: {from:?} is expected exactly once"
    );
    text.replacen(from, to, 1)
}

/// Every scalar of a YAML tree by its path (mapping keys, sequence indices).
fn leaves(value: &cfn::Value) -> BTreeMap<Vec<String>, cfn::Value> {
    fn walk(
        value: &cfn::Value,
        path: &mut Vec<String>,
        out: &mut BTreeMap<Vec<String>, cfn::Value>,
    ) {
        match value {
            cfn::Value::Mapping(map) => {
                for (key, child) in map {
                    path.push(cfn::scalar_text(key).expect("scalar keys"));
                    walk(child, path, out);
                    path.pop();
                }
            }
            cfn::Value::Sequence(items) => {
                for (index, child) in items.iter().enumerate() {
                    path.push(index.to_string());
                    walk(child, path, out);
                    path.pop();
                }
            }
            scalar => {
                out.insert(path.clone(), scalar.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}
