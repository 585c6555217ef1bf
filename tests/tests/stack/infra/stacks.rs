//! Every template in infra/ together: no wildcard grants, no import a services update
//! could replace, every alarm notifying.

use std::collections::BTreeSet;

use regex::Regex;
use stack_tests::cfn::{
    Statement, Template, all_templates, items, mentions, read_infra_file, ref_to, sub_text, text,
};

#[test]
fn no_policy_grants_wildcard_actions_or_dynamodb_on_wildcard_resources() {
    let templates = all_templates();
    let statements: Vec<Statement<'_>> = templates.iter().flat_map(Template::statements).collect();
    assert!(
        statements.len() > 5,
        "found only {} policy statements in infra/; is the parser still reading them?",
        statements.len()
    );

    for statement in statements.iter().filter(|s| s.allows()) {
        assert!(
            statement.body.get("NotAction").is_none(),
            "{statement}: Allow with NotAction grants everything else"
        );
        for action in statement.actions() {
            assert!(
                action != "*" && !action.eq_ignore_ascii_case("dynamodb:*"),
                "{statement}: grants the wildcard action {action:?}"
            );
        }
        if statement.dynamodb_actions().is_empty() {
            continue;
        }
        for action in statement.dynamodb_actions() {
            assert!(
                !action.contains('*'),
                "{statement}: DynamoDB actions must be named one by one, not {action:?}"
            );
        }
        assert!(
            statement.body.get("NotResource").is_none(),
            "{statement}: DynamoDB actions with NotResource reach every other table"
        );
        let resources = items(statement.body.get("Resource"));
        assert!(
            !resources.is_empty(),
            "{statement}: DynamoDB actions without a Resource"
        );
        for resource in resources {
            assert_ne!(
                resource.as_str(),
                Some("*"),
                "{statement}: DynamoDB actions on Resource \"*\""
            );
        }
    }
}

#[test]
fn no_stack_imports_a_name_a_services_update_could_replace() {
    let templates = all_templates();
    let exported: BTreeSet<String> = templates.iter().flat_map(Template::exports).collect();
    for template in &templates {
        for import in template.imports() {
            assert!(
                exported.contains(&import),
                "{}: imports {import}, which no template exports",
                template.file
            );
        }
    }
    let services = Template::load("services.yaml");
    assert_eq!(
        services.exports(),
        BTreeSet::from(["cuddlekube-${EnvironmentName}-ClusterName".to_owned()]),
        "services.yaml exports only the cluster's fixed name; the load balancer and target group stay inside"
    );
    assert_eq!(
        text(
            services
                .expect_resource("Cluster")
                .prop("ClusterName")
                .and_then(|n| n.get("Fn::Sub"))
        ),
        "cuddlekube-${EnvironmentName}",
        "the exported cluster name is fixed, so it never changes under an import"
    );
    let monitoring = read_infra_file("monitoring.yaml");
    for name in ["LoadBalancerFullName", "TargetGroupFullName"] {
        assert!(
            !monitoring.contains(name),
            "monitoring.yaml must not read {name}"
        );
    }
}

#[test]
fn every_alarm_notifies_or_feeds_a_composite_that_does() {
    let mut composites_read = BTreeSet::new();
    let names = Regex::new(r#"ALARM\("\$\{(\w+)\}"\)"#).expect("pattern");
    let templates = all_templates();
    for template in &templates {
        for composite in template.of_type("AWS::CloudWatch::CompositeAlarm") {
            assert!(
                !items(composite.prop("AlarmActions")).is_empty(),
                "{composite}: no actions"
            );
            // A suppressor alarm notifies nobody: it holds a composite's actions back.
            if let Some(suppressor) = composite.prop("ActionsSuppressor").and_then(ref_to) {
                assert!(
                    template.resource(suppressor).is_some(),
                    "{composite}: suppressor {suppressor} is missing"
                );
                composites_read.insert(suppressor.to_owned());
            }
            let rule = sub_text(composite.prop("AlarmRule").expect("a rule")).expect("text");
            for alarm in names.captures_iter(&rule) {
                let id = alarm.get(1).expect("an id").as_str();
                assert!(
                    template.resource(id).is_some(),
                    "{composite}: rule names missing {id}"
                );
                composites_read.insert(id.to_owned());
            }
        }
    }
    let mut alarms = 0;
    for template in &templates {
        for alarm in template.of_type("AWS::CloudWatch::Alarm") {
            alarms += 1;
            let notifies = !items(alarm.prop("AlarmActions")).is_empty();
            assert!(
                notifies || composites_read.contains(alarm.id),
                "{alarm}: neither notifies nor feeds a composite alarm"
            );
            if notifies {
                assert!(
                    items(alarm.prop("AlarmActions"))
                        .iter()
                        .all(|a| mentions(a, "AlarmTopicArn")),
                    "{alarm}: actions go to the on-call topic"
                );
            }
            assert!(
                text(alarm.prop("AlarmDescription")).contains("Runbook")
                    || composites_read.contains(alarm.id),
                "{alarm}: the description should point at the runbook"
            );
        }
    }
    assert!(
        alarms >= 40,
        "only {alarms} alarms; did a template lose its alarms?"
    );
}
