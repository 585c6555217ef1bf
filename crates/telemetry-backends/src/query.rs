//! Jaeger's query API (v3: OTLP JSON), and a trace flattened into its spans.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// Jaeger's query API at a base URL.
#[derive(Debug, Clone)]
pub struct JaegerQuery {
    base: String,
    agent: ureq::Agent,
}

impl JaegerQuery {
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(5)))
                .http_status_as_error(false)
                .build()
                .new_agent(),
        }
    }

    /// The spans Jaeger holds for a trace (32 hex digits, OTLP's form), none if it holds
    /// none (yet).
    pub fn trace(&self, trace_id: &str) -> std::io::Result<Vec<TraceSpan>> {
        let url = format!("{}/api/v3/traces/{trace_id}", self.base);
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| std::io::Error::other(format!("GET {url}: {e}")))?;
        let status = response.status().as_u16();
        let body: Value = response
            .body_mut()
            .read_json()
            .map_err(|e| std::io::Error::other(format!("GET {url}: not JSON ({e})")))?;
        match status {
            200 => Ok(spans(&body["result"])),
            404 => Ok(Vec::new()),
            _ => Err(std::io::Error::other(format!("GET {url}: {status} {body}"))),
        }
    }
}

/// One span of a trace, as Jaeger gave it. IDs are lower-case hex.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpan {
    pub service: String,
    pub scope: String,
    pub name: String,
    /// OTLP's `SpanKind`: 1 internal, 2 server, 3 client.
    pub kind: i64,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub attributes: BTreeMap<String, String>,
    /// 0 unset, 1 ok, 2 error.
    pub status_code: i64,
    pub status_message: String,
    pub events: Vec<TraceEvent>,
}

/// One event of a span (`exception`, `attempt failed`, `fault injected`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEvent {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
}

impl TraceSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_unix_nano.saturating_sub(self.start_unix_nano))
    }
}

/// Every span of an OTLP JSON `TracesData`, with its service and scope.
pub fn spans(traces: &Value) -> Vec<TraceSpan> {
    let mut out = Vec::new();
    for resource_spans in items(&traces["resourceSpans"]) {
        let resource = attributes(&resource_spans["resource"]["attributes"]);
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for scope_spans in items(&resource_spans["scopeSpans"]) {
            let scope = text(&scope_spans["scope"]["name"]);
            for span in items(&scope_spans["spans"]) {
                out.push(TraceSpan {
                    service: service.clone(),
                    scope: scope.clone(),
                    name: text(&span["name"]),
                    kind: span["kind"].as_i64().unwrap_or_default(),
                    trace_id: text(&span["traceId"]),
                    span_id: text(&span["spanId"]),
                    parent_span_id: text(&span["parentSpanId"]),
                    start_unix_nano: number(&span["startTimeUnixNano"]),
                    end_unix_nano: number(&span["endTimeUnixNano"]),
                    attributes: attributes(&span["attributes"]),
                    status_code: span["status"]["code"].as_i64().unwrap_or_default(),
                    status_message: text(&span["status"]["message"]),
                    events: items(&span["events"])
                        .map(|event| TraceEvent {
                            name: text(&event["name"]),
                            attributes: attributes(&event["attributes"]),
                        })
                        .collect(),
                });
            }
        }
    }
    out
}

fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// OTLP JSON writes 64-bit integers as strings.
fn number(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_u64())
        .unwrap_or_default()
}

fn attributes(list: &Value) -> BTreeMap<String, String> {
    items(list)
        .map(|kv| (text(&kv["key"]), any_value(&kv["value"])))
        .collect()
}

/// An attribute's value as text: `[a, b]` for arrays, as the tests' OTLP receiver does.
fn any_value(value: &Value) -> String {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return String::new();
    };
    match kind.as_str() {
        "stringValue" | "intValue" => inner
            .as_str()
            .map_or_else(|| inner.to_string(), str::to_owned),
        "arrayValue" => {
            let values: Vec<String> = items(&inner["values"]).map(any_value).collect();
            format!("[{}]", values.join(", "))
        }
        _ => inner.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Jaeger v2 (v1.75.0) answered for a trace the collector sent it.
    const ANSWER: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"website"}}]},"scopeSpans":[{"scope":{"name":"x"},"spans":[{"traceId":"5759e988bd862e3fe1be46a994272793","spanId":"0102030405060708","name":"GET /residents","kind":2,"startTimeUnixNano":"1796587961666136893","endTimeUnixNano":"1796587961671136893","attributes":[{"key":"http.response.status_code","value":{"intValue":"503"}},{"key":"aws.dynamodb.table_names","value":{"arrayValue":{"values":[{"stringValue":"t"}]}}}],"events":[{"timeUnixNano":"1796587961671136893","name":"exception","attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}]}],"status":{"message":"bad","code":2}}]}]}]}"#;

    #[test]
    fn an_answer_is_flattened_into_spans() {
        let spans = spans(&serde_json::from_str(ANSWER).unwrap());
        let span = &spans[0];
        assert_eq!(span.service, "website");
        assert_eq!(span.kind, 2);
        assert_eq!(span.trace_id, "5759e988bd862e3fe1be46a994272793");
        assert_eq!(span.parent_span_id, "");
        assert_eq!(span.duration(), Duration::from_millis(5));
        assert_eq!(span.attribute("http.response.status_code"), Some("503"));
        assert_eq!(span.attribute("aws.dynamodb.table_names"), Some("[t]"));
        assert_eq!((span.status_code, span.status_message.as_str()), (2, "bad"));
        assert_eq!(span.events[0].name, "exception");
        assert_eq!(span.events[0].attributes["exception.message"], "boom");
    }
}
