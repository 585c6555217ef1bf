//! The AWS trace path as local processes: a sidecar collector per service running
//! `infra/collector/sidecar.yaml` and gateways running `infra/collector/gateway.yaml`
//! (real collectors, [`crate::otelcol`]), each gateway exporting to its own X-Ray
//! stand-in (HTTPS, SigV4 checked), so what each gateway kept can be told apart. Only
//! the addresses differ from the repository's files: on AWS the sidecars find the
//! gateways by DNS (a Cloud Map name on one port); here the gateways share 127.0.0.1,
//! so the resolver lists them (`static`), in the same routing ring.

use crate::collector_config::{Edit, edited};
use crate::ecs_metadata::EcsTaskMetadata;
use crate::moto::Moto;
use crate::otelcol::Collector;
use crate::otlp::ReceivedSpan;
use crate::xray_standin::XrayStandIn;
use crate::{cfn, free_port};

pub const SIDECAR_CONFIG: &str = "collector/sidecar.yaml";
pub const GATEWAY_CONFIG: &str = "collector/gateway.yaml";
const REGION: &str = "eu-west-1";
const ACCESS_KEY: &str = "AKIDGATEWAYTEST";
const SECRET: &str = "gateway-test-secret";
pub const LOG_GROUP: &str = "/cuddlekube/test/metrics";
/// The ECS task ID every collector here is told (one log stream for their EMF events).
pub const TASK_ID: &str = "5f2b1c9d8e7a46b3a1c0d9e8f7a6b5c4";
pub const SERVICES: [&str; 3] = ["website", "register", "server-listing"];

/// What the gateways' environment sets on AWS (services.yaml's parameters).
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    pub percent: f64,
    pub slow_trace_ms: u64,
}

/// One gateway and where it exports.
#[derive(Debug)]
pub struct Gateway {
    pub collector: Collector,
    pub xray: XrayStandIn,
    /// Its OTLP/gRPC port (the sidecars' target).
    pub port: u16,
}

/// Gateways, one sidecar per service, and the stand-ins they write to; all stopped
/// when dropped.
#[derive(Debug)]
pub struct TraceTier {
    pub gateways: Vec<Gateway>,
    /// (service, its sidecar, the sidecar's OTLP/HTTP port), in [`SERVICES`] order.
    pub sidecars: Vec<(&'static str, Collector, u16)>,
    /// CloudWatch Logs, where every collector's `awsemf` writes.
    pub moto: Moto,
    _ecs: EcsTaskMetadata,
}

impl TraceTier {
    /// `gateways` gateways sampling as `sampling` says, then the sidecars in front.
    pub async fn start(gateways: usize, sampling: Sampling) -> Self {
        let moto = Moto::start(REGION).await;
        moto.create_log_group(LOG_GROUP).await;
        let ecs = EcsTaskMetadata::start(REGION, TASK_ID).await;
        let aws_env = vec![
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.to_owned()),
            // Nothing may ask the EC2 metadata address (off this machine) for anything.
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("EMF_LOG_GROUP", LOG_GROUP.to_owned()),
            ("ECS_CONTAINER_METADATA_URI_V4", ecs.uri()),
        ];

        let mut started = Vec::new();
        for _ in 0..gateways {
            let xray = XrayStandIn::start(REGION, ACCESS_KEY, SECRET).await;
            let (port, metrics, health) = (free_port(), free_port(), free_port());
            let config = gateway_config(
                &xray.traces_endpoint(),
                &moto.endpoint(),
                [port, metrics, health],
            );
            let mut env = aws_env.clone();
            env.extend([
                ("TRACE_SAMPLE_PERCENT", sampling.percent.to_string()),
                (
                    "SLOW_TRACE_THRESHOLD_MS",
                    sampling.slow_trace_ms.to_string(),
                ),
                ("DEPLOYMENT_ENVIRONMENT", "test".to_owned()),
                ("SSL_CERT_FILE", xray.ca_file().display().to_string()),
            ]);
            let collector = Collector::start(&config, &env, health).await;
            started.push(Gateway {
                collector,
                xray,
                port,
            });
        }

        let targets: Vec<u16> = started.iter().map(|g| g.port).collect();
        let mut sidecars = Vec::new();
        for service in SERVICES {
            let (port, health) = (free_port(), free_port());
            let config = sidecar_config(&targets, &moto.endpoint(), port, health);
            let collector = Collector::start(&config, &aws_env, health).await;
            sidecars.push((service, collector, port));
        }
        Self {
            gateways: started,
            sidecars,
            moto,
            _ecs: ecs,
        }
    }

    /// Where `service` exports: its own sidecar, as in its task.
    pub fn otlp_endpoint(&self, service: &str) -> String {
        let (_, _, port) = self
            .sidecars
            .iter()
            .find(|(name, _, _)| *name == service)
            .unwrap_or_else(|| panic!("no sidecar for {service}"));
        format!("http://127.0.0.1:{port}")
    }

    /// What reached X-Ray, per gateway.
    pub fn exported(&self) -> Vec<Vec<ReceivedSpan>> {
        self.gateways.iter().map(|g| g.xray.spans()).collect()
    }

    /// Requests any X-Ray stand-in refused (a bad signature, ...).
    pub fn refusals(&self) -> Vec<String> {
        self.gateways
            .iter()
            .flat_map(|g| g.xray.refusals())
            .collect()
    }

    /// Every collector's log lines, each with the collector's name.
    pub fn logs(&self) -> Vec<String> {
        self.collectors()
            .flat_map(|(name, c)| {
                c.log()
                    .into_iter()
                    .map(move |line| format!("{name}: {line}"))
            })
            .collect()
    }

    fn collectors(&self) -> impl Iterator<Item = (&'static str, &Collector)> {
        self.gateways
            .iter()
            .map(|g| ("gateway", &g.collector))
            .chain(self.sidecars.iter().map(|(s, c, _)| (*s, c)))
    }

    /// Every collector's log lines that report an error or a deprecated name.
    pub fn complaints(&self) -> Vec<String> {
        self.logs()
            .into_iter()
            .filter(|line| line.contains("\terror\t") || line.contains("deprecated"))
            .collect()
    }
}

/// The hash salt of the gateway's `fraction` policy.
pub fn fraction_salt() -> String {
    let tree: cfn::Value =
        serde_norway::from_str(&cfn::read_infra_file(GATEWAY_CONFIG)).expect("YAML");
    let policies = tree["processors"]["tail_sampling"]["policies"]
        .as_sequence()
        .expect("tail_sampling policies");
    policies
        .iter()
        .find_map(|p| p["probabilistic"]["hash_salt"].as_str())
        .expect("a probabilistic policy with a hash_salt")
        .to_owned()
}

/// Whether the tail-sampling `probabilistic` policy keeps `trace_id` (32 hex digits) at
/// `percent` with `salt`: FNV-1a (64 bits) over the salt and the trace ID's 16 bytes, at
/// most `percent` % of the largest u64 (the processor's `probabilistic.go`).
pub fn in_fraction(trace_id: &str, salt: &str, percent: f64) -> bool {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = (0..trace_id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&trace_id[i..i + 2], 16).expect("hex"));
    let hash = salt.bytes().chain(bytes).fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    // Go multiplies in big floats; f64 is as exact at the percentages used here.
    let threshold = (u64::MAX as f64 * percent / 100.0) as u64;
    hash <= threshold
}

fn sidecar_config(gateways: &[u16], logs_endpoint: &str, otlp: u16, health: u16) -> String {
    let original = cfn::read_infra_file(SIDECAR_CONFIG);
    let resolver = block(&original, "    resolver:");
    let listed: Vec<String> = gateways.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    edited(
        SIDECAR_CONFIG,
        &[
            Edit::Value(
                &["extensions", "health_check", "endpoint"],
                format!("127.0.0.1:{health}"),
            ),
            Edit::Value(
                &["receivers", "otlp", "protocols", "http", "endpoint"],
                format!("127.0.0.1:{otlp}"),
            ),
            Edit::Text {
                under: &["exporters", "loadbalancing", "resolver"],
                from: resolver,
                to: format!(
                    "    resolver:\n      static:\n        hostnames: [{}]\n",
                    listed.join(", ")
                ),
            },
            emf_endpoint(logs_endpoint),
        ],
    )
}

fn gateway_config(traces_endpoint: &str, logs_endpoint: &str, ports: [u16; 3]) -> String {
    let [otlp, metrics, health] = ports;
    edited(
        GATEWAY_CONFIG,
        &[
            Edit::Value(
                &["extensions", "health_check", "endpoint"],
                format!("127.0.0.1:{health}"),
            ),
            Edit::Value(
                &["receivers", "otlp", "protocols", "grpc", "endpoint"],
                format!("127.0.0.1:{otlp}"),
            ),
            Edit::Value(
                &["receivers", "otlp", "protocols", "http", "endpoint"],
                format!("127.0.0.1:{metrics}"),
            ),
            Edit::Value(
                &[
                    "service",
                    "telemetry",
                    "metrics",
                    "readers",
                    "0",
                    "periodic",
                    "exporter",
                    "otlp",
                    "endpoint",
                ],
                format!("http://127.0.0.1:{metrics}"),
            ),
            Edit::Value(
                &["exporters", "otlp_http/xray", "traces_endpoint"],
                traces_endpoint.to_owned(),
            ),
            emf_endpoint(logs_endpoint),
        ],
    )
}

/// `awsemf` given an `endpoint` (moto's CloudWatch Logs).
fn emf_endpoint(logs_endpoint: &str) -> Edit {
    Edit::Text {
        under: &["exporters", "awsemf", "endpoint"],
        from: "\n  awsemf:\n".to_owned(),
        to: format!("\n  awsemf:\n    endpoint: {logs_endpoint}\n"),
    }
}

/// The line `header` and the lines under it (indented deeper), as they stand in `text`.
fn block(text: &str, header: &str) -> String {
    let indent = header.len() - header.trim_start().len();
    let mut lines = text.lines().skip_while(|line| *line != header);
    let first = lines.next().unwrap_or_else(|| panic!("no line {header:?}"));
    let mut out = format!("{first}\n");
    for line in lines
        .take_while(|line| line.len() - line.trim_start().len() > indent || line.trim().is_empty())
    {
        out.push_str(line);
        out.push('\n');
    }
    out
}
