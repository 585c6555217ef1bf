//! The CloudFormation templates in `infra/` checked against the code and against what
//! DESIGN.md promises of them: the residents table is the code's table, IAM is least
//! privilege, only the website is public, and the two APIs are reachable from the website
//! alone. Offline: it reads the YAML and talks to no AWS account.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml::{Mapping, Value};
use store::table::DEFINITION;

const INFRA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra");

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

// ---------------------------------------------------------------------------- templates

/// One parsed template. CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`, ...) are
/// rewritten to their long forms, so the checks above see one shape only.
#[derive(Debug)]
struct Template {
    file: String,
    body: Value,
}

impl Template {
    fn load(file: &str) -> Self {
        let path = Path::new(INFRA_DIR).join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let raw: Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
        let body = long_form(raw);
        assert!(
            body.get("Resources").is_some_and(Value::is_mapping),
            "{file} has no Resources section"
        );
        Self {
            file: file.to_owned(),
            body,
        }
    }

    fn resources(&self) -> impl Iterator<Item = Resource<'_>> {
        self.body
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .map(|(id, body)| Resource {
                file: &self.file,
                id: id.as_str().expect("resource IDs are strings"),
                body,
            })
    }

    fn resource(&self, id: &str) -> Option<Resource<'_>> {
        self.resources().find(|r| r.id == id)
    }

    fn of_type(&self, ty: &str) -> Vec<Resource<'_>> {
        self.resources().filter(|r| r.ty() == ty).collect()
    }

    /// The resource that `property` of `resource` refers to (`Ref` or `Fn::GetAtt`).
    fn referenced(&self, resource: Resource<'_>, property: &str) -> Resource<'_> {
        let id = resource
            .prop(property)
            .and_then(ref_to)
            .unwrap_or_else(|| panic!("{resource}: {property} must refer to a resource here"));
        self.resource(id)
            .unwrap_or_else(|| panic!("{resource}: {property} refers to missing {id}"))
    }

    /// Every policy statement anywhere in the template: IAM roles and policies, trust
    /// policies, key policies, VPC endpoint policies.
    fn statements(&self) -> Vec<Statement<'_>> {
        let mut out = Vec::new();
        for resource in self.resources() {
            collect_statements(resource, resource.body, &mut out);
        }
        out
    }

    /// What a role may do: its inline policies plus the template's managed and inline
    /// policies attached to it (its trust policy grants nothing to it, so it is left out).
    fn statements_granted_to(&self, role_id: &str) -> Vec<Statement<'_>> {
        let mut out = Vec::new();
        let role = self
            .resource(role_id)
            .unwrap_or_else(|| panic!("{}: no role {role_id}", self.file));
        if let Some(policies) = role.prop("Policies") {
            collect_statements(role, policies, &mut out);
        }
        for policy in self
            .resources()
            .filter(|r| matches!(r.ty(), "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy"))
        {
            let attached = items(policy.prop("Roles"))
                .into_iter()
                .any(|r| ref_to(r) == Some(role_id));
            if attached && let Some(document) = policy.prop("PolicyDocument") {
                collect_statements(policy, document, &mut out);
            }
        }
        out
    }
}

/// Every `*.yaml` file in `infra/`: the templates CI lints.
fn all_templates() -> Vec<Template> {
    let mut files: Vec<String> = std::fs::read_dir(INFRA_DIR)
        .unwrap_or_else(|e| panic!("cannot list {INFRA_DIR}: {e}"))
        .map(|entry| entry.expect("readable directory entry").file_name())
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.ends_with(".yaml") && !name.starts_with('.'))
        .collect();
    files.sort();
    for required in ["data.yaml", "network.yaml", "services.yaml"] {
        assert!(
            files.iter().any(|f| f == required),
            "infra/{required} is missing"
        );
    }
    files.iter().map(|f| Template::load(f)).collect()
}

#[derive(Debug, Clone, Copy)]
struct Resource<'a> {
    file: &'a str,
    id: &'a str,
    body: &'a Value,
}

impl<'a> Resource<'a> {
    fn ty(&self) -> &'a str {
        self.body
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn prop(&self, name: &str) -> Option<&'a Value> {
        self.body.get("Properties")?.get(name)
    }

    fn at(&self, path: &[&str]) -> Option<&'a Value> {
        path.iter()
            .try_fold(self.body.get("Properties")?, |value, key| value.get(*key))
    }

    fn service_name(&self) -> &'a str {
        self.prop("ServiceName")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{self}: ServiceName must be a literal name"))
    }
}

impl std::fmt::Display for Resource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.id)
    }
}

// ---------------------------------------------------------------------------- policies

#[derive(Debug)]
struct Statement<'a> {
    resource: Resource<'a>,
    body: &'a Value,
}

impl<'a> Statement<'a> {
    fn allows(&self) -> bool {
        self.body.get("Effect").and_then(Value::as_str) == Some("Allow")
    }

    fn actions(&self) -> Vec<&'a str> {
        items(self.body.get("Action"))
            .into_iter()
            .map(|a| {
                a.as_str()
                    .unwrap_or_else(|| panic!("{self}: actions must be literal strings"))
            })
            .collect()
    }

    fn dynamodb_actions(&self) -> Vec<&'a str> {
        self.actions()
            .into_iter()
            .filter(|a| a.to_ascii_lowercase().starts_with("dynamodb:"))
            .collect()
    }
}

impl std::fmt::Display for Statement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sid = self.body.get("Sid").and_then(Value::as_str);
        write!(
            f,
            "{} statement {}",
            self.resource,
            sid.unwrap_or("(no Sid)")
        )
    }
}

fn collect_statements<'a>(resource: Resource<'a>, value: &'a Value, out: &mut Vec<Statement<'a>>) {
    match value {
        Value::Mapping(map) => {
            if let Some(statements) = map.get("Statement") {
                out.extend(
                    items(Some(statements))
                        .into_iter()
                        .map(|body| Statement { resource, body }),
                );
            }
            for child in map.values() {
                collect_statements(resource, child, out);
            }
        }
        Value::Sequence(children) => {
            for child in children {
                collect_statements(resource, child, out);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------- network

/// Ingress rules per (template, security group): inline ones and separate
/// `AWS::EC2::SecurityGroupIngress` resources.
fn ingress_rules(templates: &[Template]) -> BTreeMap<(&str, &str), Vec<&Value>> {
    let mut rules: BTreeMap<(&str, &str), Vec<&Value>> = BTreeMap::new();
    for template in templates {
        for group in template.of_type("AWS::EC2::SecurityGroup") {
            rules
                .entry((template.file.as_str(), group.id))
                .or_default()
                .extend(items(group.prop("SecurityGroupIngress")));
        }
        for rule in template.of_type("AWS::EC2::SecurityGroupIngress") {
            let group = rule.prop("GroupId").and_then(ref_to).unwrap_or_else(|| {
                panic!("{rule}: GroupId must refer to a group in the same template")
            });
            let properties = rule.body.get("Properties").expect("a rule has properties");
            rules
                .entry((template.file.as_str(), group))
                .or_default()
                .push(properties);
        }
    }
    rules
}

// ---------------------------------------------------------------------------- YAML helpers

/// Rewrites `!Ref X` to `{Ref: X}`, `!GetAtt A.B` to `{Fn::GetAtt: [A, B]}` and every other
/// `!Name v` to `{Fn::Name: v}`, recursively.
fn long_form(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = match name {
                "Ref" | "Condition" => name.to_owned(),
                _ => format!("Fn::{name}"),
            };
            let inner = match (key.as_str(), long_form(tagged.value)) {
                ("Fn::GetAtt", Value::String(s)) => match s.split_once('.') {
                    Some((resource, attribute)) => Value::Sequence(vec![
                        Value::String(resource.to_owned()),
                        Value::String(attribute.to_owned()),
                    ]),
                    None => Value::String(s),
                },
                (_, inner) => inner,
            };
            let mut map = Mapping::new();
            map.insert(Value::String(key), inner);
            Value::Mapping(map)
        }
        Value::Sequence(values) => Value::Sequence(values.into_iter().map(long_form).collect()),
        Value::Mapping(map) => Value::Mapping(
            map.into_iter()
                .map(|(key, value)| (key, long_form(value)))
                .collect(),
        ),
        other => other,
    }
}

/// The logical ID a `Ref` or `Fn::GetAtt` points at.
fn ref_to(value: &Value) -> Option<&str> {
    if let Some(target) = value.get("Ref") {
        return target.as_str();
    }
    value.get("Fn::GetAtt")?.get(0)?.as_str()
}

/// Whether `value` refers to resource `id` anywhere inside it.
fn mentions(value: &Value, id: &str) -> bool {
    if ref_to(value) == Some(id) {
        return true;
    }
    match value {
        Value::Mapping(map) => map.values().any(|v| mentions(v, id)),
        Value::Sequence(values) => values.iter().any(|v| mentions(v, id)),
        _ => false,
    }
}

/// A list property as its items; a single value as a list of one; absent as empty.
fn items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Sequence(values)) => values.iter().collect(),
        Some(value) => vec![value],
    }
}

/// A property that must be a literal string; "" when absent, so assertions name it.
fn text(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or_default()
}
