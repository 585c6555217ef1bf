//! infra/monitoring.yaml: the SLO burn-rate alarms and the dashboard.

use std::collections::BTreeSet;

use regex::Regex;
use stack_tests::cfn::{Template, Value, all_templates, items, read_infra_file, ref_to, sub_text};

#[test]
fn slo_alarms_burn_at_the_configured_rates_over_the_configured_windows() {
    let monitoring = Template::load("monitoring.yaml");
    for service in ["Website", "Register", "ServerListing"] {
        for sli in ["Availability", "Latency"] {
            for speed in ["Fast", "Slow"] {
                let composite =
                    monitoring.expect_resource(&format!("{service}{sli}{speed}BurnAlarm"));
                let rule = sub_text(composite.prop("AlarmRule").expect("rule")).expect("text");
                let long = format!("{service}{sli}{speed}BurnLong");
                let short = format!("{service}{sli}{speed}BurnShort");
                assert_eq!(
                    rule,
                    format!("ALARM(\"${{{long}}}\") AND ALARM(\"${{{short}}}\")"),
                    "{composite}: both windows must burn"
                );
                for (id, window) in [(long, "Long"), (short, "Short")] {
                    let alarm = monitoring.expect_resource(&id);
                    assert_eq!(
                        ref_to(alarm.prop("Threshold").expect("a threshold")),
                        Some(format!("{speed}BurnRate").as_str()),
                        "{alarm}"
                    );
                    assert_eq!(
                        alarm.prop("EvaluationPeriods").and_then(Value::as_u64),
                        Some(1),
                        "{alarm}: one window-long period"
                    );
                    let metrics = items(alarm.prop("Metrics"));
                    let period = format!("{speed}Burn{window}WindowSeconds");
                    let objective = format!("{sli}ObjectivePercent");
                    for stat in metrics.iter().filter_map(|m| m.get("MetricStat")) {
                        assert_eq!(
                            ref_to(stat.get("Period").expect("a period")),
                            Some(period.as_str()),
                            "{alarm}"
                        );
                    }
                    let expression = metrics
                        .iter()
                        .find(|m| m.get("ReturnData").and_then(Value::as_bool) == Some(true))
                        .and_then(|m| m.get("Expression"))
                        .and_then(sub_text)
                        .expect("a returned expression");
                    assert!(
                        expression.contains(&format!("(100 - ${{{objective}}})"))
                            && expression.contains("${SloMinRequests}"),
                        "{alarm}: the burn rate divides by the error budget of {objective}: {expression}"
                    );
                    let names: BTreeSet<&str> = metrics
                        .iter()
                        .filter_map(|m| {
                            m.get("MetricStat")?
                                .get("Metric")?
                                .get("MetricName")?
                                .as_str()
                        })
                        .collect();
                    let expected = if sli == "Availability" {
                        BTreeSet::from(["http.server.errors", "http.server.requests"])
                    } else {
                        BTreeSet::from(["http.server.request.duration"])
                    };
                    assert_eq!(names, expected, "{alarm}");
                    if sli == "Latency" {
                        let threshold = if service == "Website" {
                            "WebsiteLatencyThresholdSeconds"
                        } else {
                            "ApiLatencyThresholdSeconds"
                        };
                        assert!(
                            metrics.iter().any(|m| {
                                m.get("MetricStat")
                                    .and_then(|s| s.get("Stat"))
                                    .and_then(sub_text)
                                    == Some(format!("PR(:${{{threshold}}})"))
                            }),
                            "{alarm}: the good share is PR(:{threshold})"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_dashboard_shows_only_alarms_that_exist() {
    let mut names = BTreeSet::new();
    for template in all_templates() {
        for alarm in template
            .resources()
            .filter(|r| r.ty().starts_with("AWS::CloudWatch::") && r.ty().ends_with("Alarm"))
        {
            let name = sub_text(alarm.prop("AlarmName").expect("a fixed AlarmName"));
            names.insert(name.expect("AlarmName as text"));
        }
    }
    let monitoring = read_infra_file("monitoring.yaml");
    let shown: Vec<&str> = Regex::new(r"\$\{Alarm\}([a-z0-9-]+)")
        .expect("pattern")
        .captures_iter(&monitoring)
        .map(|c| c.get(1).expect("a name").as_str())
        .collect();
    assert!(
        shown.len() >= 30,
        "the dashboard shows only {} alarms",
        shown.len()
    );
    for name in shown {
        assert!(
            names.contains(&format!("cuddlekube-${{EnvironmentName}}-{name}")),
            "monitoring.yaml: the dashboard shows alarm {name}, which no template defines"
        );
    }
}
