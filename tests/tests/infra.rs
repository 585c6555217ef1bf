//! The CloudFormation templates in `infra/` checked against the code and against what
//! DESIGN.md promises of them: the residents table is the code's table, IAM is least
//! privilege, only the website is public, and the two APIs are reachable from the website
//! alone. Offline: it reads the YAML and talks to no AWS account.

use std::collections::{BTreeMap, BTreeSet};

use stack_tests::cfn::{
    Resource, Statement, Template, Value, all_templates, ingress_rules, items, mentions, ref_to,
    text,
};
use store::table::DEFINITION;

/// What the ADOT collector sidecar may do with its task's role; nothing else besides each
/// service's DynamoDB actions may appear in a task role.
const TELEMETRY_ACTIONS: &[&str] = &[
    "logs:CreateLogStream",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
];

/// The DynamoDB calls each service's code makes, and so all its task role may allow.
fn expected_dynamodb_actions() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    BTreeMap::from([
        ("website", BTreeSet::new()),
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

// ---------------------------------------------------------------------------- the tests

#[test]
fn residents_table_matches_the_code_definition() {
    let data = Template::load("data.yaml");
    let tables = data.of_type("AWS::DynamoDB::Table");
    assert_eq!(
        tables.len(),
        1,
        "data.yaml must define exactly one DynamoDB table"
    );
    let table = tables[0];

    let key_schema = items(table.prop("KeySchema"));
    let keys: Vec<(&str, &str)> = key_schema
        .iter()
        .map(|k| (text(k.get("AttributeName")), text(k.get("KeyType"))))
        .collect();
    assert_eq!(
        keys,
        [(DEFINITION.partition_key, "HASH")],
        "{table}: the key schema must be the code's partition key alone (no sort key)"
    );

    let attributes: BTreeMap<&str, &str> = items(table.prop("AttributeDefinitions"))
        .iter()
        .map(|a| (text(a.get("AttributeName")), text(a.get("AttributeType"))))
        .collect();
    assert_eq!(
        attributes.get(DEFINITION.partition_key).copied(),
        Some("S"),
        "{table}: the partition key {} must be declared as type S",
        DEFINITION.partition_key
    );
    let expected_attributes: BTreeMap<&str, &str> = DEFINITION
        .key_attributes
        .iter()
        .map(|name| (*name, "S"))
        .collect();
    assert_eq!(
        attributes, expected_attributes,
        "{table}: AttributeDefinitions must be exactly the code's key attributes, all S"
    );

    let indexes: BTreeMap<&str, &Value> = items(table.prop("GlobalSecondaryIndexes"))
        .into_iter()
        .map(|index| (text(index.get("IndexName")), index))
        .collect();
    let expected_names: BTreeSet<&str> = DEFINITION.indexes.iter().map(|i| i.name).collect();
    assert_eq!(
        indexes.keys().copied().collect::<BTreeSet<_>>(),
        expected_names,
        "{table}: the GSIs must be exactly the code's indexes"
    );
    for expected in DEFINITION.indexes {
        let index = indexes[expected.name];
        let keys: Vec<(&str, &str)> = items(index.get("KeySchema"))
            .iter()
            .map(|k| (text(k.get("AttributeName")), text(k.get("KeyType"))))
            .collect();
        assert_eq!(
            keys,
            [
                (expected.partition_key, "HASH"),
                (expected.sort_key, "RANGE")
            ],
            "{table}: index {} must be keyed like the code's",
            expected.name
        );
        assert_eq!(
            text(
                index
                    .get("Projection")
                    .and_then(|p| p.get("ProjectionType"))
            ),
            "ALL",
            "{table}: index {} must project ALL attributes",
            expected.name
        );
    }

    let ttl = table.prop("TimeToLiveSpecification");
    assert_eq!(
        text(ttl.and_then(|t| t.get("AttributeName"))),
        DEFINITION.ttl_attribute,
        "{table}: TTL must read the code's ttl attribute"
    );
    assert_eq!(
        ttl.and_then(|t| t.get("Enabled")).and_then(Value::as_bool),
        Some(true),
        "{table}: TTL must be enabled"
    );
    assert_eq!(
        text(table.prop("BillingMode")),
        DEFINITION.billing_mode,
        "{table}: billing mode must be the code's"
    );
}

#[test]
fn residents_table_is_retained_recoverable_and_encrypted() {
    let data = Template::load("data.yaml");
    let table = data.of_type("AWS::DynamoDB::Table")[0];
    for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
        assert_eq!(
            text(table.body.get(policy)),
            "Retain",
            "{table}: {policy} must be Retain"
        );
    }
    let flag = |path: &[&str]| table.at(path).and_then(Value::as_bool);
    assert_eq!(
        flag(&[
            "PointInTimeRecoverySpecification",
            "PointInTimeRecoveryEnabled"
        ]),
        Some(true),
        "{table}: point-in-time recovery must be on"
    );
    assert_eq!(
        flag(&["SSESpecification", "SSEEnabled"]),
        Some(true),
        "{table}: KMS encryption must be on"
    );
    assert_eq!(
        flag(&["DeletionProtectionEnabled"]),
        Some(true),
        "{table}: deletion protection must be on"
    );
}

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
fn each_task_role_allows_exactly_the_dynamodb_calls_its_service_makes() {
    let services = Template::load("services.yaml");
    let expected = expected_dynamodb_actions();
    let mut roles_seen = BTreeSet::new();

    let ecs_services = services.of_type("AWS::ECS::Service");
    let names: BTreeSet<&str> = ecs_services.iter().map(|s| s.service_name()).collect();
    assert_eq!(
        names,
        expected.keys().copied().collect(),
        "services.yaml must define exactly the three services"
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
