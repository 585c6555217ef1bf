//! What the alarms (`infra/services.yaml`, `infra/monitoring.yaml`) and the dashboard
//! (`infra/monitoring.yaml`) read from the services' own namespace: each metric by name
//! and dimension set, and which collector writes it ([`Writer`]): the sidecars
//! (`infra/collector/sidecar.yaml`, the apps' metrics) or the trace gateway
//! (`infra/collector/gateway.yaml`, its own `otelcol_*` metrics as `service.name`
//! [`GATEWAY_SERVICE_NAME`]). Each collector must send exactly the shapes read from it
//! (checked on paper by `tests/tests/stack/collector.rs`, and in what a real collector writes by
//! `tests/tests/stack/gateway.rs`).

use std::collections::BTreeSet;

use regex::Regex;

use crate::cfn::{Template, Value, items, text};

/// The CloudWatch namespace the collectors' `awsemf` exporters write to.
pub const NAMESPACE: &str = "CuddleKube";

/// The `service.name` the trace gateway's own metrics carry (gateway.yaml,
/// `service.telemetry.resource`); a read with this value is the gateway's.
pub const GATEWAY_SERVICE_NAME: &str = "trace-gateway";

/// Which collector writes a metric that is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Writer {
    /// Every task's sidecar (`infra/collector/sidecar.yaml`): the apps' metrics.
    Sidecar,
    /// The trace gateway (`infra/collector/gateway.yaml`): its own `otelcol_*` metrics.
    Gateway,
}

impl Writer {
    /// The writer of a read whose `service.name` dimension is `service` (`None` when the
    /// read does not fix one, as a `SEARCH` over every service does).
    fn of_service(service: Option<&str>) -> Self {
        if service == Some(GATEWAY_SERVICE_NAME) {
            Self::Gateway
        } else {
            Self::Sidecar
        }
    }
}

/// One metric an alarm or a dashboard graph reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricRead {
    /// Who reads it: `services.yaml: AlarmId`, or `dashboard`.
    pub reader: String,
    /// Who writes it, told by the read's `service.name` value.
    pub writer: Writer,
    pub metric: String,
    pub dimensions: BTreeSet<String>,
    /// The statistic of a dashboard graph's metric row (`p99`, ...); `None` for alarms and
    /// for a `SEARCH` expression, whose statistic is inside the expression.
    pub stat: Option<String>,
}

/// Every alarm's reads of [`NAMESPACE`], in both templates that hold alarms: the
/// sidecars' metrics and the trace gateway's (tell them apart by [`MetricRead::writer`]).
pub fn alarm_reads() -> Vec<MetricRead> {
    let mut out = Vec::new();
    for file in ["services.yaml", "monitoring.yaml"] {
        let template = Template::load(file);
        for alarm in template.of_type("AWS::CloudWatch::Alarm") {
            for metric in alarm_metrics(alarm.body) {
                if text(metric.get("Namespace")) != NAMESPACE {
                    continue;
                }
                let service = items(metric.get("Dimensions"))
                    .into_iter()
                    .find(|d| text(d.get("Name")) == "service.name")
                    .map(|d| text(d.get("Value")));
                out.push(MetricRead {
                    reader: alarm.to_string(),
                    writer: Writer::of_service(service),
                    metric: text(metric.get("MetricName")).to_owned(),
                    dimensions: items(metric.get("Dimensions"))
                        .into_iter()
                        .map(|d| text(d.get("Name")).to_owned())
                        .collect(),
                    stat: None,
                });
            }
        }
    }
    out
}

/// The dashboard's reads of [`NAMESPACE`]: its `SEARCH` expressions over
/// `{CuddleKube,dimension,...}` and its metric rows `["CuddleKube", name, dim, value, ...]`,
/// the sidecars' metrics and the trace gateway's (see [`MetricRead::writer`]).
pub fn dashboard_reads() -> Vec<MetricRead> {
    let body = dashboard_body();
    let mut out = Vec::new();
    let schema_start = format!("{{{NAMESPACE},");
    for widget in body["widgets"].as_array().expect("widgets") {
        let properties = &widget["properties"];
        for metric in properties["metrics"].as_array().into_iter().flatten() {
            let row = metric.as_array().expect("a metric row");
            if let Some(expression) = row
                .first()
                .and_then(|m| m.get("expression"))
                .and_then(|e| e.as_str())
                && expression.contains(&schema_start)
            {
                let schema = &expression[expression.find(&schema_start).expect("a schema")..];
                let schema = &schema[1..schema.find('}').expect("a closed schema")];
                let dimensions = schema
                    .split(',')
                    .skip(1)
                    .map(|n| n.trim_matches(|c| c == '"' || c == '\\').to_owned())
                    .collect();
                let metric = expression
                    .split("MetricName=")
                    .nth(1)
                    .and_then(|rest| {
                        rest.trim_start_matches(['\\', '"'])
                            .split(['\\', '"'])
                            .next()
                    })
                    .expect("a MetricName in the search");
                let gateway = format!(r#""service.name"="{GATEWAY_SERVICE_NAME}""#);
                let fixes_gateway = expression.replace('\\', "").contains(&gateway);
                out.push(MetricRead {
                    reader: "dashboard".into(),
                    writer: Writer::of_service(fixes_gateway.then_some(GATEWAY_SERVICE_NAME)),
                    metric: metric.to_owned(),
                    dimensions,
                    stat: None,
                });
            }
            if row.first().and_then(|v| v.as_str()) == Some(NAMESPACE) {
                let metric = row[1].as_str().expect("a metric name");
                // Name/value pairs; a trailing options object (`{"id": ...}`) is no pair.
                let pairs: Vec<(&str, Option<&str>)> = row[2..]
                    .chunks(2)
                    .filter_map(|pair| {
                        let name = pair.first()?.as_str()?;
                        Some((name, pair.get(1).and_then(|v| v.as_str())))
                    })
                    .collect();
                let service = pairs
                    .iter()
                    .find(|(name, _)| *name == "service.name")
                    .and_then(|(_, value)| *value);
                let dimensions = pairs.iter().map(|(name, _)| (*name).to_owned()).collect();
                out.push(MetricRead {
                    reader: "dashboard".into(),
                    writer: Writer::of_service(service),
                    metric: metric.to_owned(),
                    dimensions,
                    stat: properties["stat"].as_str().map(str::to_owned),
                });
            }
        }
    }
    out
}

/// The `Metric` blocks an alarm reads: its own, or its metric math's `MetricStat`s.
fn alarm_metrics(alarm: &Value) -> Vec<&Value> {
    let properties = alarm.get("Properties").expect("properties");
    if properties.get("MetricName").is_some() {
        return vec![properties];
    }
    items(properties.get("Metrics"))
        .into_iter()
        .filter_map(|m| m.get("MetricStat").and_then(|s| s.get("Metric")))
        .collect()
}

/// monitoring.yaml's dashboard as JSON, every `${...}` of its Fn::Sub standing in as `1`
/// (valid both inside strings and as the numbers it fills in).
fn dashboard_body() -> serde_json::Value {
    let monitoring = Template::load("monitoring.yaml");
    let dashboard = monitoring.expect_resource("Dashboard");
    let sub = dashboard
        .prop("DashboardBody")
        .and_then(|b| b.get("Fn::Sub"))
        .expect("DashboardBody: Fn::Sub");
    let template = match sub {
        Value::Sequence(parts) => parts[0].as_str(),
        other => other.as_str(),
    }
    .expect("the body as text");
    let json = Regex::new(r"\$\{[^}]+\}")
        .expect("a valid pattern")
        .replace_all(template, "1");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}"))
}
