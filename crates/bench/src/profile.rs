//! `cuddlekube-bench --profile` (run by `cargo xtask profile`, on a release build with
//! symbols): where each request's CPU goes. The services run as deployed (JSON logs at
//! INFO with one access line in 20, OTLP export on, to a sink). First each request's CPU
//! is measured with no profiler attached, beside each process's `/health` and the floor
//! beneath the listing (`cuddlekube-floor`); then 8 workers send one request again and
//! again while `perf record` samples the serving process (999 Hz, DWARF call graphs).
//! Each profile becomes a flame graph (`target/bench/profile/<request>.svg`, drawn by
//! inferno) and a table of what its samples were doing ([`PURPOSES`]).

use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use inferno::collapse::Collapse as _;
use serde::Serialize;

use crate::cpu::{self, CpuTarget};
use crate::rounds::{self, Rounds};
use crate::stack::{self, Running};
use bench::targets::Target;

/// How long each request is profiled, after a second of warm-up.
const PROFILED: Duration = Duration::from_secs(8);

/// The CPU figures taken before any profiler attaches.
const CPU_ROUNDS: Rounds = Rounds {
    count: 3,
    length: Duration::from_secs(3),
    warmup: Duration::from_secs(1),
};

/// Profiles the listing, the website's residents page, an admission and a feeding,
/// after measuring each one's CPU per request with no profiler attached. Writes
/// `target/bench/profile/` (flame graphs, folded stacks, `latest.md`).
pub async fn run() -> Result<(), String> {
    let out = crate::out_dir()?.join("profile");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let dynamodb = stack::dynamodb()?;
    let endpoint = dynamodb.endpoint();
    let client = crate::sdk_client(&endpoint);
    let table = crate::seeded_table(&client, "profile", crate::SMALL_TABLE).await?;
    let (sink, _) = stack::otlp_sink().await?;
    // As deployed (infra/services.yaml): INFO logs in JSON with one access line in 20,
    // traces and metrics exported.
    let env = vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()),
        ("RESIDENTS_TABLE", table.to_string()),
        ("ACCESS_LOG_SAMPLE_RATIO", "0.05".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{sink}"),
        ),
    ];
    let log = |name: &str| out.join(format!("{name}.log"));
    let listing = Running::start("server-listing", &env, &log("server-listing"))?;
    let register = Running::start("register", &env, &log("register"))?;
    let mut website_env = env.clone();
    website_env.extend([
        ("SERVER_LISTING_URL", listing.url("")),
        ("REGISTER_URL", register.url("")),
    ]);
    let website = Running::start("website", &website_env, &log("website"))?;
    let http = crate::http_client()?;

    let get = |label: &'static str, url: String| Target::Get { label, url };
    let ckids = crate::first_ckids(&client, &table).await?;
    let listing_url = listing.url("");
    let feed = Target::Post {
        label: "server-listing POST /v1/servers/{ckid}/feed",
        url: Arc::new(move |worker, step| {
            let ckid = &ckids[(worker * 13 + step as usize) % ckids.len()];
            format!("{listing_url}/v1/servers/{ckid}/feed")
        }),
        body: None,
        keyed: true,
    };
    let admission = Target::Post {
        label: "register POST /v1/registrations",
        url: Arc::new({
            let url = register.url("/v1/registrations");
            move |_, _| url.clone()
        }),
        body: Some(
            serde_json::json!({"name": "Profiled Resident", "type": "m5.large",
            "os": "linux", "petname": "perf", "service": 3, "happiness": 5}),
        ),
        keyed: true,
    };
    let profiled = [
        (
            get("server-listing GET /v1/servers", listing.url("/v1/servers")),
            &listing,
        ),
        (
            get("website GET /residents", website.url("/residents")),
            &website,
        ),
        (admission, &register),
        (feed, &listing),
    ];

    eprintln!("profile: CPU per request, no profiler attached");
    let floor = Running::start("cuddlekube-floor", &env, &log("floor"))?;
    let serving = |service: &Running| vec![(service.name.clone(), service.pid())];
    let mut cpu_targets = vec![
        CpuTarget {
            target: get(crate::FLOOR_SDK, floor.url("/sdk-query")),
            processes: serving(&floor),
        },
        CpuTarget {
            target: get(crate::FLOOR_RAW, floor.url("/raw-query")),
            processes: serving(&floor),
        },
    ];
    for service in [&listing, &website, &register] {
        cpu_targets.push(CpuTarget {
            target: get(health_label(&service.name), service.url("/health")),
            processes: serving(service),
        });
    }
    for (target, service) in &profiled {
        cpu_targets.push(CpuTarget {
            target: target.clone(),
            processes: serving(service),
        });
    }
    let costs = cpu::measure(&http, &cpu_targets, 8, CPU_ROUNDS).await?;
    drop(floor);

    let mut profiles = Vec::new();
    for (target, service) in &profiled {
        eprintln!("profile: {} in {}", target.label(), service.name);
        profiles.push(
            record(
                &http,
                target,
                (&service.name, service.pid()),
                PROFILED,
                &out,
            )
            .await?,
        );
    }
    let mut md = String::from("## Where a request's CPU goes\n");
    crate::report::cpu_table(&mut md, &costs);
    for profile in &profiles {
        profile.markdown(&mut md);
    }
    println!("{md}");
    std::fs::write(out.join("latest.md"), &md).map_err(|e| e.to_string())?;
    eprintln!("profile: written to {}", out.display());
    Ok(())
}

/// `GET /health` labels, one per service (a label is `'static`).
fn health_label(service: &str) -> &'static str {
    match service {
        "server-listing" => "server-listing GET /health",
        "website" => "website GET /health",
        _ => "register GET /health",
    }
}

/// What the work is for. A sample counts for the innermost frame of its stack that one
/// of these matches (kernel frames skipped: they are counted apart), so a malloc inside
/// the decoder counts as decoding and a handler's own frames fall through to the HTTP
/// server that called them. A frame is a demangled Rust path, a libc symbol, or `…_[k]`.
const PURPOSES: [(&str, &[&str]); 8] = [
    (
        "decode DynamoDB's answer (JSON → AttributeValue)",
        &[
            "aws_sdk_dynamodb::protocol_serde::shape_",
            "aws_smithy_json::deserialize",
        ],
    ),
    ("sign the DynamoDB request (SigV4)", &["aws_sigv4::"]),
    (
        "the rest of the AWS SDK (orchestrator, endpoint, retries, HTTP client)",
        &[
            "aws_smithy_",
            "aws_sdk_dynamodb::",
            "aws_runtime::",
            "aws_credential",
            "aws_types::",
        ],
    ),
    ("items → residents (serde_dynamo)", &["serde_dynamo::"]),
    (
        "spans, logs and metrics (tracing, OpenTelemetry)",
        &[
            "tracing_subscriber::",
            "tracing_opentelemetry::",
            "opentelemetry",
            "tracing_core::",
            "tracing::span::",
            "telemetry::logs",
            "telemetry::metrics",
            "telemetry::xray",
        ],
    ),
    (
        "JSON and HTML answers (serde_json, askama)",
        &["serde_json::", "askama"],
    ),
    (
        "HTTP server and client (hyper, axum, tower, reqwest)",
        &[
            "hyper::",
            "hyper_util::",
            "axum::",
            "tower",
            "reqwest",
            "h2::",
            "http::",
        ],
    ),
    ("tokio's scheduler and I/O driver", &["tokio::"]),
];

/// Leaf frames that are the allocator, whoever called it.
const ALLOCATOR: [&str; 8] = [
    "malloc",
    "free",
    "realloc",
    "calloc",
    "_int_malloc",
    "_int_free",
    "mi_",
    "cfree",
];

/// One request's profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub label: String,
    pub process: String,
    /// CPU time sampled (perf's cpu-clock periods), seconds.
    pub sampled_s: f64,
    /// (purpose, share of samples), in [`PURPOSES`] order, then "other".
    pub purposes: Vec<(String, f64)>,
    /// Share of samples whose innermost frame is the allocator / the kernel.
    pub allocator: f64,
    pub kernel: f64,
    /// The ten innermost frames with most samples, with their share.
    pub hottest: Vec<(String, f64)>,
    pub flame_graph: String,
}

impl Profile {
    fn markdown(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "\n### {} in {} ({:.1} s of CPU sampled; flame graph: {})\n\n| what the work is for | share of CPU |\n|---|---|",
            self.label, self.process, self.sampled_s, self.flame_graph
        );
        for (purpose, share) in &self.purposes {
            let _ = writeln!(md, "| {purpose} | {:.1} % |", share * 100.0);
        }
        let _ = writeln!(
            md,
            "\nInnermost frame in the allocator: {:.1} %; in the kernel: {:.1} %. Hottest \
             innermost frames:\n",
            self.allocator * 100.0,
            self.kernel * 100.0
        );
        for (frame, share) in &self.hottest {
            let _ = writeln!(md, "- {:.1} % `{frame}`", share * 100.0);
        }
    }
}

/// Profiles `target` in the process `(name, pid)` for `length` under 8 workers.
pub async fn record(
    client: &reqwest::Client,
    target: &Target,
    process: (&str, u32),
    length: Duration,
    out: &Path,
) -> Result<Profile, String> {
    let (name, pid) = process;
    let slug: String = target
        .label()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = format!("{slug}--{name}");
    let data = out.join(format!("{slug}.perf.data"));
    rounds::run(client, target, 8, Duration::from_secs(1)).await;
    let mut perf = Command::new("perf")
        .args(["record", "-F", "999", "--call-graph", "dwarf,32768", "-o"])
        .arg(&data)
        .args(["-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("perf record: {e} (apt-get install linux-perf)"))?;
    // perf attaches within milliseconds; give it a moment before the load starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    rounds::run(client, target, 8, length).await;
    let perf_pid = nix::unistd::Pid::from_raw(i32::try_from(perf.id()).map_err(|e| e.to_string())?);
    nix::sys::signal::kill(perf_pid, nix::sys::signal::Signal::SIGINT)
        .map_err(|e| e.to_string())?;
    let status = perf.wait().map_err(|e| e.to_string())?;
    // perf writes its data, then ends by the SIGINT it was sent.
    if !status.success() && status.signal() != Some(nix::libc::SIGINT) {
        return Err(format!("perf record ended with {status}"));
    }
    let script = Command::new("perf")
        .args(["script", "-i"])
        .arg(&data)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("perf script: {e}"))?;
    let mut folded = Vec::new();
    let mut options = inferno::collapse::perf::Options::default();
    options.annotate_kernel = true;
    inferno::collapse::perf::Folder::from(options)
        .collapse(&script.stdout[..], &mut folded)
        .map_err(|e| format!("collapsing perf's stacks: {e}"))?;
    // The raw samples are hundreds of MB; the folded stacks keep what they say.
    let _ = std::fs::remove_file(&data);
    let folded = String::from_utf8_lossy(&folded).into_owned();
    std::fs::write(out.join(format!("{slug}.folded")), &folded).map_err(|e| e.to_string())?;
    let svg = out.join(format!("{slug}.svg"));
    let file = std::fs::File::create(&svg).map_err(|e| e.to_string())?;
    let mut flame = inferno::flamegraph::Options::default();
    flame.title = format!("{} in {name}", target.label());
    inferno::flamegraph::from_lines(&mut flame, folded.lines(), file)
        .map_err(|e| format!("drawing the flame graph: {e}"))?;
    let mut profile = shares(&folded);
    profile.label = target.label().to_owned();
    profile.process = name.to_owned();
    profile.flame_graph = svg.display().to_string();
    Ok(profile)
}

/// The shares of a folded profile (`frame;frame;… count` per line, root first).
fn shares(folded: &str) -> Profile {
    let mut total = 0u64;
    let mut by_purpose = vec![0u64; PURPOSES.len() + 1];
    let (mut allocator, mut kernel) = (0u64, 0u64);
    let mut leaves = std::collections::HashMap::<&str, u64>::new();
    for line in folded.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(count) = count.parse::<u64>() else {
            continue;
        };
        total += count;
        let frames: Vec<&str> = stack.split(';').collect();
        let purpose = frames
            .iter()
            .rev()
            .filter(|frame| !frame.ends_with("_[k]"))
            .find_map(|frame| {
                PURPOSES
                    .iter()
                    .position(|(_, patterns)| patterns.iter().any(|p| frame.contains(p)))
            })
            .unwrap_or(PURPOSES.len());
        by_purpose[purpose] += count;
        let leaf = frames.last().copied().unwrap_or_default();
        if leaf.ends_with("_[k]") {
            kernel += count;
        } else if ALLOCATOR.iter().any(|a| leaf.starts_with(a)) {
            allocator += count;
        }
        *leaves.entry(leaf).or_default() += count;
    }
    let share = |n: u64| {
        if total == 0 {
            0.0
        } else {
            n as f64 / total as f64
        }
    };
    let mut hottest: Vec<(&str, u64)> = leaves.into_iter().collect();
    hottest.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    Profile {
        label: String::new(),
        process: String::new(),
        sampled_s: total as f64 / 1e9,
        purposes: PURPOSES
            .iter()
            .map(|(name, _)| *name)
            .chain(["other (std, libc, the kernel alone)"])
            .zip(&by_purpose)
            .map(|(name, n)| (name.to_owned(), share(*n)))
            .collect(),
        allocator: share(allocator),
        kernel: share(kernel),
        hottest: hottest
            .into_iter()
            .take(10)
            .map(|(leaf, n)| (leaf.to_owned(), share(n)))
            .collect(),
        flame_graph: String::new(),
    }
}
