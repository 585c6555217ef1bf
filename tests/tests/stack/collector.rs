//! The telemetry path on AWS, checked end to end on paper: the two collector configs in
//! the repository (`infra/collector/sidecar.yaml`, every task's sidecar, and
//! `infra/collector/gateway.yaml`, the trace gateway), the task definitions that deliver
//! them and point the apps at the sidecars and the sidecars at the gateway
//! (`infra/services.yaml`, with the gateway's Cloud Map name), the IAM that lets each
//! export, and the alarms and dashboard that read what each sends
//! (`infra/services.yaml`, `infra/monitoring.yaml`) agree with each other. Offline: it
//! reads files only.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use regex::Regex;
use stack_tests::cfn::{
    Container, Statement, Template, Value, items, read_infra_file, ref_to, scalar_text, sub_text,
    text,
};
use stack_tests::metric_reads::{
    GATEWAY_SERVICE_NAME, MetricRead, Writer, alarm_reads, dashboard_reads,
};

const SIDECAR_CONFIG: &str = "collector/sidecar.yaml";
const GATEWAY_CONFIG: &str = "collector/gateway.yaml";
const APPS: [&str; 3] = ["website", "register", "server-listing"];
/// The trace gateway's container (one per gateway task).
const GATEWAY_CONTAINER: &str = "trace-gateway";
/// CloudFormation's limit on a parameter value: each config travels as one.
const PARAMETER_VALUE_LIMIT: usize = 4096;
/// The metrics the services export (crates/telemetry, the apps' contract); the sidecar
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
/// The longest a request runs (service_kit's timeout) plus the SDK's batch delay before
/// its spans leave the app: the least the gateway must wait for a trace's last span,
/// before the sidecar's own batch is added.
const REQUEST_AND_APP_EXPORT: Duration = Duration::from_secs(10 + 5);

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
        // OTLP to the gateways inside the VPC: no AWS call, nothing to sign.
        "loadbalancing" => {
            assert!(
                config.get("protocol").and_then(|p| p.get("otlp")).is_some()
                    && config
                        .get("protocol")
                        .and_then(|p| p.get("otlp"))
                        .and_then(|o| o.get("auth"))
                        .is_none(),
                "{exporter}: plain OTLP to the gateways, unsigned"
            );
            BTreeSet::new()
        }
        other => panic!("{exporter}: no known IAM actions for exporter type {other}"),
    }
}

// ---------------------------------------------------------------------------- the tests

#[test]
fn each_config_file_is_what_its_collectors_run() {
    let services = Template::load("services.yaml");
    for (file, parameter_name, collectors) in [
        (SIDECAR_CONFIG, "CollectorConfig", sidecars(&services)),
        (GATEWAY_CONFIG, "GatewayConfig", vec![gateway(&services)]),
    ] {
        let text = read_infra_file(file);
        assert!(
            text.len() <= PARAMETER_VALUE_LIMIT,
            "infra/{file} is {} bytes; it is delivered as a CloudFormation parameter, \
             which holds {PARAMETER_VALUE_LIMIT} at most (trim comments, or move delivery to S3)",
            text.len()
        );
        let parameter = services
            .parameter(parameter_name)
            .unwrap_or_else(|| panic!("services.yaml: parameter {parameter_name}"));
        assert_eq!(text_of(parameter.get("Type")), "String");
        assert!(
            parameter.get("Default").is_none(),
            "{parameter_name} must have no default: a default would be a second copy of infra/{file}"
        );
        assert_eq!(
            parameter.get("MaxLength").and_then(Value::as_u64),
            Some(PARAMETER_VALUE_LIMIT as u64),
            "{parameter_name}: MaxLength should state CloudFormation's limit"
        );
        assert!(
            text_of(parameter.get("Description")).contains(&format!("infra/{file}")),
            "{parameter_name}: the description names the file it must be"
        );
        for collector in &collectors {
            assert_eq!(
                ref_to(collector.env("AOT_CONFIG_CONTENT")),
                Some(parameter_name),
                "{collector}: AOT_CONFIG_CONTENT (which the ADOT image reads its config from, \
                 ahead of any --config) must be the {parameter_name} parameter"
            );
            assert!(
                collector.body.get("Command").is_none(),
                "{collector}: no Command: a --config flag would suggest another config is used"
            );
        }
    }
    let images: Vec<&Value> = sidecars(&services)
        .into_iter()
        .chain([gateway(&services)])
        .map(|c| c.body.get("Image").expect("a collector has an image"))
        .collect();
    let image = images[0];
    assert!(
        images.iter().all(|other| *other == image),
        "sidecars and gateway run the one pinned collector image: {images:?}"
    );
    // Empty CollectorImage (the default): this account's mirror, at CollectorVersion,
    // which an `endpoints` environment reaches (ECR Public it does not).
    let choice = image
        .get("Fn::If")
        .unwrap_or_else(|| panic!("the image is chosen by MirroredCollector: {image:?}"));
    assert_eq!(text(choice.get(0)), "MirroredCollector", "{image:?}");
    assert_eq!(
        sub_text(&choice[1]).as_deref(),
        Some(
            "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${RepositoryPrefix}/aws-otel-collector:${CollectorVersion}"
        ),
        "{image:?}"
    );
    assert_eq!(ref_to(&choice[2]), Some("CollectorImage"), "{image:?}");
    assert_eq!(
        services.parameter_default("CollectorImage").as_deref(),
        Some(""),
        "the default collector is the mirror every egress mode reaches"
    );
}

#[test]
fn apps_send_otlp_to_the_port_the_sidecar_listens_on_and_nobody_else_can() {
    let config = sidecar_config();
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
        "the sidecar's OTLP receiver must listen on loopback only (the app in the same task)"
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
            "{container}: must export to the sidecar's receiver ({host}:{port})"
        );
        assert_eq!(
            text(Some(container.env("OTEL_EXPORTER_OTLP_PROTOCOL"))),
            "http/protobuf",
            "{container}: the receiver takes OTLP/HTTP"
        );
    }
}

/// The whole point of the gateway tier: every span of a trace reaches the same gateway,
/// whichever task's sidecar sent it, so the sampling decision sees the whole trace.
#[test]
fn sidecars_route_every_span_of_a_trace_to_one_gateway_by_its_cloud_map_name() {
    let sidecar = sidecar_config();
    let gateway_config = gateway_config();
    let exporters = list(pipeline(&sidecar, SIDECAR_CONFIG, "traces").get("exporters"));
    assert_eq!(
        exporters,
        ["loadbalancing"],
        "the sidecar's spans go to the gateways only, routed by trace ID"
    );
    let balancer = exporter(&sidecar, "loadbalancing");
    assert_eq!(text(balancer.get("routing_key")), "traceID");
    let resolver = balancer.get("resolver").expect("a resolver");
    assert_eq!(
        resolver
            .as_mapping()
            .map(|m| m.keys().filter_map(Value::as_str).collect::<Vec<_>>()),
        Some(vec!["dns"]),
        "resolved by DNS (Cloud Map's private namespace): no IAM, no Cloud Map API endpoint"
    );
    let dns = resolver.get("dns").expect("dns");
    assert_eq!(text(dns.get("hostname")), "${env:GATEWAY_HOSTNAME}");

    let grpc = text(
        gateway_config
            .get("receivers")
            .and_then(|r| r.get("otlp"))
            .and_then(|o| o.get("protocols"))
            .and_then(|p| p.get("grpc"))
            .and_then(|g| g.get("endpoint")),
    );
    let (host, port) = grpc
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("the gateway's gRPC endpoint {grpc:?} must be host:port"));
    assert_eq!(
        host, "0.0.0.0",
        "the gateway listens on its task's address (the security group decides who reaches it)"
    );
    assert_eq!(
        dns.get("port").and_then(scalar_text).as_deref(),
        Some(port),
        "the sidecars send to the port the gateway's gRPC receiver listens on"
    );

    let services = Template::load("services.yaml");
    let gateway = gateway(&services);
    let mapped: Vec<String> = items(gateway.body.get("PortMappings"))
        .into_iter()
        .filter_map(|m| m.get("ContainerPort").and_then(scalar_text))
        .collect();
    assert_eq!(
        mapped,
        [port],
        "{gateway}: its one port is the OTLP gRPC receiver's"
    );

    // The name: the discovery service's in the private DNS namespace, which the gateway
    // service registers its tasks in.
    let service = services.expect_resource("GatewayService");
    let registries = items(service.prop("ServiceRegistries"));
    assert_eq!(registries.len(), 1, "{service}: one Cloud Map registry");
    let discovery = services
        .resource(ref_to(registries[0].get("RegistryArn").expect("an ARN")).expect("a reference"))
        .expect("the discovery service");
    assert_eq!(discovery.ty(), "AWS::ServiceDiscovery::Service");
    let namespace = services.referenced(discovery, "NamespaceId");
    assert_eq!(
        namespace.ty(),
        "AWS::ServiceDiscovery::PrivateDnsNamespace",
        "{namespace}: a private DNS namespace, which the VPC's resolver answers"
    );
    let vpc = serde_json::to_string(namespace.prop("Vpc").expect("a VPC")).expect("json");
    assert!(
        vpc.contains("-VpcId"),
        "{namespace}: in this environment's VPC: {vpc}"
    );
    let dns_config = discovery.prop("DnsConfig").expect("DnsConfig");
    assert_eq!(
        text(dns_config.get("RoutingPolicy")),
        "MULTIVALUE",
        "{discovery}: every gateway's address in one answer (the ring needs them all)"
    );
    for record in items(dns_config.get("DnsRecords")) {
        assert_eq!(
            text(record.get("Type")),
            "A",
            "{discovery}: the tasks' addresses"
        );
        let ttl = record.get("TTL").and_then(Value::as_u64).expect("a TTL");
        assert!(
            ttl <= 10,
            "{discovery}: TTL {ttl} s; a gateway that left stays on the sidecars' rings that long"
        );
    }
    assert!(
        discovery.prop("HealthCheckCustomConfig").is_some(),
        "{discovery}: ECS reports the tasks' health (Route 53 cannot check private addresses)"
    );
    let hostname = format!(
        "{}.{}",
        text(discovery.prop("Name")),
        sub_text(namespace.prop("Name").expect("a name")).expect("a name")
    );
    for collector in sidecars(&services) {
        assert_eq!(
            sub_text(collector.env("GATEWAY_HOSTNAME")).as_deref(),
            Some(hostname.as_str()),
            "{collector}: GATEWAY_HOSTNAME must be the gateway's Cloud Map name"
        );
    }
}

#[test]
fn only_the_gateway_writes_traces_to_the_xray_otlp_endpoint_of_the_stacks_region() {
    let config = gateway_config();
    let exporters = list(pipeline(&config, GATEWAY_CONFIG, "traces").get("exporters"));
    assert_eq!(exporters.len(), 1, "traces go to X-Ray only: {exporters:?}");
    assert!(exporters[0].starts_with("otlp_http"), "{exporters:?}");
    let xray = exporter(&config, exporters[0]);
    assert_eq!(
        text(xray.get("traces_endpoint")),
        "https://xray.${env:AWS_REGION}.amazonaws.com/v1/traces",
        "X-Ray's OTLP traces endpoint, in the task's own Region"
    );
    let authenticator = text(xray.get("auth").and_then(|a| a.get("authenticator")));
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

    let sidecar = sidecar_config();
    let sidecar_exporters: Vec<&str> = section_names(&sidecar, "exporters");
    assert!(
        !sidecar_exporters.iter().any(|e| e.starts_with("otlp_http"))
            && sidecar
                .get("extensions")
                .and_then(|e| e.get("sigv4auth"))
                .is_none(),
        "a sidecar sends no span to X-Ray itself (it would be a fragment): {sidecar_exporters:?}"
    );

    let services = Template::load("services.yaml");
    for collector in sidecars(&services).into_iter().chain([gateway(&services)]) {
        assert_eq!(
            ref_to(collector.env("AWS_REGION")),
            Some("AWS::Region"),
            "{collector}: AWS_REGION must be the stack's Region"
        );
    }
}

#[test]
fn pipelines_limit_memory_first_and_batch_last() {
    for (file, config) in [
        (SIDECAR_CONFIG, sidecar_config()),
        (GATEWAY_CONFIG, gateway_config()),
    ] {
        for name in ["traces", "metrics"] {
            let processors = list(pipeline(&config, file, name).get("processors"));
            assert_eq!(
                processors.first().copied(),
                Some("memory_limiter"),
                "{file} {name}: memory_limiter must come first"
            );
            assert!(
                processors.last().is_some_and(|p| p.starts_with("batch")),
                "{file} {name}: a batch processor must come last: {processors:?}"
            );
        }
    }

    let services = Template::load("services.yaml");
    let limiter = |config: &Value, key: &str| {
        config
            .get("processors")
            .and_then(|p| p.get("memory_limiter"))
            .and_then(|m| m.get(key))
            .and_then(Value::as_u64)
    };
    let sidecar = sidecar_config();
    let limit = limiter(&sidecar, "limit_mib").expect("the sidecar's memory_limiter.limit_mib");
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

    // The gateway's limit is a share of its cgroup's limit, which is the container's hard
    // Memory: without one the collector would read the Fargate host's memory instead.
    let gateway_config = gateway_config();
    let percent = limiter(&gateway_config, "limit_percentage")
        .expect("the gateway's memory_limiter.limit_percentage");
    let spike = limiter(&gateway_config, "spike_limit_percentage").unwrap_or_default();
    assert!(
        percent < 100 && spike < percent,
        "the gateway must refuse spans below its container's limit: {percent} %, spike {spike} %"
    );
    let gateway = gateway(&services);
    assert_eq!(
        gateway.body.get("Memory").and_then(ref_to),
        Some("GatewayTaskMemory"),
        "{gateway}: the hard limit (what memory_limiter's percentages are of) is the task's memory"
    );
}

#[test]
fn metrics_reach_cloudwatch_per_service_and_environment_with_percentiles() {
    let config = sidecar_config();
    let metrics = pipeline(&config, SIDECAR_CONFIG, "metrics");
    let exporters = list(metrics.get("exporters"));
    assert_eq!(exporters, ["awsemf"], "metrics go to CloudWatch as EMF");
    let processors = list(metrics.get("processors"));
    assert!(
        processors.contains(&"cumulativetodelta"),
        "awsemf sends exponential histograms as it receives them: without cumulativetodelta \
         every minute would carry the counts since the process started"
    );
    check_emf_shape(&config, SIDECAR_CONFIG);
    for metric in APP_METRICS {
        assert!(
            !declared_sets(&config, metric).is_empty(),
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

/// The gateway's alarms and widgets read its own collector metrics: the collector must
/// push them to itself and send them on as EMF, named like the services' metrics.
#[test]
fn the_gateway_reports_its_own_health_as_trace_gateway_in_its_environment() {
    let config = gateway_config();
    let telemetry = config
        .get("service")
        .and_then(|s| s.get("telemetry"))
        .expect("service.telemetry");
    let resource = resource_attributes(
        telemetry
            .get("resource")
            .expect("service.telemetry.resource"),
    );
    assert_eq!(
        resource.get("service.name").copied(),
        Some(GATEWAY_SERVICE_NAME),
        "the gateway's metrics are told apart by service.name"
    );
    assert_eq!(
        resource.get("deployment.environment.name").copied(),
        Some("${env:DEPLOYMENT_ENVIRONMENT}")
    );
    let http = text(
        config
            .get("receivers")
            .and_then(|r| r.get("otlp"))
            .and_then(|o| o.get("protocols"))
            .and_then(|p| p.get("http"))
            .and_then(|h| h.get("endpoint")),
    );
    assert!(
        http.starts_with("127.0.0.1:"),
        "the gateway's OTLP/HTTP receiver takes its own metrics only: {http:?}"
    );
    let readers = items(telemetry.get("metrics").and_then(|m| m.get("readers")));
    assert_eq!(readers.len(), 1, "one reader: pushed to itself");
    let otlp = readers[0]
        .get("periodic")
        .and_then(|p| p.get("exporter"))
        .and_then(|e| e.get("otlp"))
        .expect("a periodic OTLP reader");
    assert_eq!(text(otlp.get("endpoint")), format!("http://{http}"));
    assert_eq!(text(otlp.get("protocol")), "http/protobuf");
    let metrics = pipeline(&config, GATEWAY_CONFIG, "metrics");
    assert_eq!(list(metrics.get("receivers")), ["otlp"]);
    assert_eq!(list(metrics.get("exporters")), ["awsemf"]);
    check_emf_shape(&config, GATEWAY_CONFIG);

    let services = Template::load("services.yaml");
    let gateway = gateway(&services);
    assert_eq!(
        ref_to(gateway.env("DEPLOYMENT_ENVIRONMENT")),
        Some("EnvironmentName"),
        "{gateway}: its metrics carry the environment as the services' do"
    );
}

#[test]
fn emf_metrics_go_to_this_environments_own_log_group() {
    for (file, config) in [
        (SIDECAR_CONFIG, sidecar_config()),
        (GATEWAY_CONFIG, gateway_config()),
    ] {
        let emf = exporter(&config, "awsemf");
        assert_eq!(
            text(emf.get("log_group_name")),
            "${env:EMF_LOG_GROUP}",
            "{file}"
        );
        assert_eq!(text(emf.get("region")), "${env:AWS_REGION}", "{file}");
    }

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
    for collector in sidecars(&services).into_iter().chain([gateway(&services)]) {
        assert_eq!(
            ref_to(collector.env("EMF_LOG_GROUP")),
            Some("EmfLogGroup"),
            "{collector}"
        );
    }
}

#[test]
fn the_gateway_keeps_errors_slow_traces_and_a_fraction_judged_on_the_whole_trace() {
    let sidecar = sidecar_config();
    let sidecar_processors: Vec<&str> = section_names(&sidecar, "processors");
    assert!(
        !sidecar_processors
            .iter()
            .any(|p| p.starts_with("tail_sampling") || p.contains("sampler")),
        "a sidecar sees only its task's part of a trace: it must sample nothing ({sidecar_processors:?})"
    );

    let config = gateway_config();
    let processors = list(pipeline(&config, GATEWAY_CONFIG, "traces").get("processors"));
    assert!(processors.contains(&"tail_sampling"), "{processors:?}");
    assert!(
        !processors
            .iter()
            .any(|p| p.starts_with("probabilistic_sampler")),
        "one sampler only: the fraction lives in tail_sampling"
    );
    let tail_sampling = config
        .get("processors")
        .and_then(|p| p.get("tail_sampling"))
        .expect("tail_sampling settings");
    let policies: BTreeMap<&str, &Value> = items(tail_sampling.get("policies"))
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
        "the hash salt must be one fixed value, so every gateway keeps the same trace IDs"
    );
    let decision_wait = duration(text(tail_sampling.get("decision_wait")));
    let sidecar_batch = duration(text(
        sidecar
            .get("processors")
            .and_then(|p| p.get("batch/traces"))
            .and_then(|b| b.get("timeout")),
    ));
    assert!(
        decision_wait > REQUEST_AND_APP_EXPORT + sidecar_batch,
        "decision_wait {decision_wait:?}: a trace's last span may arrive {:?} after its first",
        REQUEST_AND_APP_EXPORT + sidecar_batch
    );

    let services = Template::load("services.yaml");
    assert_eq!(
        services.parameter_default("TraceSamplePercent").as_deref(),
        Some("5")
    );
    let gateway = gateway(&services);
    assert_eq!(
        ref_to(gateway.env("TRACE_SAMPLE_PERCENT")),
        Some("TraceSamplePercent")
    );
    assert_eq!(
        ref_to(gateway.env("SLOW_TRACE_THRESHOLD_MS")),
        Some("SlowTraceThresholdMs")
    );
    for app in APPS {
        let container = app_container(&services, app);
        for variable in container.environment().keys() {
            assert!(
                !variable.starts_with("OTEL_TRACES_SAMPLER"),
                "{container}: {variable} - the apps record every request; the gateway samples"
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
fn every_variable_a_config_reads_is_set_on_its_collectors_and_none_is_left_over() {
    let services = Template::load("services.yaml");
    let pattern = Regex::new(r"\$\{env:([A-Z0-9_]+)\}").expect("a valid pattern");
    for (file, config, collectors) in [
        (SIDECAR_CONFIG, sidecar_config(), sidecars(&services)),
        (GATEWAY_CONFIG, gateway_config(), vec![gateway(&services)]),
    ] {
        let mut values = Vec::new();
        strings(&config, &mut values);
        let reads: BTreeSet<&str> = values
            .iter()
            .flat_map(|v| pattern.captures_iter(v))
            .map(|c| c.get(1).expect("a name").as_str())
            .collect();
        for collector in collectors {
            let set: BTreeSet<&str> = collector
                .environment()
                .into_keys()
                .filter(|name| *name != "AOT_CONFIG_CONTENT")
                .collect();
            assert_eq!(
                set, reads,
                "{collector}: its environment must be exactly the ${{env:...}} names infra/{file} reads"
            );
        }
    }
}

#[test]
fn each_collector_may_call_exactly_what_its_exporters_call() {
    let services = Template::load("services.yaml");

    // The sidecars: TelemetryPolicy, on every service's task role.
    let policy = services.expect_resource("TelemetryPolicy");
    let statements = services
        .statements()
        .into_iter()
        .filter(|s| s.resource.id == policy.id)
        .collect::<Vec<_>>();
    assert_eq!(
        allowed_actions(&statements),
        exporters_need(&sidecar_config(), SIDECAR_CONFIG),
        "{policy}: grants must be exactly the sidecar's exporters' calls"
    );
    let roles: BTreeSet<&str> = items(policy.prop("Roles"))
        .into_iter()
        .filter_map(ref_to)
        .collect();
    let sidecar_roles: BTreeSet<&str> = sidecars(&services)
        .iter()
        .filter_map(|c| c.task_definition.prop("TaskRoleArn").and_then(ref_to))
        .collect();
    assert_eq!(
        roles, sidecar_roles,
        "{policy}: every task role with a sidecar (it exports with it), and only those"
    );

    // The gateway: its own role.
    let gateway_role = gateway(&services)
        .task_definition
        .prop("TaskRoleArn")
        .and_then(ref_to)
        .expect("the gateway's TaskRoleArn names a role here");
    let gateway_statements = services.statements_granted_to(gateway_role);
    assert_eq!(
        allowed_actions(&gateway_statements),
        exporters_need(&gateway_config(), GATEWAY_CONFIG),
        "{gateway_role}: grants must be exactly the gateway's exporters' calls"
    );

    for statement in statements.iter().chain(&gateway_statements) {
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

    // Only the gateway writes spans: a sidecar that could would be a path to fragments.
    let task_roles: BTreeSet<&str> = services
        .of_type("AWS::ECS::TaskDefinition")
        .iter()
        .filter_map(|td| td.prop("TaskRoleArn").and_then(ref_to))
        .collect();
    let writers: BTreeSet<&str> = task_roles
        .into_iter()
        .filter(|role| {
            services
                .statements_granted_to(role)
                .iter()
                .filter(|s| s.allows())
                .flat_map(|s| s.actions())
                .any(|a| a.to_ascii_lowercase().starts_with("xray:"))
        })
        .collect();
    assert_eq!(
        writers,
        BTreeSet::from([gateway_role]),
        "only the trace gateway's task role may call X-Ray"
    );
}

#[test]
fn collector_health_checks_probe_the_configured_endpoint() {
    let services = Template::load("services.yaml");
    for (file, config, collectors) in [
        (SIDECAR_CONFIG, sidecar_config(), sidecars(&services)),
        (GATEWAY_CONFIG, gateway_config(), vec![gateway(&services)]),
    ] {
        let endpoint = text(
            config
                .get("extensions")
                .and_then(|e| e.get("health_check"))
                .and_then(|h| h.get("endpoint")),
        );
        assert_eq!(
            endpoint, "127.0.0.1:13133",
            "{file}: the ADOT image's /healthcheck probes 127.0.0.1:13133"
        );
        assert!(
            list(config.get("service").and_then(|s| s.get("extensions"))).contains(&"health_check"),
            "{file}"
        );
        for collector in collectors {
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
    let gateway = gateway(&services);
    assert_eq!(
        gateway.body.get("Essential").and_then(Value::as_bool),
        Some(true),
        "{gateway}: the task is the collector; a failing health check must replace it"
    );
}

#[test]
fn alarms_and_the_dashboard_read_metrics_in_the_shape_their_collector_sends() {
    let sidecar = sidecar_config();
    let gateway = gateway_config();
    let alarms = alarm_reads();
    let dashboard = dashboard_reads();
    for read in alarms.iter().chain(&dashboard) {
        let (file, config) = match read.writer {
            Writer::Sidecar => (SIDECAR_CONFIG, &sidecar),
            Writer::Gateway => (GATEWAY_CONFIG, &gateway),
        };
        assert!(
            kept_by_views(config, &read.metric),
            "{}: reads {}, which infra/{file}'s telemetry views drop",
            read.reader,
            read.metric
        );
        let dimensions: BTreeSet<&str> = read.dimensions.iter().map(String::as_str).collect();
        let sets = declared_sets(config, &read.metric);
        assert!(
            sets.contains(&dimensions),
            "{}: reads {} by {dimensions:?}, a dimension set infra/{file} does not send ({sets:?})",
            read.reader,
            read.metric,
        );
    }
    let of =
        |reads: &[MetricRead], writer: Writer| reads.iter().filter(|r| r.writer == writer).count();
    assert!(
        of(&alarms, Writer::Sidecar) >= 20,
        "only {} alarm metrics read the services' metrics; are the SLO alarms still there?",
        of(&alarms, Writer::Sidecar)
    );
    assert!(
        of(&alarms, Writer::Gateway) >= 6,
        "only {} alarm metrics read the trace gateway's metrics",
        of(&alarms, Writer::Gateway)
    );
    assert!(
        of(&dashboard, Writer::Sidecar) >= 6,
        "dashboard: only {} by-service graphs read CuddleKube",
        of(&dashboard, Writer::Sidecar)
    );
    assert!(
        of(&dashboard, Writer::Gateway) >= 9,
        "dashboard: only {} rows read the trace gateway's metrics",
        of(&dashboard, Writer::Gateway)
    );
    for read in alarms.iter().chain(&dashboard) {
        assert_eq!(
            read.metric.starts_with("otelcol_"),
            read.writer == Writer::Gateway,
            "{}: {} - collector metrics are the gateway's, the rest the services'",
            read.reader,
            read.metric
        );
    }
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

fn sidecar_config() -> Value {
    config(SIDECAR_CONFIG)
}

fn gateway_config() -> Value {
    config(GATEWAY_CONFIG)
}

fn config(file: &str) -> Value {
    serde_norway::from_str(&read_infra_file(file))
        .unwrap_or_else(|e| panic!("infra/{file} is not YAML: {e}"))
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

fn pipeline<'a>(config: &'a Value, file: &str, name: &str) -> &'a Value {
    config
        .get("service")
        .and_then(|s| s.get("pipelines"))
        .and_then(|p| p.get(name))
        .unwrap_or_else(|| panic!("infra/{file}: no {name} pipeline"))
}

fn exporter<'a>(config: &'a Value, name: &str) -> &'a Value {
    config
        .get("exporters")
        .and_then(|e| e.get(name))
        .unwrap_or_else(|| panic!("exporter {name} is configured"))
}

/// The IAM actions the exporters of a config's pipelines call.
fn exporters_need(config: &Value, file: &str) -> BTreeSet<&'static str> {
    let mut needed = BTreeSet::new();
    for name in ["traces", "metrics"] {
        for name in list(pipeline(config, file, name).get("exporters")) {
            needed.extend(exporter_actions(name, exporter(config, name)));
        }
    }
    needed
}

/// awsemf as both collectors use it: CuddleKube, resource attributes as dimensions, no
/// roll-ups, and every dimension set telling services and environments apart.
fn check_emf_shape(config: &Value, file: &str) {
    let emf = exporter(config, "awsemf");
    assert_eq!(
        emf.get("resource_to_telemetry_conversion")
            .and_then(|r| r.get("enabled"))
            .and_then(Value::as_bool),
        Some(true),
        "{file}: service.name and deployment.environment.name are resource attributes: they \
         only become dimensions with resource_to_telemetry_conversion"
    );
    assert_eq!(text(emf.get("namespace")), "CuddleKube", "{file}");
    assert_eq!(
        text(emf.get("dimension_rollup_option")),
        "NoDimensionRollup",
        "{file}: roll-ups would add metrics without service or environment (and cost)"
    );
    for declaration in items(emf.get("metric_declarations")) {
        for set in items(declaration.get("dimensions")) {
            let set = list(Some(set));
            for dimension in SERVICE_DIMENSIONS {
                assert!(
                    set.contains(&dimension),
                    "{file}: awsemf dimension set {set:?} lacks {dimension}"
                );
            }
        }
    }
}

/// `service.telemetry.resource` as name -> value, in either of its forms: a mapping, or
/// `attributes: [{name, value}, ...]`.
fn resource_attributes(resource: &Value) -> BTreeMap<&str, &str> {
    match resource.get("attributes") {
        Some(attributes) => items(Some(attributes))
            .into_iter()
            .map(|a| (text(a.get("name")), text(a.get("value"))))
            .collect(),
        None => resource
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(name, value)| Some((name.as_str()?, value.as_str()?)))
            .collect(),
    }
}

/// A YAML list of strings.
/// The actions `statements` allow.
fn allowed_actions<'a>(statements: &[Statement<'a>]) -> BTreeSet<&'a str> {
    statements
        .iter()
        .filter(|s| s.allows())
        .flat_map(|s| s.actions())
        .collect()
}

/// The names declared in a config's section (`exporters`, `processors`, ...).
fn section_names<'a>(config: &'a Value, section: &str) -> Vec<&'a str> {
    config
        .get(section)
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(name, _)| name.as_str())
        .collect()
}

fn list(value: Option<&Value>) -> Vec<&str> {
    items(value).into_iter().map(|v| text(Some(v))).collect()
}

fn text_of(value: Option<&Value>) -> String {
    value.and_then(scalar_text).unwrap_or_default()
}

/// A collector duration such as `20s` or `500ms`.
fn duration(text: &str) -> Duration {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map(|at| text.split_at(at))
        .unwrap_or_else(|| panic!("duration {text:?} has no unit"));
    let number: u64 = number.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
    match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number * 60),
        other => panic!("duration {text:?}: unit {other} is not handled here"),
    }
}

/// Whether the collector's own telemetry keeps instrument `metric`: with views, the
/// first view whose selector matches decides, and a `drop` aggregation drops it.
fn kept_by_views(config: &Value, metric: &str) -> bool {
    let views = items(
        config
            .get("service")
            .and_then(|s| s.get("telemetry"))
            .and_then(|t| t.get("metrics"))
            .and_then(|m| m.get("views")),
    );
    if views.is_empty() {
        return true;
    }
    for view in views {
        let name = text(view.get("selector").and_then(|s| s.get("instrument_name")));
        let pattern = format!("^{}$", regex::escape(name).replace(r"\*", ".*"));
        if Regex::new(&pattern)
            .expect("a valid pattern")
            .is_match(metric)
        {
            return view
                .get("stream")
                .and_then(|s| s.get("aggregation"))
                .and_then(|a| a.get("drop"))
                .is_none();
        }
    }
    false
}

/// The dimension sets awsemf's declarations give `metric` (none: it never reaches
/// CloudWatch).
fn declared_sets<'a>(config: &'a Value, metric: &str) -> Vec<BTreeSet<&'a str>> {
    let declarations = items(
        config
            .get("exporters")
            .and_then(|e| e.get("awsemf"))
            .and_then(|a| a.get("metric_declarations")),
    );
    let mut out = Vec::new();
    for declaration in declarations {
        let selected = list(declaration.get("metric_name_selectors"))
            .into_iter()
            .map(|s| Regex::new(s).unwrap_or_else(|e| panic!("selector {s:?}: {e}")))
            .any(|s| s.is_match(metric));
        if selected {
            out.extend(
                items(declaration.get("dimensions"))
                    .into_iter()
                    .map(|set| list(Some(set)).into_iter().collect()),
            );
        }
    }
    out
}

/// The `otel-collector` sidecar of each service's task definition.
fn sidecars(services: &Template) -> Vec<Container<'_>> {
    let collectors = services.containers_named("otel-collector");
    assert_eq!(
        collectors.len(),
        APPS.len(),
        "services.yaml: one collector sidecar per service"
    );
    collectors
}

/// The trace gateway's collector container.
fn gateway(services: &Template) -> Container<'_> {
    let found = services.containers_named(GATEWAY_CONTAINER);
    assert_eq!(
        found.len(),
        1,
        "services.yaml: one {GATEWAY_CONTAINER} container"
    );
    found[0]
}

fn app_container<'a>(services: &'a Template, app: &str) -> Container<'a> {
    let found = services.containers_named(app);
    assert_eq!(found.len(), 1, "services.yaml: one {app} container");
    found[0]
}
