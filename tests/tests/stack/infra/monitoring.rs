//! infra/monitoring.yaml: the SLO burn-rate alarms, the dashboard and the cost budget.

use std::collections::BTreeSet;

use regex::Regex;
use stack_tests::cfn::{
    Template, Value, all_templates, items, read_infra_file, ref_to, sub_text, text,
};

use super::{deploy_commands, example_parameters};

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

/// The budget: monthly, in USD, over this environment's tagged costs, mailing BudgetEmail
/// at 80 % spent and when this month is forecast to pass it; no email, no budget. The tag
/// it filters on is the one every deploy command puts on every stack.
#[test]
fn the_budget_mails_before_the_month_overspends() {
    let monitoring = Template::load("monitoring.yaml");
    let budget = monitoring.expect_resource("Budget");
    assert_eq!(budget.ty(), "AWS::Budgets::Budget", "{budget}");
    assert_eq!(
        text(budget.body.get("Condition")),
        "HasBudget",
        "{budget}: only when BudgetEmail is set"
    );
    let condition = monitoring.declared("Conditions", "HasBudget");
    assert!(
        format!("{condition:?}").contains("BudgetEmail"),
        "HasBudget must read BudgetEmail: {condition:?}"
    );
    assert_eq!(
        text(budget.at(&["Budget", "TimeUnit"])),
        "MONTHLY",
        "{budget}"
    );
    assert_eq!(
        text(budget.at(&["Budget", "BudgetType"])),
        "COST",
        "{budget}"
    );
    assert_eq!(
        budget
            .at(&["Budget", "BudgetLimit", "Amount"])
            .and_then(ref_to),
        Some("BudgetMonthlyUsd"),
        "{budget}"
    );
    assert_eq!(
        text(budget.at(&["Budget", "BudgetLimit", "Unit"])),
        "USD",
        "{budget}"
    );
    let filter = items(budget.at(&["Budget", "CostFilters", "TagKeyValue"]));
    let filter = format!("{filter:?}");
    assert!(
        filter.contains("user:Environment$") && filter.contains("EnvironmentName"),
        "{budget}: filters on user:Environment$<EnvironmentName>: {filter}"
    );
    let readme = read_infra_file("README.md");
    assert!(
        readme.contains("TAGS=\"Project=cuddlekube Environment=prod\"")
            && deploy_commands(&readme)
                .iter()
                .all(|c| c.contains("--tags $TAGS")),
        "infra/README.md: every deploy tags its stack Environment=<env>, which the budget reads"
    );

    let notifications = items(budget.prop("NotificationsWithSubscribers"));
    let mut kinds = BTreeSet::new();
    for notification in &notifications {
        let n = notification.get("Notification").expect("a Notification");
        kinds.insert((
            text(n.get("NotificationType")).to_owned(),
            n.get("Threshold")
                .and_then(Value::as_u64)
                .unwrap_or_default(),
        ));
        assert_eq!(text(n.get("ThresholdType")), "PERCENTAGE", "{budget}");
        assert_eq!(
            text(n.get("ComparisonOperator")),
            "GREATER_THAN",
            "{budget}"
        );
        let subscribers = items(notification.get("Subscribers"));
        assert!(
            !subscribers.is_empty()
                && subscribers.iter().all(|s| {
                    text(s.get("SubscriptionType")) == "EMAIL"
                        && s.get("Address").and_then(ref_to) == Some("BudgetEmail")
                }),
            "{budget}: every notification mails BudgetEmail: {subscribers:?}"
        );
    }
    for expected in [("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)] {
        assert!(
            kinds.contains(&(expected.0.to_owned(), expected.1)),
            "{budget}: no {} notification at {} %",
            expected.0,
            expected.1
        );
    }

    let example = example_parameters("prod/monitoring.json");
    assert!(
        example
            .get("BudgetEmail")
            .is_some_and(|e| e.starts_with("REPLACE")),
        "params/prod/monitoring.json: BudgetEmail to fill in"
    );
    let amount: f64 = example
        .get("BudgetMonthlyUsd")
        .expect("params/prod/monitoring.json: BudgetMonthlyUsd")
        .parse()
        .expect("a number");
    assert!(
        amount > 0.0,
        "params/prod/monitoring.json: BudgetMonthlyUsd {amount}"
    );
}
