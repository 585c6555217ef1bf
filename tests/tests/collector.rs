//! The telemetry path on AWS, checked end to end on paper: the collector config in the
//! repository (`infra/collector/aws.yaml`), the task definitions that deliver it and point
//! the apps at it (`infra/services.yaml`), the IAM that lets it export, and the alarms and
//! dashboard that read what it sends (`infra/services.yaml`, `infra/monitoring.yaml`)
//! agree with each other. Offline: it reads files only.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use stack_tests::cfn::{
    Container, Template, Value, items, read_infra_file, ref_to, scalar_text, sub_text, text,
};
use stack_tests::metric_reads::{alarm_reads, dashboard_reads};

const CONFIG_FILE: &str = "collector/aws.yaml";
const APPS: [&str; 3] = ["website", "register", "server-listing"];
/// CloudFormation's limit on a parameter value: the config travels as one.
const PARAMETER_VALUE_LIMIT: usize = 4096;
/// The metrics the services export (crates/telemetry, the apps' contract); the collector
/// must send every one of them on.
const APP_METRICS: [&str; 5] = [
    "http.server.request.duration",
    "http.server.requests",
    "http.server.errors",
    "dynamodb.client.operation.duration",
    "dynamodb.client.attempt.errors",
];
/// The dimensions every metric must carry so dashboards and alarms can tell services and
/// environments apart.
const SERVICE_DIMENSIONS: [&str; 2] = ["deployment.environment.name", "service.name"];

/// The IAM actions each exporter calls (the exporters' AWS clients, and X-Ray's rule that
/// its OTLP traces endpoint is authorized as xray:PutTraceSegments).
fn exporter_actions(exporter: &str, config: &Value) -> BTreeSet<&'static str> {
    match exporter.split('/').next().unwrap_or_default() {
        "awsemf" => BTreeSet::from(["logs:CreateLogStream", "logs:PutLogEvents"]),
        "otlp_http" => {
            let authenticator = text(config.get("auth").and_then(|a| a.get("authenticator")));
            assert!(
                authenticator.starts_with("sigv4auth"),
                "{exporter}: an OTLP exporter to AWS must sign its requests (sigv4auth)"
            );
            BTreeSet::from(["xray:PutTraceSegments"])
        }
        other => panic!("{exporter}: no known IAM actions for exporter type {other}"),
    }
}

// ---------------------------------------------------------------------------- the tests

#[test]
fn the_config_file_is_what_every_collector_sidecar_runs() {
    let text = read_infra_file(CONFIG_FILE);
    assert!(
        text.len() <= PARAMETER_VALUE_LIMIT,
        "infra/{CONFIG_FILE} is {} bytes; it is delivered as a CloudFormation parameter, \
         which holds {PARAMETER_VALUE_LIMIT} at most (trim comments, or move delivery to S3)",
        text.len()
    );
    let services = Template::load("services.yaml");
    let parameter = services
        .parameter("CollectorConfig")
        .expect("services.yaml: parameter CollectorConfig");
    assert_eq!(text_of(parameter.get("Type")), "String");
    assert!(
        parameter.get("Default").is_none(),
        "CollectorConfig must have no default: a default would be a second copy of the file"
    );
    assert_eq!(
        parameter.get("MaxLength").and_then(Value::as_u64),
        Some(PARAMETER_VALUE_LIMIT as u64),
        "CollectorConfig: MaxLength should state CloudFormation's limit"
    );

    let collectors = sidecars(&services);
    for collector in &collectors {
        assert_eq!(
            ref_to(collector.env("AOT_CONFIG_CONTENT")),
            Some("CollectorConfig"),
            "{collector}: AOT_CONFIG_CONTENT (which the ADOT image reads its config from, \
             ahead of any --config) must be the CollectorConfig parameter"
        );
        assert!(
            collector.body.get("Command").is_none(),
            "{collector}: no Command: a --config flag would suggest another config is used"
        );
    }
}

#[test]
fn apps_send_otlp_to_the_port_the_collector_listens_on_and_nobody_else_can() {
    let config = collector_config();
    let protocols = config
        .get("receivers")
        .and_then(|r| r.get("otlp"))
        .and_then(|o| o.get("protocols"))
        .expect("an otlp receiver");
    let http = text(protocols.get("http").and_then(|h| h.get("endpoint")));
    let (host, port) = http
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("otlp http endpoint {http:?} must be host:port"));
    assert_eq!(
        host, "127.0.0.1",
        "the OTLP receiver must listen on loopback only (the app in the same task)"
    );
    if let Some(grpc) = protocols.get("grpc") {
        assert!(
            text(grpc.get("endpoint")).starts_with("127.0.0.1:"),
            "a gRPC receiver, if any, must be loopback-only too"
        );
    }

    let services = Template::load("services.yaml");
    for app in APPS {
        let container = app_container(&services, app);
        assert_eq!(
            text(Some(container.env("OTEL_EXPORTER_OTLP_ENDPOINT"))),
            format!("http://{host}:{port}"),
            "{container}: must export to the collector's receiver ({host}:{port})"
        );
        assert_eq!(
            text(Some(container.env("OTEL_EXPORTER_OTLP_PROTOCOL"))),
            "http/protobuf",
            "{container}: the receiver takes OTLP/HTTP"
        );
    }
}

#[test]
fn traces_go_to_the_xray_otlp_endpoint_of_the_stacks_region() {
    let config = collector_config();
    let traces = pipeline(&config, "traces");
    let exporters = list(traces.get("exporters"));
    assert_eq!(exporters.len(), 1, "traces go to X-Ray only: {exporters:?}");
    let exporter = config
        .get("exporters")
        .and_then(|e| e.get(exporters[0]))
        .expect("the traces exporter is configured");
    assert!(exporters[0].starts_with("otlp_http"), "{exporters:?}");
    assert_eq!(
        text(exporter.get("traces_endpoint")),
        "https://xray.${env:AWS_REGION}.amazonaws.com/v1/traces",
        "X-Ray's OTLP traces endpoint, in the task's own Region"
    );
    let authenticator = text(exporter.get("auth").and_then(|a| a.get("authenticator")));
    let sigv4 = config
        .get("extensions")
        .and_then(|e| e.get(authenticator))
        .unwrap_or_else(|| panic!("extension {authenticator} is configured"));
    assert_eq!(text(sigv4.get("region")), "${env:AWS_REGION}");
    assert_eq!(text(sigv4.get("service")), "xray");
    assert!(
        list(config.get("service").and_then(|s| s.get("extensions"))).contains(&authenticator),
        "{authenticator} must be enabled under service.extensions"
    );

    let services = Template::load("services.yaml");
    for collector in sidecars(&services) {
        assert_eq!(
            ref_to(collector.env("AWS_REGION")),
            Some("AWS::Region"),
            "{collector}: AWS_REGION must be the stack's Region"
        );
    }
}

#[test]
fn pipelines_limit_memory_first_and_batch_last() {
    let config = collector_config();
    for name in ["traces", "metrics"] {
        let processors = list(pipeline(&config, name).get("processors"));
        assert_eq!(
            processors.first().copied(),
            Some("memory_limiter"),
            "{name}: memory_limiter must come first"
        );
        assert!(
            processors.last().is_some_and(|p| p.starts_with("batch")),
            "{name}: a batch processor must come last: {processors:?}"
        );
    }
    let limit = config
        .get("processors")
        .and_then(|p| p.get("memory_limiter"))
        .and_then(|m| m.get("limit_mib"))
        .and_then(Value::as_u64)
        .expect("memory_limiter.limit_mib");
    let services = Template::load("services.yaml");
    for collector in sidecars(&services) {
        let hard = collector
            .body
            .get("Memory")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{collector}: a hard Memory limit"));
        assert!(
            limit < hard,
            "{collector}: memory_limiter ({limit} MiB) must refuse data before the container's {hard} MiB limit kills it"
        );
    }
}

#[test]
fn metrics_reach_cloudwatch_per_service_and_environment_with_percentiles() {
    let config = collector_config();
    let metrics = pipeline(&config, "metrics");
    let exporters = list(metrics.get("exporters"));
    assert_eq!(exporters, ["awsemf"], "metrics go to CloudWatch as EMF");
    let processors = list(metrics.get("processors"));
    assert!(
        processors.contains(&"cumulativetodelta"),
        "awsemf sends exponential histograms as it receives them: without cumulativetodelta \
         every minute would carry the counts since the process started"
    );
    let emf = config
        .get("exporters")
        .and_then(|e| e.get("awsemf"))
        .expect("awsemf exporter");
    assert_eq!(
        emf.get("resource_to_telemetry_conversion")
            .and_then(|r| r.get("enabled"))
            .and_then(Value::as_bool),
        Some(true),
        "service.name and deployment.environment.name are resource attributes: they only \
         become dimensions with resource_to_telemetry_conversion"
    );
    assert_eq!(text(emf.get("namespace")), "CuddleKube");
    assert_eq!(
        text(emf.get("dimension_rollup_option")),
        "NoDimensionRollup",
        "roll-ups would add metrics without service or environment (and cost)"
    );

    let declared = metric_declarations(&config);
    for (metric, sets) in &declared {
        for set in sets {
            for dimension in SERVICE_DIMENSIONS {
                assert!(
                    set.contains(dimension),
                    "awsemf: {metric} dimension set {set:?} lacks {dimension}"
                );
            }
        }
    }
    for metric in APP_METRICS {
        assert!(
            declared.contains_key(metric),
            "awsemf: no metric_declaration selects {metric}, so it would never reach CloudWatch"
        );
    }

    let services = Template::load("services.yaml");
    for app in APPS {
        let container = app_container(&services, app);
        assert_eq!(text(Some(container.env("OTEL_SERVICE_NAME"))), app);
        let attributes = sub_text(container.env("OTEL_RESOURCE_ATTRIBUTES"))
            .unwrap_or_else(|| panic!("{container}: OTEL_RESOURCE_ATTRIBUTES as text"));
        assert!(
            attributes
                .split(',')
                .any(|kv| kv == "deployment.environment.name=${EnvironmentName}"),
            "{container}: OTEL_RESOURCE_ATTRIBUTES must set deployment.environment.name to the environment: {attributes}"
        );
    }
}

#[test]
fn emf_metrics_go_to_this_environments_own_log_group() {
    let config = collector_config();
    let emf = config
        .get("exporters")
        .and_then(|e| e.get("awsemf"))
        .expect("awsemf");
    assert_eq!(text(emf.get("log_group_name")), "${env:EMF_LOG_GROUP}");
    assert_eq!(text(emf.get("region")), "${env:AWS_REGION}");

    let services = Template::load("services.yaml");
    let group = services.expect_resource("EmfLogGroup");
    assert!(
        group.body.get("Condition").is_none(),
        "{group}: every environment creates its own"
    );
    let name = sub_text(group.prop("LogGroupName").expect("a name")).expect("a name");
    assert!(
        name.contains("${EnvironmentName}"),
        "{group}: {name} must be per environment, so one teardown never stops another's metrics"
    );
    for collector in sidecars(&services) {
        assert_eq!(ref_to(collector.env("EMF_LOG_GROUP")), Some("EmfLogGroup"));
    }
}

#[test]
fn sampling_keeps_errors_slow_traces_and_one_shared_fraction() {
    let config = collector_config();
    let traces = pipeline(&config, "traces");
    let processors = list(traces.get("processors"));
    assert!(processors.contains(&"tail_sampling"), "{processors:?}");
    assert!(
        !processors
            .iter()
            .any(|p| p.starts_with("probabilistic_sampler")),
        "one sampler only: the fraction lives in tail_sampling"
    );
    let policies: BTreeMap<&str, &Value> = items(
        config
            .get("processors")
            .and_then(|p| p.get("tail_sampling"))
            .and_then(|t| t.get("policies")),
    )
    .into_iter()
    .map(|policy| (text(policy.get("type")), policy))
    .collect();
    assert_eq!(
        policies.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from(["latency", "probabilistic", "status_code"]),
        "tail_sampling: errors, slow traces and a fraction, each kept on its own (policies OR)"
    );
    assert_eq!(
        list(
            policies["status_code"]
                .get("status_code")
                .and_then(|s| s.get("status_codes"))
        ),
        ["ERROR"]
    );
    assert_eq!(
        text(
            policies["latency"]
                .get("latency")
                .and_then(|l| l.get("threshold_ms"))
        ),
        "${env:SLOW_TRACE_THRESHOLD_MS}"
    );
    let probabilistic = policies["probabilistic"]
        .get("probabilistic")
        .expect("probabilistic settings");
    assert_eq!(
        text(probabilistic.get("sampling_percentage")),
        "${env:TRACE_SAMPLE_PERCENT}"
    );
    assert!(
        !text(probabilistic.get("hash_salt")).is_empty()
            && !text(probabilistic.get("hash_salt")).contains("${"),
        "the hash salt must be one fixed value, so every service's collector keeps the same trace IDs"
    );

    let services = Template::load("services.yaml");
    assert_eq!(
        services.parameter_default("TraceSamplePercent").as_deref(),
        Some("5")
    );
    for collector in sidecars(&services) {
        assert_eq!(
            ref_to(collector.env("TRACE_SAMPLE_PERCENT")),
            Some("TraceSamplePercent")
        );
        assert_eq!(
            ref_to(collector.env("SLOW_TRACE_THRESHOLD_MS")),
            Some("SlowTraceThresholdMs")
        );
    }
    for app in APPS {
        let container = app_container(&services, app);
        for variable in container.environment().keys() {
            assert!(
                !variable.starts_with("OTEL_TRACES_SAMPLER"),
                "{container}: {variable} - the apps record every request; the collector samples"
            );
        }
    }
    let monitoring = Template::load("monitoring.yaml");
    assert!(
        monitoring.of_type("AWS::XRay::SamplingRule").is_empty()
            && monitoring.parameter("TraceSampleRate").is_none(),
        "X-Ray sampling rules and TraceSampleRate decide nothing any more"
    );
}

#[test]
fn every_variable_the_config_reads_is_set_on_every_sidecar_and_none_is_left_over() {
    let config = collector_config();
    let mut values = Vec::new();
    strings(&config, &mut values);
    let pattern = Regex::new(r"\$\{env:([A-Z0-9_]+)\}").expect("a valid pattern");
    let reads: BTreeSet<&str> = values
        .iter()
        .flat_map(|v| pattern.captures_iter(v))
        .map(|c| c.get(1).expect("a name").as_str())
        .collect();
    let services = Template::load("services.yaml");
    for collector in sidecars(&services) {
        let set: BTreeSet<&str> = collector
            .environment()
            .into_keys()
            .filter(|name| *name != "AOT_CONFIG_CONTENT")
            .collect();
        assert_eq!(
            set, reads,
            "{collector}: its environment must be exactly the ${{env:...}} names infra/{CONFIG_FILE} reads"
        );
    }
}

#[test]
fn the_collector_may_call_exactly_what_its_exporters_call() {
    let config = collector_config();
    let mut needed = BTreeSet::new();
    for name in ["traces", "metrics"] {
        for exporter in list(pipeline(&config, name).get("exporters")) {
            let settings = config
                .get("exporters")
                .and_then(|e| e.get(exporter))
                .expect("a configured exporter");
            needed.extend(exporter_actions(exporter, settings));
        }
    }

    let services = Template::load("services.yaml");
    let policy = services.expect_resource("TelemetryPolicy");
    let statements = services
        .statements()
        .into_iter()
        .filter(|s| s.resource.id == policy.id)
        .collect::<Vec<_>>();
    let granted: BTreeSet<&str> = statements
        .iter()
        .filter(|s| s.allows())
        .flat_map(|s| s.actions())
        .collect();
    assert_eq!(
        granted, needed,
        "{policy}: grants must be exactly the exporters' calls"
    );
    for statement in &statements {
        let resources = items(statement.body.get("Resource"));
        if statement.actions().iter().all(|a| a.starts_with("logs:")) {
            assert_eq!(
                resources.iter().map(|r| ref_to(r)).collect::<Vec<_>>(),
                [Some("EmfLogGroup")],
                "{statement}: logs actions on the EMF log group only"
            );
        } else {
            assert_eq!(
                resources.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                [Some("*")],
                "{statement}: X-Ray's PutTraceSegments has no resource-level permissions"
            );
        }
    }
    let roles: BTreeSet<&str> = items(policy.prop("Roles"))
        .into_iter()
        .filter_map(ref_to)
        .collect();
    let task_roles: BTreeSet<&str> = services
        .of_type("AWS::ECS::TaskDefinition")
        .iter()
        .filter_map(|td| td.prop("TaskRoleArn").and_then(ref_to))
        .collect();
    assert_eq!(
        roles, task_roles,
        "{policy}: every task role (its sidecar exports with it), and only those"
    );
}

#[test]
fn the_sidecar_health_check_probes_the_configured_endpoint() {
    let config = collector_config();
    let endpoint = text(
        config
            .get("extensions")
            .and_then(|e| e.get("health_check"))
            .and_then(|h| h.get("endpoint")),
    );
    assert_eq!(
        endpoint, "127.0.0.1:13133",
        "the ADOT image's /healthcheck probes 127.0.0.1:13133"
    );
    assert!(
        list(config.get("service").and_then(|s| s.get("extensions"))).contains(&"health_check")
    );
    for collector in sidecars(&Template::load("services.yaml")) {
        assert_eq!(
            list(
                collector
                    .body
                    .get("HealthCheck")
                    .and_then(|h| h.get("Command"))
            ),
            ["CMD", "/healthcheck"],
            "{collector}"
        );
    }
}

#[test]
fn alarms_and_the_dashboard_read_metrics_in_the_shape_the_collector_sends() {
    let config = collector_config();
    let declared = metric_declarations(&config);
    let alarms = alarm_reads();
    let dashboard = dashboard_reads();
    for read in alarms.iter().chain(&dashboard) {
        let dimensions: BTreeSet<&str> = read.dimensions.iter().map(String::as_str).collect();
        assert!(
            declared
                .get(read.metric.as_str())
                .is_some_and(|sets| sets.contains(&dimensions)),
            "{}: reads {} by {dimensions:?}, a dimension set the collector does not send ({:?})",
            read.reader,
            read.metric,
            declared.get(read.metric.as_str())
        );
    }
    assert!(
        alarms.len() >= 20,
        "only {} alarm metrics read CuddleKube; are the SLO alarms still there?",
        alarms.len()
    );
    assert!(
        dashboard.len() >= 6,
        "dashboard: only {} by-service graphs read CuddleKube",
        dashboard.len()
    );
    let p99 = dashboard
        .iter()
        .filter(|r| r.metric == "http.server.request.duration" && r.stat.as_deref() == Some("p99"))
        .count();
    assert_eq!(
        p99, 1,
        "dashboard: one p99-by-service graph of http.server.request.duration"
    );
}

// ---------------------------------------------------------------------------- helpers

fn collector_config() -> Value {
    serde_norway::from_str(&read_infra_file(CONFIG_FILE))
        .unwrap_or_else(|e| panic!("infra/{CONFIG_FILE} is not YAML: {e}"))
}

/// Every string value in the config (comments are not values).
fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Sequence(values) => values.iter().for_each(|v| strings(v, out)),
        Value::Mapping(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fn pipeline<'a>(config: &'a Value, name: &str) -> &'a Value {
    config
        .get("service")
        .and_then(|s| s.get("pipelines"))
        .and_then(|p| p.get(name))
        .unwrap_or_else(|| panic!("infra/{CONFIG_FILE}: no {name} pipeline"))
}

/// A YAML list of strings.
fn list(value: Option<&Value>) -> Vec<&str> {
    items(value).into_iter().map(|v| text(Some(v))).collect()
}

fn text_of(value: Option<&Value>) -> String {
    value.and_then(scalar_text).unwrap_or_default()
}

/// Per metric the contract names: the dimension sets awsemf's declarations give it.
fn metric_declarations(config: &Value) -> BTreeMap<&'static str, Vec<BTreeSet<&str>>> {
    let declarations = items(
        config
            .get("exporters")
            .and_then(|e| e.get("awsemf"))
            .and_then(|a| a.get("metric_declarations")),
    );
    let mut out: BTreeMap<&'static str, Vec<BTreeSet<&str>>> = BTreeMap::new();
    for declaration in declarations {
        let selectors: Vec<Regex> = list(declaration.get("metric_name_selectors"))
            .into_iter()
            .map(|s| Regex::new(s).unwrap_or_else(|e| panic!("selector {s:?}: {e}")))
            .collect();
        let sets: Vec<BTreeSet<&str>> = items(declaration.get("dimensions"))
            .into_iter()
            .map(|set| list(Some(set)).into_iter().collect())
            .collect();
        for metric in APP_METRICS {
            if selectors.iter().any(|s| s.is_match(metric)) {
                out.entry(metric).or_default().extend(sets.iter().cloned());
            }
        }
    }
    out
}

/// The `otel-collector` container of each task definition.
fn sidecars(services: &Template) -> Vec<Container<'_>> {
    let collectors = services.containers_named("otel-collector");
    assert_eq!(
        collectors.len(),
        APPS.len(),
        "services.yaml: one collector sidecar per service"
    );
    collectors
}

fn app_container<'a>(services: &'a Template, app: &str) -> Container<'a> {
    let found = services.containers_named(app);
    assert_eq!(found.len(), 1, "services.yaml: one {app} container");
    found[0]
}
