//! infra/services.yaml: task roles that allow exactly what each service calls, only the
//! website public and the APIs reachable from it alone, task sizes Fargate offers,
//! deployments that roll back, the WAF, the listener, idle timeouts, tags, pausing,
//! capacity alarms, the trace gateway, access logs.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use stack_tests::cfn::{
    Resource, Template, Value, all_templates, ingress_rules, items, mentions, read_infra_file,
    ref_to, scalar_text, sub_text, text,
};

use super::{deploy_commands, example_parameters};

/// What an ADOT collector (a service's sidecar, or the trace gateway) may do with its
/// task's role; nothing else besides each service's DynamoDB actions may appear in a task
/// role. (tests/tests/stack/collector.rs proves each role gets exactly what its collector's
/// exporters call: infra/collector/sidecar.yaml and gateway.yaml.)
const TELEMETRY_ACTIONS: &[&str] = &[
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
];

/// The DynamoDB calls each service's code makes, and so all its task role may allow.
fn expected_dynamodb_actions() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    BTreeMap::from([
        ("website", BTreeSet::new()),
        // The trace gateway reads no data at all.
        ("trace-gateway", BTreeSet::new()),
        (
            "register",
            BTreeSet::from([
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
            ]),
        ),
        (
            "server-listing",
            BTreeSet::from([
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ]),
        ),
    ])
}

#[test]
fn each_task_role_allows_exactly_the_dynamodb_calls_its_service_makes() {
    let services = Template::load("services.yaml");
    let expected = expected_dynamodb_actions();
    let mut roles_seen = BTreeSet::new();

    let ecs_services = services.of_type("AWS::ECS::Service");
    let names: BTreeSet<&str> = ecs_services.iter().map(|s| s.service_name()).collect();
    assert_eq!(
        names,
        expected.keys().copied().collect(),
        "services.yaml must define exactly the three services and the trace gateway"
    );

    for service in ecs_services {
        let name = service.service_name();
        let task_definition = services.referenced(service, "TaskDefinition");
        let role_id = task_definition
            .prop("TaskRoleArn")
            .and_then(ref_to)
            .unwrap_or_else(|| panic!("{task_definition}: TaskRoleArn must name a role here"));
        assert!(
            roles_seen.insert(role_id),
            "{service}: shares task role {role_id} with another service; each gets its own"
        );
        let role = services
            .resource(role_id)
            .unwrap_or_else(|| panic!("services.yaml: no role {role_id}"));
        assert!(
            role.prop("ManagedPolicyArns").is_none(),
            "{role}: ManagedPolicyArns cannot be checked here; grant through policies in the template"
        );

        let statements = services.statements_granted_to(role_id);
        let granted: BTreeSet<&str> = statements
            .iter()
            .filter(|s| s.allows())
            .flat_map(|s| s.dynamodb_actions())
            .collect();
        assert_eq!(
            granted, expected[name],
            "{role} ({name}): DynamoDB actions differ from the calls the service makes"
        );

        for statement in statements.iter().filter(|s| s.allows()) {
            for action in statement.actions() {
                assert!(
                    action.starts_with("dynamodb:") || TELEMETRY_ACTIONS.contains(&action),
                    "{statement} ({name}): {action:?} is neither its DynamoDB access nor the telemetry sidecar's"
                );
            }
            if statement.dynamodb_actions().is_empty() {
                continue;
            }
            for resource in items(statement.body.get("Resource")) {
                let resource = serde_json::to_string(resource).expect("YAML values serialise");
                assert!(
                    resource.contains("-TableArn"),
                    "{statement} ({name}): DynamoDB access must be on the residents table's ARN (or its indexes), not {resource}"
                );
            }
        }
    }
}

#[test]
fn only_the_website_service_is_attached_to_the_public_load_balancer() {
    let templates = all_templates();
    let ecs_services: Vec<Resource<'_>> = templates
        .iter()
        .flat_map(|t| t.of_type("AWS::ECS::Service"))
        .collect();
    assert!(!ecs_services.is_empty(), "no ECS services found in infra/");

    let attached: Vec<&Resource<'_>> = ecs_services
        .iter()
        .filter(|s| !items(s.prop("LoadBalancers")).is_empty())
        .collect();
    let attached_names: Vec<&str> = attached.iter().map(|s| s.service_name()).collect();
    assert_eq!(
        attached_names,
        ["website"],
        "only the website may sit behind the load balancer"
    );
    let website = attached[0];
    for entry in items(website.prop("LoadBalancers")) {
        assert_eq!(text(entry.get("ContainerName")), "website", "{website}");
        assert_eq!(
            entry.get("ContainerPort").and_then(Value::as_u64),
            Some(8080),
            "{website}"
        );
    }

    let services = Template::load("services.yaml");
    let load_balancers = services.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer");
    assert_eq!(load_balancers.len(), 1, "services.yaml: one load balancer");
    assert_eq!(
        text(load_balancers[0].prop("Scheme")),
        "internet-facing",
        "{}",
        load_balancers[0]
    );

    let target_groups: Vec<Resource<'_>> = templates
        .iter()
        .flat_map(|t| t.of_type("AWS::ElasticLoadBalancingV2::TargetGroup"))
        .collect();
    assert!(!target_groups.is_empty(), "no target group found");
    for target_group in target_groups {
        let template = templates
            .iter()
            .find(|t| t.file == target_group.file)
            .expect("a resource's template is loaded");
        let users: Vec<Resource<'_>> = template
            .resources()
            .filter(|r| mentions(r.body, target_group.id))
            .filter(|r| r.ty() == "AWS::ECS::Service")
            .collect();
        let user_ids: Vec<&str> = users.iter().map(|r| r.id).collect();
        assert_eq!(
            user_ids,
            [website.id],
            "{target_group}: only the website service may use it"
        );
    }

    for service in &ecs_services {
        assert_eq!(
            text(service.at(&[
                "NetworkConfiguration",
                "AwsvpcConfiguration",
                "AssignPublicIp"
            ])),
            "DISABLED",
            "{service}: tasks must have no public IP"
        );
    }
}

#[test]
fn the_apis_accept_traffic_only_from_the_website_and_only_the_alb_faces_the_internet() {
    let templates = all_templates();
    let ingress = ingress_rules(&templates);
    let services = Template::load("services.yaml");

    let groups_of = |name: &str| -> BTreeSet<&str> {
        let service = services
            .of_type("AWS::ECS::Service")
            .into_iter()
            .find(|s| s.service_name() == name)
            .unwrap_or_else(|| panic!("services.yaml: no service {name}"));
        let groups: BTreeSet<&str> = items(service.at(&[
            "NetworkConfiguration",
            "AwsvpcConfiguration",
            "SecurityGroups",
        ]))
        .into_iter()
        .filter_map(ref_to)
        .collect();
        assert!(
            !groups.is_empty(),
            "{service}: needs a security group of its own"
        );
        groups
    };
    let load_balancer = services.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")[0];
    let alb_groups: BTreeSet<&str> = items(load_balancer.prop("SecurityGroups"))
        .into_iter()
        .filter_map(ref_to)
        .collect();
    let website_groups = groups_of("website");

    let check_only_from = |target: &str, sources: &BTreeSet<&str>, what: &str| {
        let rules = ingress
            .get(&("services.yaml", target))
            .unwrap_or_else(|| panic!("services.yaml: {target} has no ingress at all"));
        for rule in rules {
            for cidr in ["CidrIp", "CidrIpv6", "SourcePrefixListId"] {
                assert!(
                    rule.get(cidr).is_none(),
                    "services.yaml: {target} accepts {cidr} ingress {rule:?}; only {what} may reach it"
                );
            }
            let source = rule.get("SourceSecurityGroupId").and_then(ref_to);
            assert!(
                source.is_some_and(|s| sources.contains(s)),
                "services.yaml: {target} accepts ingress from {source:?}; only {what} may reach it"
            );
            let ports = (
                rule.get("FromPort").and_then(Value::as_u64),
                rule.get("ToPort").and_then(Value::as_u64),
            );
            assert_eq!(
                ports,
                (Some(8080), Some(8080)),
                "services.yaml: {target} must open port 8080 only"
            );
        }
    };
    for api in ["register", "server-listing"] {
        for group in groups_of(api) {
            check_only_from(group, &website_groups, "the website's security group");
        }
    }
    for group in &website_groups {
        check_only_from(group, &alb_groups, "the load balancer's security group");
    }

    for ((file, group), rules) in &ingress {
        let is_alb = *file == "services.yaml" && alb_groups.contains(group);
        for rule in rules {
            let from_addresses = ["CidrIp", "CidrIpv6", "SourcePrefixListId"]
                .iter()
                .any(|k| rule.get(*k).is_some());
            assert!(
                is_alb || !from_addresses,
                "{file}: {group} accepts ingress from addresses {rule:?}; only the load balancer faces the internet"
            );
            if is_alb {
                let port = rule.get("FromPort").and_then(Value::as_u64);
                assert!(
                    matches!(port, Some(80 | 443)) && rule.get("ToPort") == rule.get("FromPort"),
                    "{file}: {group} may open 80 and 443 only, not {rule:?}"
                );
            }
        }
    }
    assert!(
        alb_groups.iter().any(|g| {
            ingress[&("services.yaml", *g)]
                .iter()
                .any(|r| r.get("CidrIp").and_then(Value::as_str) == Some("0.0.0.0/0"))
        }),
        "the load balancer's security group should accept the internet"
    );
}

/// Fargate's CPU units -> the memory (MiB) each allows (Linux; x86 and ARM alike).
fn fargate_task_sizes() -> BTreeMap<u32, BTreeSet<u32>> {
    BTreeMap::from([
        (256, BTreeSet::from([512, 1024, 2048])),
        (512, (1..=4).map(|g| g * 1024).collect()),
        (1024, (2..=8).map(|g| g * 1024).collect()),
        (2048, (4..=16).map(|g| g * 1024).collect()),
    ])
}

/// The services' tasks and the trace gateway's have their own size parameters; each pair
/// has a rule that refuses what Fargate does not offer.
#[test]
fn the_task_size_rules_allow_exactly_what_fargate_offers() {
    let services = Template::load("services.yaml");
    let allowed = |name: &str| -> Vec<String> {
        items(
            services
                .parameter(name)
                .and_then(|p| p.get("AllowedValues")),
        )
        .into_iter()
        .filter_map(scalar_text)
        .collect()
    };
    let sizes = fargate_task_sizes();
    let example = example_parameters("prod/services.json");
    for (rule_name, cpu_parameter, memory_parameter) in [
        ("FargateTaskSize", "TaskCpu", "TaskMemory"),
        ("GatewayTaskSize", "GatewayTaskCpu", "GatewayTaskMemory"),
    ] {
        let rule = services.declared("Rules", rule_name);
        let assertions = items(rule.get("Assertions"));
        let mut valid = 0;
        for cpu in allowed(cpu_parameter) {
            for memory in allowed(memory_parameter) {
                let parameters = BTreeMap::from([
                    (cpu_parameter, cpu.as_str()),
                    (memory_parameter, memory.as_str()),
                ]);
                let accepted = assertions
                    .iter()
                    .all(|a| evaluate_rule(a.get("Assert").expect("Assert"), &parameters));
                let fargate = sizes
                    .get(&cpu.parse().expect("numeric CPU"))
                    .is_some_and(|m| m.contains(&memory.parse().expect("numeric memory")));
                assert_eq!(
                    accepted, fargate,
                    "Rules.{rule_name} says {accepted} for {cpu} CPU / {memory} MiB; Fargate says {fargate}"
                );
                valid += usize::from(fargate);
            }
        }
        assert!(
            valid >= 20,
            "{rule_name}: only {valid} valid sizes among the AllowedValues"
        );
        let defaults = (
            services
                .parameter_default(cpu_parameter)
                .expect("a default"),
            services
                .parameter_default(memory_parameter)
                .expect("a default"),
        );
        let mut pairs = vec![defaults];
        if let (Some(cpu), Some(memory)) =
            (example.get(cpu_parameter), example.get(memory_parameter))
        {
            pairs.push((cpu.clone(), memory.clone()));
        }
        for (cpu, memory) in pairs {
            assert!(
                sizes[&cpu.parse::<u32>().expect("cpu")].contains(&memory.parse().expect("memory")),
                "{cpu_parameter}/{memory_parameter} {cpu}/{memory} is not a Fargate task size"
            );
        }
    }
}

#[test]
fn deployments_roll_back_on_the_alarms_that_say_visitors_suffer() {
    let services = Template::load("services.yaml");
    let expected = BTreeMap::from([
        (
            "website",
            vec!["WebsiteHttp5xxRateAlarm", "WebsiteLatencyP99Alarm"],
        ),
        ("register", vec!["RegisterErrorRateAlarm"]),
        ("server-listing", vec!["ServerListingErrorRateAlarm"]),
        // A gateway that cannot export, or refuses the sidecars' spans, loses traces.
        (
            "trace-gateway",
            vec!["GatewayExportFailuresAlarm", "GatewayRefusedSpansAlarm"],
        ),
    ]);
    for service in services.of_type("AWS::ECS::Service") {
        let name = service.service_name();
        let deployment = service
            .prop("DeploymentConfiguration")
            .expect("DeploymentConfiguration");
        for guard in ["DeploymentCircuitBreaker", "Alarms"] {
            let settings = deployment
                .get(guard)
                .unwrap_or_else(|| panic!("{service}: {guard}"));
            for flag in ["Enable", "Rollback"] {
                assert_eq!(
                    settings.get(flag).and_then(Value::as_bool),
                    Some(true),
                    "{service}: {guard}.{flag} must be true"
                );
            }
        }
        let watched: Vec<&str> = items(deployment.get("Alarms").and_then(|a| a.get("AlarmNames")))
            .into_iter()
            .map(|a| {
                ref_to(a).unwrap_or_else(|| {
                    panic!("{service}: alarm names by Ref to this stack's alarms")
                })
            })
            .collect();
        assert_eq!(watched, expected[name], "{service}: deployment alarms");
        for id in watched {
            let alarm = services.expect_resource(id);
            assert_eq!(alarm.ty(), "AWS::CloudWatch::Alarm", "{alarm}");
        }
    }
    // The APIs' alarms read what the website's Service Connect proxy saw from that API.
    for (id, discovery) in [
        ("RegisterErrorRateAlarm", "register"),
        ("ServerListingErrorRateAlarm", "server-listing"),
    ] {
        let alarm = services.expect_resource(id);
        for stat in items(alarm.prop("Metrics"))
            .into_iter()
            .filter_map(|m| m.get("MetricStat"))
        {
            let metric = stat.get("Metric").expect("a metric");
            assert_eq!(
                text(metric.get("Namespace")),
                "AWS/ECS",
                "{alarm}: Service Connect metrics"
            );
            let dimensions: BTreeMap<&str, &Value> = items(metric.get("Dimensions"))
                .into_iter()
                .map(|d| (text(d.get("Name")), d.get("Value").expect("a value")))
                .collect();
            assert_eq!(
                text(Some(dimensions["TargetDiscoveryName"])),
                discovery,
                "{alarm}"
            );
            assert_eq!(
                text(Some(dimensions["ServiceName"])),
                "website",
                "{alarm}: the client's view"
            );
        }
    }
}

#[test]
fn waf_counts_oversize_bodies_first_and_knows_the_apps_16_kib_limit() {
    let services = Template::load("services.yaml");
    assert_eq!(
        services.parameter_default("WafBodySizeAction").as_deref(),
        Some("COUNT")
    );
    let acl = services.expect_resource("WebAcl");
    let rules = items(acl.prop("Rules"));
    let declared = rules
        .iter()
        .find(|r| text(r.get("Name")) == "declared-body-over-16kib")
        .expect("a rule for a declared Content-Length over 16 KiB");
    let pattern = text(
        declared
            .get("Statement")
            .and_then(|s| s.get("RegexMatchStatement"))
            .and_then(|r| r.get("RegexString")),
    );
    let regex = Regex::new(pattern).expect("a valid pattern");
    for length in (0..=70_000u64).chain([99_999, 100_000, 1_048_576, 123_456_789]) {
        assert_eq!(
            regex.is_match(&length.to_string()),
            length > 16 * 1024,
            "Content-Length {length}: the rule must match exactly above the app's 16384 bytes"
        );
    }
    assert!(regex.is_match("0016385") && !regex.is_match("16384 ") && !regex.is_match("abc"));
    let action = declared
        .get("Action")
        .and_then(|a| a.get("Fn::If"))
        .expect("Action: !If");
    assert_eq!(text(items(Some(action))[0].into()), "WafBodyRulesBlock");
    let common = rules
        .iter()
        .find(|r| text(r.get("Name")) == "aws-common")
        .expect("the common rule set");
    let overrides = common
        .get("Statement")
        .and_then(|s| s.get("ManagedRuleGroupStatement"))
        .and_then(|m| m.get("RuleActionOverrides"))
        .and_then(|o| o.get("Fn::If"))
        .expect("RuleActionOverrides: !If WafBodyRulesBlock");
    let when_counting = serde_json::to_string(&items(Some(overrides))[2]).expect("json");
    assert!(
        when_counting.contains("SizeRestrictions_BODY") && when_counting.contains("Count"),
        "SizeRestrictions_BODY (bodies over 8 KB, all WAF can inspect) counts while COUNT: {when_counting}"
    );
}

#[test]
fn the_https_listener_uses_the_recommended_tls_policy() {
    let services = Template::load("services.yaml");
    let listener = services.expect_resource("HttpsListener");
    assert_eq!(
        text(listener.prop("SslPolicy")),
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    );
}

#[test]
fn proxies_close_idle_connections_before_the_apps_do() {
    // The app ends a connection that has sent no request head for this long; a proxy
    // that kept it longer could send a request into a connection being closed (a 502).
    let app_idle = service_kit::ConnectionLimits::default()
        .head_timeout
        .as_secs();
    let services = Template::load("services.yaml");
    let balancer = services.expect_resource("LoadBalancer");
    let alb_idle: u64 = items(balancer.prop("LoadBalancerAttributes"))
        .into_iter()
        .find(|a| text(a.get("Key")) == "idle_timeout.timeout_seconds")
        .map(|a| text(a.get("Value")).parse().expect("seconds"))
        .expect("the ALB's idle timeout is set");
    assert!(
        alb_idle < app_idle,
        "ALB idle {alb_idle} s >= app {app_idle} s"
    );
    for service in ["RegisterService", "ServerListingService"] {
        let connect = services.expect_resource(service);
        let connect = connect.prop("ServiceConnectConfiguration");
        let entries = items(connect.and_then(|c| c.get("Services")));
        assert!(
            !entries.is_empty(),
            "{service} has no Service Connect service"
        );
        for entry in entries {
            let idle: u64 = entry
                .get("Timeout")
                .and_then(|t| t.get("IdleTimeoutSeconds"))
                .and_then(scalar_text)
                .expect("IdleTimeoutSeconds is set")
                .parse()
                .expect("seconds");
            assert!(
                idle < app_idle,
                "{service}: Service Connect idle {idle} s >= app {app_idle} s"
            );
        }
    }
}

#[test]
fn tasks_carry_the_stacks_and_services_tags() {
    let services = Template::load("services.yaml");
    for service in services.of_type("AWS::ECS::Service") {
        assert_eq!(text(service.prop("PropagateTags")), "SERVICE", "{service}");
        assert_eq!(
            service
                .prop("EnableECSManagedTags")
                .and_then(Value::as_bool),
            Some(true),
            "{service}"
        );
        let tags: BTreeSet<&str> = items(service.prop("Tags"))
            .into_iter()
            .map(|t| text(t.get("Key")))
            .collect();
        for key in ["Project", "Environment", "Service"] {
            assert!(tags.contains(key), "{service}: tag {key}");
        }
    }
    let readme = read_infra_file("README.md");
    for command in deploy_commands(&readme) {
        assert!(
            command.contains("--tags"),
            "infra/README.md: every deploy passes the stack tags (--tags)\n{command}"
        );
    }
}

#[test]
fn a_paused_environment_runs_nothing_and_pages_nobody() {
    let services = Template::load("services.yaml");
    let paused_zero = |value: Option<&Value>| -> bool {
        value.and_then(|v| v.get("Fn::If")).is_some_and(|i| {
            text(items(Some(i))[0].into()) == "IsPaused" && items(Some(i))[1].as_u64() == Some(0)
        })
    };
    for service in services.of_type("AWS::ECS::Service") {
        assert!(
            paused_zero(service.prop("DesiredCount")),
            "{service}: DesiredCount !If [IsPaused, 0, ...]"
        );
    }
    for target in services.of_type("AWS::ApplicationAutoScaling::ScalableTarget") {
        for bound in ["MinCapacity", "MaxCapacity"] {
            assert!(
                paused_zero(target.prop(bound)),
                "{target}: {bound} !If [IsPaused, 0, ...]"
            );
        }
    }
    // An alarm with no actions (the night pause's WebsiteAsleepAlarm) has none to switch off.
    for alarm in services
        .of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|a| a.prop("AlarmActions").is_some())
    {
        let enabled = alarm.prop("ActionsEnabled").and_then(|v| v.get("Fn::If"));
        assert!(
            enabled.is_some_and(|i| text(items(Some(i))[0].into()) == "IsPaused"),
            "{alarm}: ActionsEnabled !If [IsPaused, false, true]"
        );
    }
}

#[test]
fn capacity_alarms_watch_every_service_against_its_bounds() {
    let services = Template::load("services.yaml");
    for prefix in ["Website", "Register", "ServerListing"] {
        let at_max = services.expect_resource(&format!("{prefix}AtMaxTasksAlarm"));
        assert_eq!(
            ref_to(at_max.prop("Threshold").expect("threshold")),
            Some("MaxTasks"),
            "{at_max}"
        );
        services.expect_resource(&format!("{prefix}TasksBelowDesiredAlarm"));
        services.expect_resource(&format!("{prefix}TelemetrySilentAlarm"));
    }
    let min: u32 = services
        .parameter_default("MinTasks")
        .expect("default")
        .parse()
        .expect("number");
    let max: u32 = services
        .parameter_default("MaxTasks")
        .expect("default")
        .parse()
        .expect("number");
    assert!(
        min <= max && min >= 2,
        "MinTasks {min} (one per AZ) <= MaxTasks {max}"
    );
}

/// Cloud Map answers at most 8 healthy records to a multivalue query: a ninth gateway
/// task would be on no sidecar's ring. Two keep one per Availability Zone.
#[test]
fn the_trace_gateway_runs_two_to_eight_tasks() {
    const CLOUD_MAP_MULTIVALUE_ANSWERS: u64 = 8;
    let services = Template::load("services.yaml");
    let parameter = services
        .parameter("GatewayDesiredCount")
        .expect("services.yaml: parameter GatewayDesiredCount");
    let bound = |key: &str| parameter.get(key).and_then(Value::as_u64);
    assert_eq!(bound("Default"), Some(2));
    assert_eq!(
        bound("MinValue"),
        Some(2),
        "GatewayDesiredCount: one per AZ at least"
    );
    assert!(
        bound("MaxValue").is_some_and(|m| m <= CLOUD_MAP_MULTIVALUE_ANSWERS),
        "GatewayDesiredCount: at most {CLOUD_MAP_MULTIVALUE_ANSWERS}"
    );
    let example: u64 = example_parameters("prod/services.json")["GatewayDesiredCount"]
        .parse()
        .expect("a number");
    assert!(
        example >= 2,
        "params/prod/services.json: GatewayDesiredCount {example}"
    );

    let service = services.expect_resource("GatewayService");
    let target = services
        .of_type("AWS::ApplicationAutoScaling::ScalableTarget")
        .into_iter()
        .find(|t| mentions(t.prop("ResourceId").expect("a ResourceId"), service.id))
        .expect("the trace gateway scales");
    let when_running = |bound: &str| -> &Value {
        items(Some(
            target
                .prop(bound)
                .and_then(|v| v.get("Fn::If"))
                .unwrap_or_else(|| panic!("{target}: {bound} !If [IsPaused, 0, ...]")),
        ))[2]
    };
    assert_eq!(
        ref_to(when_running("MinCapacity")),
        Some("GatewayDesiredCount"),
        "{target}"
    );
    assert_eq!(
        when_running("MaxCapacity").as_u64(),
        Some(CLOUD_MAP_MULTIVALUE_ANSWERS),
        "{target}: up to Cloud Map's limit"
    );
    let scaling = services
        .of_type("AWS::ApplicationAutoScaling::ScalingPolicy")
        .into_iter()
        .find(|p| ref_to(p.prop("ScalingTargetId").expect("a target")) == Some(target.id))
        .expect("a scaling policy for the trace gateway");
    assert_eq!(
        text(scaling.at(&[
            "TargetTrackingScalingPolicyConfiguration",
            "PredefinedMetricSpecification",
            "PredefinedMetricType"
        ])),
        "ECSServiceAverageCPUUtilization",
        "{scaling}"
    );
    let at_max = services.expect_resource("GatewayAtMaxTasksAlarm");
    assert_eq!(
        at_max.prop("Threshold").and_then(Value::as_u64),
        Some(CLOUD_MAP_MULTIVALUE_ANSWERS),
        "{at_max}"
    );
    services.expect_resource("GatewayTasksBelowDesiredAlarm");
}

/// A gateway deployment starts the new tasks before it stops the old ones, and a stopping
/// gateway gets Fargate's longest stop timeout to send its export queue.
#[test]
fn the_trace_gateway_is_replaced_before_it_stops_and_drains_when_it_does() {
    let services = Template::load("services.yaml");
    let service = services.expect_resource("GatewayService");
    let deployment = service
        .prop("DeploymentConfiguration")
        .expect("DeploymentConfiguration");
    for (key, value) in [("MinimumHealthyPercent", 100), ("MaximumPercent", 200)] {
        assert_eq!(
            deployment.get(key).and_then(Value::as_u64),
            Some(value),
            "{service}: {key}"
        );
    }
    let task_definition = services.referenced(service, "TaskDefinition");
    let containers = items(task_definition.prop("ContainerDefinitions"));
    assert_eq!(
        containers.len(),
        1,
        "{task_definition}: the collector alone"
    );
    let container = containers[0];
    assert_eq!(
        container.get("StopTimeout").and_then(Value::as_u64),
        Some(120),
        "{task_definition}: Fargate's maximum stop timeout, for the export queue"
    );
    assert_eq!(
        text(container.get("User")),
        "4317:4317",
        "{task_definition}: the collector image's own non-root user"
    );
    assert_eq!(
        container
            .get("ReadonlyRootFilesystem")
            .and_then(Value::as_bool),
        Some(true),
        "{task_definition}"
    );
    assert_eq!(
        list_of(
            container
                .get("LinuxParameters")
                .and_then(|l| l.get("Capabilities"))
                .and_then(|c| c.get("Drop"))
        ),
        ["ALL"],
        "{task_definition}: every capability dropped"
    );
    let logs = container
        .get("LogConfiguration")
        .and_then(|l| l.get("Options"))
        .expect("awslogs options");
    let group = services
        .resource(ref_to(logs.get("awslogs-group").expect("a group")).expect("a reference"))
        .expect("its own log group");
    assert_eq!(
        ref_to(group.prop("RetentionInDays").expect("a retention")),
        Some("LogRetentionDays"),
        "{group}: kept as long as the services' logs"
    );
    let filtered = services
        .of_type("AWS::Logs::MetricFilter")
        .into_iter()
        .any(|f| ref_to(f.prop("LogGroupName").expect("a group")) == Some(group.id));
    assert!(
        filtered,
        "{group}: its \"Exporting failed\" lines count as export failures too"
    );
}

/// Only the three services' sidecars reach the gateway, on its OTLP gRPC port only; each
/// service's own group lets its sidecar out to exactly that.
#[test]
fn the_trace_gateway_takes_spans_only_from_the_services_sidecars() {
    const OTLP_GRPC: u64 = 4317;
    let templates = all_templates();
    let ingress = ingress_rules(&templates);
    let services = Template::load("services.yaml");
    let own_groups = |name: &str| -> BTreeSet<&str> {
        let service = services
            .of_type("AWS::ECS::Service")
            .into_iter()
            .find(|s| s.service_name() == name)
            .unwrap_or_else(|| panic!("services.yaml: no service {name}"));
        items(service.at(&[
            "NetworkConfiguration",
            "AwsvpcConfiguration",
            "SecurityGroups",
        ]))
        .into_iter()
        .filter_map(ref_to)
        .collect()
    };
    let gateway_groups = own_groups("trace-gateway");
    assert_eq!(
        gateway_groups.len(),
        1,
        "the gateway's own group: {gateway_groups:?}"
    );
    let gateway_group = *gateway_groups.first().expect("one group");
    let senders: BTreeSet<&str> = ["website", "register", "server-listing"]
        .into_iter()
        .flat_map(own_groups)
        .collect();

    let rules = &ingress[&("services.yaml", gateway_group)];
    let sources: BTreeSet<&str> = rules
        .iter()
        .map(|rule| {
            for key in ["CidrIp", "CidrIpv6", "SourcePrefixListId"] {
                assert!(
                    rule.get(key).is_none(),
                    "{gateway_group}: ingress by {key} {rule:?}"
                );
            }
            let ports = (
                rule.get("FromPort").and_then(Value::as_u64),
                rule.get("ToPort").and_then(Value::as_u64),
            );
            assert_eq!(
                ports,
                (Some(OTLP_GRPC), Some(OTLP_GRPC)),
                "{gateway_group}: OTLP gRPC only"
            );
            rule.get("SourceSecurityGroupId")
                .and_then(ref_to)
                .unwrap_or_else(|| panic!("{gateway_group}: ingress from a group: {rule:?}"))
        })
        .collect();
    assert_eq!(
        sources, senders,
        "{gateway_group}: from the three services' own groups, and nobody else"
    );
    for sender in senders {
        let group = services.expect_resource(sender);
        let to_gateway = items(group.prop("SecurityGroupEgress"))
            .into_iter()
            .any(|rule| {
                rule.get("DestinationSecurityGroupId").and_then(ref_to) == Some(gateway_group)
                    && rule.get("FromPort").and_then(Value::as_u64) == Some(OTLP_GRPC)
                    && rule.get("ToPort").and_then(Value::as_u64) == Some(OTLP_GRPC)
            });
        assert!(
            to_gateway,
            "{group}: egress to {gateway_group} on {OTLP_GRPC}"
        );
    }
}

#[test]
fn every_app_samples_its_access_log_from_one_parameter() {
    let services = Template::load("services.yaml");
    assert_eq!(
        services
            .parameter_default("AccessLogSampleRatio")
            .as_deref(),
        Some("0.05")
    );
    for app in ["website", "register", "server-listing"] {
        for container in services.containers_named(app) {
            assert_eq!(
                ref_to(container.env("ACCESS_LOG_SAMPLE_RATIO")),
                Some("AccessLogSampleRatio"),
                "{container}"
            );
        }
    }
}

/// A YAML list of strings.
fn list_of(value: Option<&Value>) -> Vec<&str> {
    items(value).into_iter().map(|v| text(Some(v))).collect()
}

/// A tiny evaluator for the condition functions CloudFormation allows in `Rules`.
fn evaluate_rule(condition: &Value, parameters: &BTreeMap<&str, &str>) -> bool {
    let value = |v: &Value| -> String {
        match ref_to(v) {
            Some(name) => parameters
                .get(name)
                .unwrap_or_else(|| panic!("rule refers to {name}"))
                .to_string(),
            None => scalar_text(v).unwrap_or_else(|| panic!("not a scalar: {v:?}")),
        }
    };
    let map = condition.as_mapping().expect("a rule function");
    let (function, arguments) = map.iter().next().expect("one function");
    let arguments = items(Some(arguments));
    match function.as_str().expect("a name") {
        "Fn::Or" => arguments.iter().any(|a| evaluate_rule(a, parameters)),
        "Fn::And" => arguments.iter().all(|a| evaluate_rule(a, parameters)),
        "Fn::Not" => !evaluate_rule(arguments[0], parameters),
        "Fn::Equals" => value(arguments[0]) == value(arguments[1]),
        "Fn::Contains" => {
            let needle = value(arguments[1]);
            items(Some(arguments[0])).iter().any(|v| value(v) == needle)
        }
        other => panic!("rule function {other} is not handled here"),
    }
}

/// The night pause: with PauseSchedule and WakeSchedule set (and not Paused), every
/// scalable target goes to 0/0 at PauseSchedule and back to its running bounds at
/// WakeSchedule, both read in ScheduleTimezone; without them there is no scheduled action.
/// The two website alarms that go off whenever there is no task notify, at night, through
/// composites that the website's asleep alarm holds back.
#[test]
fn the_night_pause_scales_everything_to_zero_and_back_and_pages_nobody() {
    let services = Template::load("services.yaml");
    let condition = services.declared("Conditions", "SleepsAtNight");
    let condition = format!("{condition:?}");
    assert!(
        condition.contains("PauseSchedule") && condition.contains("IsPaused"),
        "SleepsAtNight: a schedule, and not Paused: {condition}"
    );
    let rule = services.declared("Rules", "PauseAndWakeTogether");
    let assertions = items(rule.get("Assertions"));
    let cron = "cron(0 22 * * ? *)";
    for (pause, wake, accepted) in [
        ("", "", true),
        (cron, cron, true),
        (cron, "", false),
        ("", cron, false),
    ] {
        let parameters = BTreeMap::from([("PauseSchedule", pause), ("WakeSchedule", wake)]);
        assert_eq!(
            assertions
                .iter()
                .all(|a| evaluate_rule(a.get("Assert").expect("Assert"), &parameters)),
            accepted,
            "PauseAndWakeTogether with PauseSchedule {pause:?}, WakeSchedule {wake:?}"
        );
    }

    let targets = services.of_type("AWS::ApplicationAutoScaling::ScalableTarget");
    assert_eq!(
        targets.len(),
        4,
        "three services and the trace gateway scale"
    );
    for target in targets {
        let branches = items(Some(
            target
                .prop("ScheduledActions")
                .and_then(|v| v.get("Fn::If"))
                .unwrap_or_else(|| {
                    panic!(
                        "{target}: ScheduledActions !If [SleepsAtNight, [...], !Ref AWS::NoValue]"
                    )
                }),
        ));
        assert_eq!(text(Some(branches[0])), "SleepsAtNight", "{target}");
        assert_eq!(
            ref_to(branches[2]),
            Some("AWS::NoValue"),
            "{target}: no schedule, no action"
        );
        let actions = items(Some(branches[1]));
        assert_eq!(actions.len(), 2, "{target}: a pause and a wake-up");
        let on = |schedule: &str| -> &Value {
            actions
                .iter()
                .find(|a| a.get("Schedule").and_then(ref_to) == Some(schedule))
                .unwrap_or_else(|| panic!("{target}: no scheduled action at {schedule}"))
        };
        let (pause, wake) = (on("PauseSchedule"), on("WakeSchedule"));
        for action in [pause, wake] {
            assert_eq!(
                action.get("Timezone").and_then(ref_to),
                Some("ScheduleTimezone"),
                "{target}: {action:?}"
            );
        }
        for bound in ["MinCapacity", "MaxCapacity"] {
            let set_to = |action: &'static str, a: &Value| {
                a.get("ScalableTargetAction")
                    .and_then(|t| t.get(bound))
                    .cloned()
                    .unwrap_or_else(|| panic!("{target}: the {action} sets no {bound}"))
            };
            assert_eq!(
                set_to("pause", pause).as_u64(),
                Some(0),
                "{target}: the pause sets {bound} to 0"
            );
            let running = items(Some(
                target
                    .prop(bound)
                    .and_then(|v| v.get("Fn::If"))
                    .expect("!If [IsPaused, 0, running]"),
            ))[2]
                .clone();
            assert_eq!(
                set_to("wake-up", wake),
                running,
                "{target}: the wake-up brings {bound} back to its running bound"
            );
        }
    }

    let asleep = services.expect_resource("WebsiteAsleepAlarm");
    assert_eq!(
        text(asleep.body.get("Condition")),
        "SleepsAtNight",
        "{asleep}"
    );
    assert_eq!(
        text(asleep.prop("MetricName")),
        "DesiredTaskCount",
        "{asleep}"
    );
    assert!(
        items(asleep.prop("Dimensions"))
            .iter()
            .any(|d| text(d.get("Name")) == "ServiceName" && text(d.get("Value")) == "website"),
        "{asleep}: the website's desired count"
    );
    assert_eq!(
        text(asleep.prop("ComparisonOperator")),
        "LessThanThreshold",
        "{asleep}"
    );
    assert_eq!(
        text(asleep.prop("TreatMissingData")),
        "notBreaching",
        "{asleep}: no data is awake, so an outage is never hidden"
    );
    for (alarm, composite) in [
        (
            "WebsiteNoHealthyTargetsAlarm",
            "WebsiteNoHealthyTargetsAwakeAlarm",
        ),
        ("WebsiteHttp5xxRateAlarm", "WebsiteHttp5xxRateAwakeAlarm"),
    ] {
        let composite = services.expect_resource(composite);
        assert_eq!(
            text(composite.body.get("Condition")),
            "SleepsAtNight",
            "{composite}"
        );
        assert_eq!(
            composite.prop("AlarmRule").and_then(sub_text),
            Some(format!("ALARM(\"${{{alarm}}}\")")),
            "{composite}"
        );
        assert_eq!(
            composite.prop("ActionsSuppressor").and_then(ref_to),
            Some("WebsiteAsleepAlarm"),
            "{composite}"
        );
        let seconds = |p: &str| {
            composite
                .prop(p)
                .and_then(Value::as_u64)
                .unwrap_or_default()
        };
        assert!(
            seconds("ActionsSuppressorWaitPeriod") >= 120
                && seconds("ActionsSuppressorExtensionPeriod") >= 300,
            "{composite}: waits for the asleep alarm at night, and for tasks to pass their health checks after"
        );
        assert!(
            items(composite.prop("AlarmActions"))
                .iter()
                .any(|a| mentions(a, "AlarmTopicArn")),
            "{composite}: pages the on-call"
        );
        let metric_alarm = services.expect_resource(alarm);
        for actions in ["AlarmActions", "OKActions"] {
            let branches = metric_alarm
                .prop(actions)
                .and_then(|v| v.get("Fn::If"))
                .map(|i| items(Some(i)))
                .unwrap_or_default();
            assert!(
                branches.len() == 3
                    && text(Some(branches[0])) == "SleepsAtNight"
                    && ref_to(branches[1]) == Some("AWS::NoValue"),
                "{metric_alarm}: {actions} !If [SleepsAtNight, !Ref AWS::NoValue, [...]] (the composite notifies at night)"
            );
        }
    }
}
