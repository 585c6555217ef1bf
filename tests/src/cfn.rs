//! A small CloudFormation reader for the template tests (`tests/tests/stack/infra/`,
//! `tests/tests/stack/collector.rs`): the templates in `infra/` parsed from YAML, short tags
//! (`!Ref`, `!GetAtt`, `!Sub`, ...) rewritten to their long forms so a check sees one shape
//! only, and helpers for what the checks ask of them (resources by type, references,
//! policy statements, security group ingress, parameters, imports and exports).
//! Offline: it reads files and talks to no AWS account.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use serde_norway::{Mapping, Value};

/// The repository's `infra/` directory.
pub fn infra_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra")
}

/// A file under `infra/` as text (the collector config, parameter files, the README).
pub fn read_infra_file(relative: &str) -> String {
    let path = infra_dir().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read infra/{relative} ({}): {e}", path.display()))
}

/// One parsed template.
#[derive(Debug)]
pub struct Template {
    pub file: String,
    pub body: Value,
}

impl Template {
    pub fn load(file: &str) -> Self {
        let text = read_infra_file(file);
        let raw: Value =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
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

    pub fn resources(&self) -> impl Iterator<Item = Resource<'_>> {
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

    pub fn resource(&self, id: &str) -> Option<Resource<'_>> {
        self.resources().find(|r| r.id == id)
    }

    /// The resource `id`, which the calling check requires to exist.
    pub fn expect_resource(&self, id: &str) -> Resource<'_> {
        self.resource(id)
            .unwrap_or_else(|| panic!("{}: no resource {id}", self.file))
    }

    pub fn of_type(&self, ty: &str) -> Vec<Resource<'_>> {
        self.resources().filter(|r| r.ty() == ty).collect()
    }

    /// The resource that `property` of `resource` refers to (`Ref` or `Fn::GetAtt`).
    pub fn referenced(&self, resource: Resource<'_>, property: &str) -> Resource<'_> {
        let id = resource
            .prop(property)
            .and_then(ref_to)
            .unwrap_or_else(|| panic!("{resource}: {property} must refer to a resource here"));
        self.resource(id)
            .unwrap_or_else(|| panic!("{resource}: {property} refers to missing {id}"))
    }

    /// Entry `name` of a top-level section (`Conditions`, `Rules`, ...); panics naming it
    /// when missing.
    pub fn declared(&self, section: &str, name: &str) -> &Value {
        self.body
            .get(section)
            .and_then(|entries| entries.get(name))
            .unwrap_or_else(|| panic!("{}: {section}.{name} is missing", self.file))
    }

    /// The declaration of parameter `name` (its `Type`, `Default`, `AllowedValues`, ...).
    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.body.get("Parameters")?.get(name)
    }

    pub fn parameter_names(&self) -> BTreeSet<&str> {
        self.body
            .get("Parameters")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(name, _)| name.as_str())
            .collect()
    }

    /// A parameter's default as text (numbers included), if it has one.
    pub fn parameter_default(&self, name: &str) -> Option<String> {
        scalar_text(self.parameter(name)?.get("Default")?)
    }

    /// Every policy statement anywhere in the template: IAM roles and policies, trust
    /// policies, key policies, VPC endpoint policies.
    pub fn statements(&self) -> Vec<Statement<'_>> {
        let mut out = Vec::new();
        for resource in self.resources() {
            collect_statements(resource, resource.body, &mut out);
        }
        out
    }

    /// What a role may do: its inline policies plus the template's managed and inline
    /// policies attached to it (its trust policy grants nothing to it, so it is left out).
    pub fn statements_granted_to(&self, role_id: &str) -> Vec<Statement<'_>> {
        let mut out = Vec::new();
        let role = self.expect_resource(role_id);
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

    /// The names this template imports (`Fn::ImportValue`), as written: a `Fn::Sub`
    /// string such as `cuddlekube-${EnvironmentName}-VpcId`, or a literal.
    pub fn imports(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        collect_imports(&self.body, &mut out);
        out
    }

    /// The names this template exports, as written (see [`Template::imports`]).
    pub fn exports(&self) -> BTreeSet<String> {
        self.body
            .get("Outputs")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(_, output)| output.get("Export")?.get("Name"))
            .map(|name| sub_text(name).unwrap_or_else(|| panic!("{}: export {name:?}", self.file)))
            .collect()
    }
}

/// Every `*.yaml` file in `infra/` (not its subfolders): the templates CI lints.
pub fn all_templates() -> Vec<Template> {
    let dir = infra_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
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
pub struct Resource<'a> {
    pub file: &'a str,
    pub id: &'a str,
    pub body: &'a Value,
}

impl<'a> Resource<'a> {
    pub fn ty(&self) -> &'a str {
        self.body
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn prop(&self, name: &str) -> Option<&'a Value> {
        self.body.get("Properties")?.get(name)
    }

    pub fn at(&self, path: &[&str]) -> Option<&'a Value> {
        path.iter()
            .try_fold(self.body.get("Properties")?, |value, key| value.get(*key))
    }

    pub fn service_name(&self) -> &'a str {
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
pub struct Statement<'a> {
    pub resource: Resource<'a>,
    pub body: &'a Value,
}

impl<'a> Statement<'a> {
    pub fn allows(&self) -> bool {
        self.body.get("Effect").and_then(Value::as_str) == Some("Allow")
    }

    pub fn actions(&self) -> Vec<&'a str> {
        items(self.body.get("Action"))
            .into_iter()
            .map(|a| {
                a.as_str()
                    .unwrap_or_else(|| panic!("{self}: actions must be literal strings"))
            })
            .collect()
    }

    pub fn dynamodb_actions(&self) -> Vec<&'a str> {
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
pub fn ingress_rules(templates: &[Template]) -> BTreeMap<(&str, &str), Vec<&Value>> {
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
pub fn long_form(value: Value) -> Value {
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
pub fn ref_to(value: &Value) -> Option<&str> {
    if let Some(target) = value.get("Ref") {
        return target.as_str();
    }
    value.get("Fn::GetAtt")?.get(0)?.as_str()
}

/// Whether `value` refers to resource (or parameter) `id` anywhere inside it: by `Ref`,
/// `Fn::GetAtt` or a `${id}` / `${id.Attribute}` inside a `Fn::Sub` string.
pub fn mentions(value: &Value, id: &str) -> bool {
    if ref_to(value) == Some(id) {
        return true;
    }
    if let Some(sub) = value.get("Fn::Sub") {
        let text = match sub {
            Value::Sequence(parts) => parts.first().and_then(Value::as_str),
            other => other.as_str(),
        };
        if text.is_some_and(|t| sub_mentions(t, id)) {
            return true;
        }
    }
    match value {
        Value::Mapping(map) => map.values().any(|v| mentions(v, id)),
        Value::Sequence(values) => values.iter().any(|v| mentions(v, id)),
        _ => false,
    }
}

/// Whether a `Fn::Sub` string names `id` as `${id}` or `${id.Something}`.
fn sub_mentions(text: &str, id: &str) -> bool {
    text.match_indices("${").any(|(at, _)| {
        let rest = &text[at + 2..];
        let name = rest.split('}').next().unwrap_or_default();
        name == id || name.split_once('.').is_some_and(|(r, _)| r == id)
    })
}

/// The string inside a literal or a one-argument `Fn::Sub` (`${...}` left as written).
pub fn sub_text(value: &Value) -> Option<String> {
    if let Some(text) = value.as_str() {
        return Some(text.to_owned());
    }
    value.get("Fn::Sub")?.as_str().map(str::to_owned)
}

fn collect_imports(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Mapping(map) => {
            if let Some(name) = map.get("Fn::ImportValue") {
                out.insert(sub_text(name).unwrap_or_else(|| {
                    panic!("Fn::ImportValue must take a literal or a Fn::Sub string: {name:?}")
                }));
            }
            for child in map.values() {
                collect_imports(child, out);
            }
        }
        Value::Sequence(children) => {
            for child in children {
                collect_imports(child, out);
            }
        }
        _ => {}
    }
}

/// A list property as its items; a single value as a list of one; absent as empty.
pub fn items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Sequence(values)) => values.iter().collect(),
        Some(value) => vec![value],
    }
}

/// A property that must be a literal string; "" when absent, so assertions name it.
pub fn text(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or_default()
}

/// A scalar (string, number or boolean) as text.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------- containers

/// One container of a task definition, with the task definition it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    pub task_definition: Resource<'a>,
    pub body: &'a Value,
}

impl<'a> Container<'a> {
    pub fn name(&self) -> &'a str {
        text(self.body.get("Name"))
    }

    /// Its `Environment` as name -> value (a literal, `Ref`, `Fn::Sub`, ...).
    pub fn environment(&self) -> BTreeMap<&'a str, &'a Value> {
        items(self.body.get("Environment"))
            .into_iter()
            .map(|pair| (text(pair.get("Name")), pair.get("Value").expect("a value")))
            .collect()
    }

    /// One environment variable, which the calling check requires to be set.
    pub fn env(&self, name: &str) -> &'a Value {
        self.environment()
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("{self}: no environment variable {name}"))
    }
}

impl std::fmt::Display for Container<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} container {}", self.task_definition, self.name())
    }
}

impl Template {
    /// Every container of every task definition in the template.
    pub fn containers(&self) -> Vec<Container<'_>> {
        self.of_type("AWS::ECS::TaskDefinition")
            .into_iter()
            .flat_map(|task_definition| {
                items(task_definition.prop("ContainerDefinitions"))
                    .into_iter()
                    .map(move |body| Container {
                        task_definition,
                        body,
                    })
            })
            .collect()
    }

    /// The containers named `name`, one per task definition that has one.
    pub fn containers_named(&self, name: &str) -> Vec<Container<'_>> {
        self.containers()
            .into_iter()
            .filter(|c| c.name() == name)
            .collect()
    }
}
