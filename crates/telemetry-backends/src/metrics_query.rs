//! Prometheus' HTTP API, read as `cargo xtask status` and the alert tests read it: an
//! instant query's samples, and the alerts with their state.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// One sample of an instant query: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// A label's value, or "" without it.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// One alert Prometheus holds: pending (its condition holds, not yet for long enough) or
/// firing. A resolved alert is no longer listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub name: String,
    pub state: String,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339, when its condition started to hold.
    pub active_at: String,
}

impl Alert {
    pub fn firing(&self) -> bool {
        self.state == "firing"
    }

    /// A label's value, or "" without it.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// Prometheus at `url` (`http://127.0.0.1:9090`).
#[derive(Debug, Clone)]
pub struct MetricsQuery {
    url: String,
    agent: ureq::Agent,
}

impl MetricsQuery {
    pub fn new(url: impl Into<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        Self {
            url: url.into(),
            agent,
        }
    }

    /// An instant query's samples (a vector result; a scalar or NaN sample is skipped).
    pub fn query(&self, promql: &str) -> Result<Vec<Sample>, String> {
        let data = self.get("/api/v1/query", &[("query", promql)])?;
        let Some(result) = data["result"].as_array() else {
            return Err(format!("{promql}: no vector in {data}"));
        };
        Ok(result
            .iter()
            .filter_map(|sample| {
                let value = sample["value"][1].as_str()?.parse::<f64>().ok()?;
                Some(Sample {
                    labels: labels(&sample["metric"]),
                    value,
                })
                .filter(|sample| sample.value.is_finite())
            })
            .collect())
    }

    /// Every alert pending or firing now.
    pub fn alerts(&self) -> Result<Vec<Alert>, String> {
        let data = self.get("/api/v1/alerts", &[])?;
        Ok(data["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|alert| {
                let labels = labels(&alert["labels"]);
                Alert {
                    name: labels.get("alertname").cloned().unwrap_or_default(),
                    state: alert["state"].as_str().unwrap_or_default().to_owned(),
                    active_at: alert["activeAt"].as_str().unwrap_or_default().to_owned(),
                    labels,
                }
            })
            .collect())
    }

    /// The rule files' alerting rules by name, as loaded (proves which rules run).
    pub fn alerting_rules(&self) -> Result<Vec<String>, String> {
        let data = self.get("/api/v1/rules", &[("type", "alert")])?;
        Ok(data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
            .filter_map(|rule| rule["name"].as_str().map(str::to_owned))
            .collect())
    }

    fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let url = format!("{}{path}", self.url);
        let mut request = self.agent.get(&url);
        for (name, value) in params {
            request = request.query(*name, *value);
        }
        let body: Value = request
            .call()
            .map_err(|err| format!("Prometheus at {}: {err}", self.url))?
            .body_mut()
            .read_json()
            .map_err(|err| format!("Prometheus at {}: not JSON: {err}", self.url))?;
        if body["status"] != "success" {
            return Err(format!("Prometheus {path}: {body}"));
        }
        Ok(body["data"].clone())
    }
}

fn labels(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
        .collect()
}
