//! What a collector's `awsemf` exporter wrote to CloudWatch Logs (moto): EMF events, and
//! the (metric, dimension set) shapes they declare, against what alarms and dashboards read.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::metric_reads::{MetricRead, NAMESPACE};
use crate::moto::Moto;

/// Waits (the metrics batch leaves 60 s after the first metrics; at most 150 s) until the
/// task's log stream holds EMF events with every metric and dimension set the alarms
/// and dashboard read, and returns those events. Checks on the way that the only stream
/// is the task's and that every event is EMF in the CuddleKube namespace.
pub async fn wait_for_emf(
    moto: &Moto,
    group: &str,
    stream: &str,
    reads: &[MetricRead],
    log: impl Fn() -> Vec<String>,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let streams = moto.log_streams(group).await;
        let mut events = Vec::new();
        if !streams.is_empty() {
            assert_eq!(streams, [stream], "one stream, named after the ECS task ID");
            events = moto
                .log_events(group, stream)
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
            log().join("\n")
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// (metric, dimension set) of every metric the EMF events declare; each directive must
/// be in the CuddleKube namespace and each dimension must have its value in the event.
pub fn emf_shapes(events: &[Value]) -> BTreeSet<(String, BTreeSet<String>)> {
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
