//! The local alerts, tested. Offline: the Prometheus rules are `infra/monitoring.yaml`'s
//! SLO burn-rate and DynamoDB client alarms (names, windows, burn rates, thresholds tied
//! to the same parameters; promtool accepts them at both time scales), and the runbook's
//! table of the alerts each scenario fires (docs/debugging.md) names every scenario and
//! only alerts and alarms that exist. Live, per scenario: the real stack under the load
//! generator's default visitor load, its metrics through the real collector into a real
//! Prometheus at the demo time scale; the scenario switched on fires the alerts its
//! runbook row names (with the right `service`) and none about another service; switched
//! off, every alert resolves. The time from the fault to each alert is printed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use faults::Scenario;
use loadgen::traffic::Plan;
use loadgen::visitors::Visitors;
use stack_tests::cfn::{Template, Value};
use stack_tests::jaeger::TracePath;
use stack_tests::runbook::{self, RUNBOOK};
use stack_tests::stack::Stack;
use telemetry_backends::{Alert, DEMO_TIME_SCALE, SloParameters};

const TABLE_HEADING: &str = "## The alerts each scenario fires, locally and on AWS";
/// How long an alert may take to fire, and every alert to resolve, at the demo scale.
const FIRE_LIMIT: Duration = Duration::from_secs(150);
const RESOLVE_LIMIT: Duration = Duration::from_secs(180);

fn repository() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One row of the runbook's table: the scenario, its local alerts as (alert, service),
/// and the AWS alarms it names.
#[derive(Debug)]
struct Row {
    scenario: Scenario,
    alerts: Vec<(String, String)>,
    aws_alarms: Vec<String>,
}

fn runbook_rows() -> Vec<Row> {
    let text = runbook::read(RUNBOOK);
    let section = text
        .split(TABLE_HEADING)
        .nth(1)
        .unwrap_or_else(|| panic!("{RUNBOOK} has no section {TABLE_HEADING:?}"));
    let section = section.split("\n## ").next().unwrap();
    let pattern = regex::Regex::new(r"`([A-Za-z]+)` \(([a-z-]+)\)").unwrap();
    let ticked = regex::Regex::new(r"`([A-Za-z-]+)`").unwrap();
    runbook::scenario_rows(RUNBOOK, section)
        .into_iter()
        .map(|(scenario, cells)| Row {
            scenario,
            alerts: pattern
                .captures_iter(&cells[0])
                .map(|c| (c[1].to_owned(), c[2].to_owned()))
                .collect(),
            aws_alarms: ticked
                .captures_iter(&cells[1])
                .map(|c| c[1].to_owned())
                .collect(),
        })
        .collect()
}

/// The alerting rules at `time_scale`: name → (labels, expression).
fn local_alerts(time_scale: u32) -> BTreeMap<String, (BTreeMap<String, String>, String)> {
    let rules = SloParameters::from_repository(&repository())
        .unwrap()
        .rules(time_scale);
    let rules: Value = serde_norway::from_str(&rules).unwrap();
    let mut alerts = BTreeMap::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let Some(name) = rule["alert"].as_str() else {
                continue;
            };
            let labels = rule["labels"]
                .as_mapping()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().unwrap().to_owned(),
                        v.as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let expr = rule["expr"].as_str().unwrap().to_owned();
            alerts.insert(name.to_owned(), (labels, expr));
        }
    }
    alerts
}

#[test]
fn the_runbook_names_each_scenarios_alerts_and_they_exist() {
    let rows = runbook_rows();
    let listed: Vec<Scenario> = rows.iter().map(|row| row.scenario).collect();
    assert_eq!(
        listed,
        Scenario::ALL.to_vec(),
        "{RUNBOOK}'s alert table must have one row per scenario, in order"
    );
    let alerts = local_alerts(1);
    let template = Template::load("monitoring.yaml");
    for row in &rows {
        assert!(!row.alerts.is_empty(), "{row:?}: no alert");
        let mut expected_aws = Vec::new();
        for (alert, service) in &row.alerts {
            let (labels, _) = alerts
                .get(alert)
                .unwrap_or_else(|| panic!("{row:?}: no local alert {alert}"));
            if let Some(label) = labels.get("service") {
                assert_eq!(label, service, "{row:?}: {alert} is about {label}");
            }
            expected_aws.push(labels["aws_alarm"].clone());
        }
        assert_eq!(row.aws_alarms, expected_aws, "{row:?}: the AWS column");
        for alarm in &row.aws_alarms {
            assert!(
                template.body["Resources"].get(alarm.as_str()).is_some(),
                "{row:?}: monitoring.yaml has no {alarm}"
            );
        }
    }
}

/// A `!Ref` (long form after cfn's reading) to `parameter`.
fn is_ref(value: &Value, parameter: &str) -> bool {
    value.get("Ref").and_then(Value::as_str) == Some(parameter)
}

#[test]
fn local_alerts_are_the_cloudwatch_burn_and_dynamodb_alarms() {
    let template = Template::load("monitoring.yaml");
    let resources = template.body["Resources"].as_mapping().unwrap();
    let composite: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::CompositeAlarm")
        .map(|(id, _)| id.as_str().unwrap().to_owned())
        .filter(|id| id.ends_with("BurnAlarm"))
        .collect();
    let alerts = local_alerts(1);
    let local: BTreeSet<String> = alerts
        .values()
        .map(|(labels, _)| labels["aws_alarm"].clone())
        .filter(|alarm| alarm.ends_with("BurnAlarm"))
        .collect();
    assert_eq!(
        local, composite,
        "local SLO alerts vs monitoring.yaml's burn alarms"
    );

    // Each burn alarm's two metric alarms use the parameters the rules are made from.
    for alarm in &composite {
        let base = alarm.trim_end_matches("Alarm");
        let speed = if base.ends_with("FastBurn") {
            "Fast"
        } else {
            "Slow"
        };
        let (labels, _) = &alerts[base];
        for which in ["Long", "Short"] {
            let id = format!("{base}{which}");
            let props = &resources
                .get(id.as_str())
                .unwrap_or_else(|| panic!("monitoring.yaml has no {id}"))["Properties"];
            assert!(
                is_ref(&props["Threshold"], &format!("{speed}BurnRate")),
                "{id}"
            );
            let text = serde_norway::to_string(&props["Metrics"]).unwrap();
            for stat in props["Metrics"].as_sequence().unwrap() {
                if let Some(metric) = stat.get("MetricStat") {
                    let window = format!("{speed}Burn{which}WindowSeconds");
                    assert!(
                        is_ref(&metric["Period"], &window),
                        "{id}: period is not {window}"
                    );
                }
            }
            let objective = match labels["slo"].as_str() {
                "availability" => "AvailabilityObjectivePercent",
                _ => {
                    let threshold = if labels["service"] == "website" {
                        "WebsiteLatencyThresholdSeconds"
                    } else {
                        "ApiLatencyThresholdSeconds"
                    };
                    assert!(text.contains(threshold), "{id} does not use {threshold}");
                    "LatencyObjectivePercent"
                }
            };
            for parameter in [objective, "SloMinRequests"] {
                assert!(text.contains(parameter), "{id} does not use {parameter}");
            }
        }
    }

    // The DynamoDB alarms count the error types the local alerts count.
    for name in ["DynamoDbUnreachable", "DynamoDbClientThrottling"] {
        let alarm = &resources[format!("{name}Alarm").as_str()]["Properties"];
        let aws: BTreeSet<String> = alarm["Metrics"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|m| m.get("MetricStat"))
            .flat_map(|m| m["Metric"]["Dimensions"].as_sequence().unwrap().clone())
            .filter(|d| d["Name"] == "error.type")
            .map(|d| d["Value"].as_str().unwrap().to_owned())
            .collect();
        let (_, expr) = &alerts[name];
        let types = expr
            .split("error_type=~\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let local: BTreeSet<String> = types.split('|').map(str::to_owned).collect();
        assert_eq!(local, aws, "{name}: error types");
    }
}

#[test]
fn promtool_accepts_the_rules_at_both_time_scales() {
    let parameters = SloParameters::from_repository(&repository()).unwrap();
    let dir = stack_tests::temp_dir("rules");
    for scale in [1, DEMO_TIME_SCALE] {
        let file = dir.join(format!("rules-{scale}.yaml"));
        std::fs::write(&file, parameters.rules(scale)).unwrap();
        let output = std::process::Command::new("promtool")
            .args(["check", "rules"])
            .arg(&file)
            .output()
            .expect("promtool (Debian's package `prometheus`) is installed");
        assert!(
            output.status.success(),
            "promtool check rules (time scale {scale}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Every scenario has its live test below: with a new scenario this does not compile
/// until its test exists.
#[test]
fn every_scenario_has_a_live_alert_test() {
    for scenario in Scenario::ALL {
        let _live_test: fn() = match scenario {
            Scenario::MissingCaCertificates => {
                missing_ca_certificates_fires_its_alerts_and_they_resolve
            }
            Scenario::DynamodbThrottling => dynamodb_throttling_fires_its_alerts_and_they_resolve,
            Scenario::SlowListing => slow_listing_fires_its_alerts_and_they_resolve,
            Scenario::ListingErrors => listing_errors_fires_its_alerts_and_they_resolve,
        };
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_ca_certificates_fires_its_alerts_and_they_resolve() {
    fires_and_resolves(Scenario::MissingCaCertificates).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_throttling_fires_its_alerts_and_they_resolve() {
    fires_and_resolves(Scenario::DynamodbThrottling).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_listing_fires_its_alerts_and_they_resolve() {
    fires_and_resolves(Scenario::SlowListing).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_errors_fires_its_alerts_and_they_resolve() {
    fires_and_resolves(Scenario::ListingErrors).await;
}

/// An alert the scenario explains: on a service its row names, and of the same kind as
/// an alert listed for it there (an SLO alert of any objective and speed, or that very
/// DynamoDB alert); or the website's SLO alerts, since every fault reaches visitors
/// through it.
fn related(alert: &Alert, row: &Row) -> bool {
    if alert.label("service") == "website" && !alert.label("slo").is_empty() {
        return true;
    }
    let family = |name: &str| {
        if name.starts_with("DynamoDb") {
            name.to_owned()
        } else {
            "slo".to_owned()
        }
    };
    row.alerts.iter().any(|(name, service)| {
        service == alert.label("service") && family(name) == family(&alert.name)
    })
}

async fn fires_and_resolves(scenario: Scenario) {
    let row = runbook_rows()
        .into_iter()
        .find(|row| row.scenario == scenario)
        .unwrap();
    let telemetry = TracePath::start_with_alerts(DEMO_TIME_SCALE).await;
    let stack = Stack::start_exporting(&telemetry.env()).await;
    let prometheus = telemetry.metrics();
    let alerts = || {
        let prometheus = prometheus.clone();
        async move {
            tokio::task::spawn_blocking(move || prometheus.alerts())
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    // The load generator's defaults: 4 visitors, 2 walks a second.
    let visitors = Visitors::new(&stack.website.url("")).unwrap();
    let plan = Plan {
        workers: 4,
        duration: Duration::from_secs(900),
        rate: Some(2.0),
    };
    let load = visitors.walk_by(plan, None);
    let game = async {
        // Before the fault: every service's requests counted, nothing alerting.
        tokio::time::sleep(Duration::from_secs(15)).await;
        let before = alerts().await;
        assert!(before.is_empty(), "alerts before {scenario}: {before:#?}");

        stack.admin(&["faults", "on", scenario.name()]);
        let switched = Instant::now();
        let mut fired: BTreeMap<(String, String), Duration> = BTreeMap::new();
        while fired.len() < row.alerts.len() {
            assert!(
                switched.elapsed() < FIRE_LIMIT,
                "{scenario}: after {FIRE_LIMIT:?} only {fired:?} of {:?} fired",
                row.alerts
            );
            for alert in alerts().await.into_iter().filter(Alert::firing) {
                assert!(
                    related(&alert, &row),
                    "{scenario} fired an unrelated {alert:#?}"
                );
                let key = (alert.name.clone(), alert.label("service").to_owned());
                if row.alerts.contains(&key) {
                    fired.entry(key).or_insert(switched.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        stack.admin(&["faults", "off", scenario.name()]);
        let off = Instant::now();
        loop {
            let now = alerts().await;
            if now.is_empty() {
                break;
            }
            for alert in &now {
                assert!(
                    related(alert, &row),
                    "{scenario} fired an unrelated {alert:#?}"
                );
            }
            assert!(
                off.elapsed() < RESOLVE_LIMIT,
                "{scenario}: still alerting {RESOLVE_LIMIT:?} after off: {now:#?}"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        println!(
            "{scenario}: fault → alert firing: {}; off → all resolved: {:.0} s",
            fired
                .iter()
                .map(|((name, service), after)| format!(
                    "{name} ({service}) {:.0} s",
                    after.as_secs_f64()
                ))
                .collect::<Vec<_>>()
                .join(", "),
            off.elapsed().as_secs_f64()
        );
    };
    tokio::select! {
        report = load => panic!("the visitors stopped early:\n{}", report.summary()),
        () = game => {}
    }
}
