//! The local alerts: the SLO burn-rate alarms and the DynamoDB client alarms of
//! `infra/monitoring.yaml`, as Prometheus alerting rules. The objectives, thresholds,
//! windows and burn rates are read from that template's parameter defaults, so the local
//! alerts and the CloudWatch alarms have one source; `docker/prometheus/rules.yaml` (what
//! compose mounts) is this file's output at the real time scale, and a test fails when
//! either drifts (`tests/tests/stack/alerts.rs`).
//!
//! A *time scale* divides every window (and the SLO's minimum request count, which is a
//! rate times a window) by a factor, so a demo or a test sees an alert in a minute or two
//! instead of an hour; 1 is the real thing.

use serde_json::{Value, json};

/// The template the rules come from, relative to the repository.
pub const MONITORING_TEMPLATE: &str = "infra/monitoring.yaml";
/// The rules at the real time scale, as compose mounts them.
pub const COMPOSE_RULES: &str = "docker/prometheus/rules.yaml";
/// The time scale `cargo xtask dev` and the alert tests run at: the fast burn's hour
/// becomes 2 minutes (its 5 minutes the shortest window, 30 s), so a fault at the load
/// generator's rate alerts within a minute.
pub const DEMO_TIME_SCALE: u32 = 30;
/// No window shorter than this: Prometheus needs several scrapes in a range, and a
/// service that gets a request every few seconds (register, from admissions) needs a few
/// of them in it, or its burn rate flaps between nothing and everything.
const SHORTEST_WINDOW_SECONDS: u64 = 30;

/// The services with SLOs: (`service.name`, the alarms' logical-ID prefix, which latency
/// threshold parameter applies).
const SLO_SERVICES: [(&str, &str, &str); 3] = [
    ("website", "Website", "WebsiteLatencyThresholdSeconds"),
    ("register", "Register", "ApiLatencyThresholdSeconds"),
    (
        "server-listing",
        "ServerListing",
        "ApiLatencyThresholdSeconds",
    ),
];

/// The DynamoDB client alarms: (alert name, what it means, the `error.type` values it
/// counts). Their CloudWatch alarms count failed attempts per minute and fire when 3 of
/// the last 5 minutes have any; here: any in the last minute, for 2 minutes.
const DYNAMODB_ALERTS: [(&str, &str, &str); 2] = [
    (
        "DynamoDbUnreachable",
        "cannot reach DynamoDB at all: TLS verification, connection failures or timeouts",
        "tls|dispatch_failure|timeout",
    ),
    (
        "DynamoDbClientThrottling",
        "gets throttling errors back from DynamoDB (counted per SDK attempt, retried ones too)",
        "ThrottlingException|ProvisionedThroughputExceededException|RequestLimitExceeded",
    ),
];

/// What the rules are made of: `infra/monitoring.yaml`'s parameter defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SloParameters {
    availability_objective_percent: f64,
    latency_objective_percent: f64,
    website_latency_threshold_seconds: f64,
    api_latency_threshold_seconds: f64,
    min_requests: f64,
    fast: BurnWindows,
    slow: BurnWindows,
}

#[derive(Debug, Clone, PartialEq)]
struct BurnWindows {
    rate: f64,
    long_seconds: u64,
    short_seconds: u64,
}

impl SloParameters {
    /// Reads the defaults from the monitoring template's text.
    pub fn from_template(text: &str) -> Result<Self, String> {
        let template: serde_norway::Value = serde_norway::from_str(text)
            .map_err(|err| format!("{MONITORING_TEMPLATE} is not YAML: {err}"))?;
        let default = |name: &str| -> Result<f64, String> {
            let value = &template["Parameters"][name]["Default"];
            value.as_f64().ok_or_else(|| {
                format!("{MONITORING_TEMPLATE}: parameter {name} has no numeric Default")
            })
        };
        let seconds = |name: &str| default(name).map(|value| value as u64);
        Ok(Self {
            availability_objective_percent: default("AvailabilityObjectivePercent")?,
            latency_objective_percent: default("LatencyObjectivePercent")?,
            website_latency_threshold_seconds: default("WebsiteLatencyThresholdSeconds")?,
            api_latency_threshold_seconds: default("ApiLatencyThresholdSeconds")?,
            min_requests: default("SloMinRequests")?,
            fast: BurnWindows {
                rate: default("FastBurnRate")?,
                long_seconds: seconds("FastBurnLongWindowSeconds")?,
                short_seconds: seconds("FastBurnShortWindowSeconds")?,
            },
            slow: BurnWindows {
                rate: default("SlowBurnRate")?,
                long_seconds: seconds("SlowBurnLongWindowSeconds")?,
                short_seconds: seconds("SlowBurnShortWindowSeconds")?,
            },
        })
    }

    /// Reads `infra/monitoring.yaml` under `root`.
    pub fn from_repository(root: &std::path::Path) -> Result<Self, String> {
        let path = root.join(MONITORING_TEMPLATE);
        let text = std::fs::read_to_string(&path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        Self::from_template(&text)
    }

    /// One line for a person: the windows at `time_scale`.
    pub fn describe(&self, time_scale: u32) -> String {
        let scaled = |seconds| range(scale(seconds, time_scale));
        let mut line = format!(
            "SLO fast burn {}/{} at {}x, slow burn {}/{} at {}x",
            scaled(self.fast.long_seconds),
            scaled(self.fast.short_seconds),
            self.fast.rate,
            scaled(self.slow.long_seconds),
            scaled(self.slow.short_seconds),
            self.slow.rate,
        );
        if time_scale > 1 {
            line += &format!(
                " (every window ÷{time_scale}, none under {SHORTEST_WINDOW_SECONDS} s: a demo time scale)"
            );
        }
        line
    }

    /// The rules file (YAML) at `time_scale`.
    pub fn rules(&self, time_scale: u32) -> String {
        let time_scale = time_scale.max(1);
        let mut burn_rates = Vec::new();
        let mut slo_alerts = Vec::new();
        for (service, prefix, threshold_parameter) in SLO_SERVICES {
            let latency_threshold = if threshold_parameter == "WebsiteLatencyThresholdSeconds" {
                self.website_latency_threshold_seconds
            } else {
                self.api_latency_threshold_seconds
            };
            let min_requests = (self.min_requests / f64::from(time_scale)).ceil().max(1.0);
            for (speed, windows, severity) in
                [("fast", &self.fast, "page"), ("slow", &self.slow, "ticket")]
            {
                for (which, seconds) in [
                    ("long", windows.long_seconds),
                    ("short", windows.short_seconds),
                ] {
                    let window = range(scale(seconds, time_scale));
                    let selector = format!("service_name=\"{service}\"");
                    let requests = format!(
                        "sum({})",
                        increase(
                            &format!("http_server_requests_total{{{selector}}}"),
                            &window
                        )
                    );
                    let availability = format!(
                        "sum({}) / {requests} * 100 / (100 - {})",
                        increase(&format!("http_server_errors_total{{{selector}}}"), &window),
                        self.availability_objective_percent
                    );
                    let latency = format!(
                        "(1 - histogram_fraction(0, {latency_threshold}, sum(rate(http_server_request_duration_seconds{{{selector}}}[{window}])))) * 100 / (100 - {})",
                        self.latency_objective_percent
                    );
                    for (slo, burn) in [("availability", availability), ("latency", latency)] {
                        burn_rates.push(json!({
                            "record": "slo:burn_rate",
                            "expr": format!("({burn}) and on() ({requests} >= {min_requests})"),
                            "labels": {
                                "service": service,
                                "slo": slo,
                                "window": format!("{speed}-{which}"),
                            },
                        }));
                    }
                }
                for slo in ["availability", "latency"] {
                    let name = format!("{prefix}{}{}Burn", capitalized(slo), capitalized(speed));
                    let burning = |which: &str| {
                        format!(
                            "slo:burn_rate{{service=\"{service}\",slo=\"{slo}\",window=\"{speed}-{which}\"}} > {}",
                            windows.rate
                        )
                    };
                    slo_alerts.push(json!({
                        "alert": name,
                        "expr": format!("{} and on(service, slo) {}", burning("long"), burning("short")),
                        "labels": {
                            "service": service,
                            "slo": slo,
                            "severity": severity,
                            "aws_alarm": format!("{name}Alarm"),
                        },
                        "annotations": {
                            "summary": format!(
                                "{service} spends its {slo} error budget more than {}x too fast over both {speed}-burn windows ({} and {})",
                                windows.rate,
                                range(scale(windows.long_seconds, time_scale)),
                                range(scale(windows.short_seconds, time_scale)),
                            ),
                            "runbook": "docs/debugging.md",
                        },
                    }));
                }
            }
        }
        let minute = range(scale(60, time_scale));
        // A duration, not a window: scaled without the shortest window's floor.
        let confirmed = range((120 / u64::from(time_scale)).max(1));
        let dynamodb_alerts: Vec<Value> = DYNAMODB_ALERTS
            .iter()
            .map(|(name, meaning, error_types)| {
                let failed = increase(
                    &format!("dynamodb_client_attempt_errors_total{{error_type=~\"{error_types}\"}}"),
                    &minute,
                );
                json!({
                    "alert": name,
                    "expr": format!(
                        "sum by (service) (label_replace({failed}, \"service\", \"$1\", \"service_name\", \"(.*)\")) > 0"
                    ),
                    "for": confirmed,
                    "labels": {"severity": "page", "aws_alarm": format!("{name}Alarm")},
                    "annotations": {
                        "summary": format!("{{{{ $labels.service }}}} {meaning}"),
                        "runbook": "docs/debugging.md",
                    },
                })
            })
            .collect();
        let groups = json!({"groups": [
            {"name": "slo-burn-rates", "rules": burn_rates},
            {"name": "slo-alerts", "rules": slo_alerts},
            {"name": "dynamodb-client", "rules": dynamodb_alerts},
        ]});
        let header = format!(
            "# Generated from {MONITORING_TEMPLATE}'s parameter defaults by crates/telemetry-backends\n\
             # (alert_rules.rs); do not edit: a test compares the two. {}.\n",
            self.describe(time_scale)
        );
        header + &serde_norway::to_string(&groups).expect("rules serialize")
    }
}

/// PromQL: how much the counters `series` (a selector) grew over `window`, a series that
/// appeared within the window counted from zero. The services create a counter's series
/// at its first increment (a route's first 5xx, the first failed attempt of a kind), and
/// `increase()` counts only from a series' first sample: alone, it would never see a lone
/// failure and would miss a fault's first ones. (Prometheus started beside services that
/// ran before it would count their earlier increments once, for one window.)
pub fn increase(series: &str, window: &str) -> String {
    format!("(({series} unless {series} offset {window}) or increase({series}[{window}]))")
}

fn scale(seconds: u64, time_scale: u32) -> u64 {
    (seconds / u64::from(time_scale.max(1))).max(SHORTEST_WINDOW_SECONDS)
}

/// A PromQL range: whole minutes or hours where they fit.
fn range(seconds: u64) -> String {
    match seconds {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn compose_rules_are_the_real_time_scale_output() {
        let parameters = SloParameters::from_repository(&repository()).unwrap();
        let checked_in = std::fs::read_to_string(repository().join(COMPOSE_RULES)).unwrap();
        assert!(
            checked_in == parameters.rules(1),
            "{COMPOSE_RULES} differs from what {MONITORING_TEMPLATE} gives; regenerate it: \
             cargo xtask alert-rules"
        );
    }

    #[test]
    fn the_time_scale_divides_windows_and_minimum_requests() {
        let parameters = SloParameters::from_repository(&repository()).unwrap();
        let real = parameters.rules(1);
        assert!(real.contains("[1h]") && real.contains("[5m]") && real.contains(">= 20"));
        let demo = parameters.rules(DEMO_TIME_SCALE);
        assert!(demo.contains("[2m]") && demo.contains("[30s]") && demo.contains(">= 1)"));
        assert!(!demo.contains("[1h]"), "{demo}");
    }

    #[test]
    fn ranges_read_as_a_person_writes_them() {
        assert_eq!(range(3600), "1h");
        assert_eq!(range(720), "12m");
        assert_eq!(range(25), "25s");
    }
}
