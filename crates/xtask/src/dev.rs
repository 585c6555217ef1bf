//! `cargo xtask dev`: the whole stack natively, without Docker. DynamoDB Local behind
//! `cuddlekube-admin tls-proxy` (TLS with a CA made at start-up, which the services trust
//! through `AWS_CA_BUNDLE`, so `missing-ca-certificates` fails a real handshake), the
//! table created and seeded by `cuddlekube-admin init`, the three services, each on a
//! fixed local port, and — where Go can build them (`backends.rs`) — the collector and
//! Jaeger they export to, with Prometheus (Debian's package, where installed) scraping the
//! collector and alerting on the SLOs at a demo time scale; Ctrl-C (or SIGTERM) stops every process it started. Each
//! service's output is shown and kept in `target/dev/logs/`, where `cargo xtask trace`
//! finds a reference's log lines.
//!
//! `cargo xtask admin ARGS` runs `cuddlekube-admin ARGS` against the running stack (it
//! reads the environment `dev` leaves in `target/dev/env`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::dynamodb;
use crate::project_root;
use crate::{backends, status, trace};

const WEBSITE_PORT: u16 = 8080;
const SERVER_LISTING_PORT: u16 = 8081;
const REGISTER_PORT: u16 = 8082;
/// The collector's OTLP/HTTP port and Jaeger's query port, the usual ones.
const COLLECTOR_PORT: u16 = 4318;
const JAEGER_PORT: u16 = 16686;
/// Prometheus' usual port: its web UI, alerts page and API (`cargo xtask status`).
const PROMETHEUS_PORT: u16 = 9090;
/// How often a service exports its metrics: an alert or `cargo xtask status` is at most
/// this far behind the requests (the SDK's default is a minute).
const METRIC_EXPORT_INTERVAL_MS: &str = "1000";
/// How soon a service exports a finished span: the trace a 503 page quotes is in Jaeger
/// by the time a person has copied the reference (the SDK's default is 5 s).
const SPAN_EXPORT_DELAY_MS: &str = "500";
/// The lines that open and close the list of URLs.
pub const RUNNING: &str = "Cuddle Kube is running:";
pub const PRESS_CTRL_C: &str = "Press Ctrl-C to stop everything.";

/// Where `dev` keeps its CA and the environment `cargo xtask admin` needs.
fn dev_dir() -> PathBuf {
    project_root().join("target/dev")
}

/// Child processes, stopped (SIGTERM, then kill) when dropped. `std::process` rather than
/// xshell: they run alongside `dev` (and the proxy's first stdout line is read).
pub struct Processes(pub Vec<(&'static str, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in self.0.iter().rev() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (name, child) in self.0.iter_mut().rev() {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(child.try_wait(), Ok(None)) {
                eprintln!("xtask dev: {name} did not stop within 10 s; killing it");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// Where the services' output is kept while `dev` runs (and after, until the next run).
pub fn logs_dir() -> PathBuf {
    dev_dir().join("logs")
}

pub fn run() -> anyhow::Result<()> {
    for port in [
        WEBSITE_PORT,
        SERVER_LISTING_PORT,
        REGISTER_PORT,
        COLLECTOR_PORT,
        JAEGER_PORT,
        PROMETHEUS_PORT,
    ] {
        TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("port {port} is in use; stop what holds it and retry"))?;
    }
    let sh = crate::root_shell()?;
    let cargo = env!("CARGO");
    xshell::cmd!(sh, "{cargo} build --workspace --bins")
        .run()
        .context("the binaries do not build")?;
    let backends = backends::for_dev()?;
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })?;

    let dynamodb = dynamodb::start()?;
    let bin = |name: &str| project_root().join("target/debug").join(name);
    let mut processes = Processes(Vec::new());
    let _ = std::fs::remove_dir_all(logs_dir());
    std::fs::create_dir_all(logs_dir())?;
    let mut traces = match &backends {
        Some(binaries) => Some(
            telemetry_backends::LocalTelemetry::start(
                binaries,
                &project_root(),
                telemetry_backends::Ports {
                    otlp_http: COLLECTOR_PORT,
                    query: JAEGER_PORT,
                },
                &logs_dir(),
            )
            .context("start the collector and Jaeger")?,
        ),
        None => None,
    };
    let metrics = match traces.as_mut() {
        Some(telemetry) => start_prometheus(telemetry)?,
        None => None,
    };

    let (proxy, endpoint, tls_env) = dynamodb::behind_tls(
        &dynamodb,
        &bin("cuddlekube-admin"),
        &dev_dir().join("certs"),
    )?;
    processes.0.push(("tls-proxy", proxy));
    let aws: Vec<(&str, String)> = tls_env
        .into_iter()
        .chain(
            traces
                .iter()
                .map(|traces| (trace::JAEGER_VAR, traces.query_url())),
        )
        .chain(traces.iter().flat_map(|traces| {
            [
                (
                    status::PROMETHEUS_VAR,
                    traces.prometheus_url().map(str::to_owned),
                ),
                (status::ALERTS_PAGE_VAR, traces.prometheus_page("alerts")),
            ]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
        }))
        .collect();
    write_admin_env(&aws)?;

    let admin = bin("cuddlekube-admin");
    xshell::cmd!(sh, "{admin} init")
        .envs(aws.iter().map(|(k, v)| (*k, v)))
        .run()
        .context("cuddlekube-admin init failed")?;

    let services = [
        ("server-listing", SERVER_LISTING_PORT),
        ("register", REGISTER_PORT),
        ("website", WEBSITE_PORT),
    ];
    for (name, port) in services {
        let mut command = Command::new(bin(name));
        command
            .env("PORT", port.to_string())
            .env(
                "LOG_FORMAT",
                std::env::var("LOG_FORMAT").unwrap_or_else(|_| "pretty".into()),
            )
            .env("OTEL_SERVICE_NAME", name)
            .env(
                "SERVER_LISTING_URL",
                format!("http://127.0.0.1:{SERVER_LISTING_PORT}"),
            )
            .env("REGISTER_URL", format!("http://127.0.0.1:{REGISTER_PORT}"))
            .envs(aws.iter().map(|(k, v)| (*k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(traces) = &traces {
            command
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", traces.otlp_endpoint())
                .env("OTEL_BSP_SCHEDULE_DELAY", SPAN_EXPORT_DELAY_MS)
                .env("OTEL_METRIC_EXPORT_INTERVAL", METRIC_EXPORT_INTERVAL_MS)
                // The 503 page tells where its reference leads (the website's setting).
                .env("TRACE_LOOKUP", "cargo xtask trace {trace_id}");
        }
        let mut child = command.spawn().with_context(|| format!("start {name}"))?;
        show_and_keep(name, &mut child)?;
        processes.0.push((name, child));
    }
    for (name, port) in services {
        wait_for_health(name, port)?;
    }

    println!();
    // `cargo xtask dev-check` reads these lines: every `http://` URL must answer.
    println!("{RUNNING}");
    println!("  website          http://127.0.0.1:{WEBSITE_PORT}/");
    println!("  residents        http://127.0.0.1:{WEBSITE_PORT}/residents");
    println!("  server-listing   http://127.0.0.1:{SERVER_LISTING_PORT}/v1/servers");
    println!("  register         http://127.0.0.1:{REGISTER_PORT}/openapi.json");
    println!(
        "  DynamoDB Local   {} (table cuddlekube), through TLS at {endpoint}",
        dynamodb.endpoint()
    );
    match &traces {
        Some(traces) => {
            println!(
                "  traces           cargo xtask trace REFERENCE   (a 503 page's reference, or any X-Amzn-Trace-Id)"
            );
            println!(
                "  Jaeger           {}/api/v3/services   (its query API; the Go module has no web UI)",
                traces.query_url()
            );
        }
        None => println!("  traces           none: install Go 1.26+ and run dev again"),
    }
    let page = |name| traces.as_ref().and_then(|t| t.prometheus_page(name));
    match (page("graph"), page("alerts"), &metrics) {
        (Some(graph), Some(alerts), Some(windows)) => {
            println!("  metrics          {graph}   (Prometheus)");
            println!("  alerts           {alerts}   ({windows})");
            println!(
                "  status           cargo xtask status   (requests/s, errors, p50/p99 per route; DynamoDB; alerts firing)"
            );
        }
        _ if traces.is_some() => {
            println!("  metrics          none: `apt-get install prometheus`, then run dev again")
        }
        _ => {}
    }
    println!("  service logs     target/dev/logs/   (also shown here)");
    println!(
        "  faults           cargo xtask admin faults on missing-ca-certificates   (then: faults off --all)"
    );
    println!("  visitors         cargo xtask load");
    if metrics.is_some() {
        println!(
            "  game day         cargo xtask gameday   (a fault drawn at random: find it from the alerts)"
        );
    }
    println!("{PRESS_CTRL_C}");

    loop {
        if stop_rx.recv_timeout(Duration::from_millis(500)).is_ok() {
            break;
        }
        for (name, child) in processes.0.iter_mut() {
            if let Some(status) = child.try_wait()? {
                bail!("{name} exited unexpectedly ({status})");
            }
        }
        if let Some((name, status)) = traces.as_mut().and_then(|t| t.exited()) {
            bail!(
                "{name} exited unexpectedly ({status}); its output: {}",
                telemetry_backends::log_file(&logs_dir(), name).display()
            );
        }
    }
    println!("stopping...");
    drop(processes);
    drop(traces);
    drop(dynamodb);
    let _ = std::fs::remove_file(dev_dir().join("env"));
    println!("stopped.");
    Ok(())
}

/// Prometheus on [`PROMETHEUS_PORT`], alerting at the demo time scale; without it
/// installed, one line saying so. Returns the alert windows, to show.
fn start_prometheus(
    telemetry: &mut telemetry_backends::LocalTelemetry,
) -> anyhow::Result<Option<String>> {
    let binary = match telemetry_backends::find_prometheus() {
        Ok(binary) => binary,
        Err(missing) => {
            eprintln!("xtask dev: no metrics or alerts this time: {missing}");
            return Ok(None);
        }
    };
    let slo = telemetry_backends::SloParameters::from_repository(&project_root())
        .map_err(anyhow::Error::msg)?;
    let scale = telemetry_backends::DEMO_TIME_SCALE;
    telemetry
        .start_prometheus(
            &binary,
            &slo.rules(scale),
            PROMETHEUS_PORT,
            &dev_dir().join("prometheus"),
            &logs_dir(),
        )
        .context("start Prometheus")?;
    Ok(Some(slo.describe(scale)))
}

/// `target/dev/env`: the running stack's environment, one `NAME=value` a line.
fn write_admin_env(env: &[(&str, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dev_dir())?;
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(dev_dir().join("env"), text)?;
    Ok(())
}

/// The running stack's environment (`target/dev/env`).
fn running() -> anyhow::Result<String> {
    std::fs::read_to_string(dev_dir().join("env"))
        .context("no dev stack is running: start `cargo xtask dev` first")
}

/// One variable of the running stack's environment, if it has it.
pub fn running_env(name: &str) -> anyhow::Result<Option<String>> {
    Ok(running()?.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key == name).then(|| value.to_owned())
    }))
}

/// `cargo xtask admin ARGS`: `cuddlekube-admin ARGS` on the stack `cargo xtask dev` runs.
pub fn admin(args: Vec<String>) -> anyhow::Result<()> {
    let env = running()?;
    let sh = xshell::Shell::new()?;
    for line in env.lines() {
        if let Some((name, value)) = line.split_once('=') {
            sh.set_var(name, value);
        }
    }
    let admin = project_root().join("target/debug/cuddlekube-admin");
    xshell::cmd!(sh, "{admin} {args...}")
        .run()
        .context("cuddlekube-admin failed")?;
    Ok(())
}

/// Shows each line `child` writes (stdout and stderr) and keeps it in
/// `target/dev/logs/NAME.log`, for `cargo xtask trace` to find a reference's lines in.
fn show_and_keep(name: &str, child: &mut Child) -> anyhow::Result<()> {
    let log = std::fs::File::create(logs_dir().join(format!("{name}.log")))?;
    let streams: [Box<dyn std::io::Read + Send>; 2] = [
        Box::new(child.stdout.take().context("piped stdout")?),
        Box::new(child.stderr.take().context("piped stderr")?),
    ];
    for stream in streams {
        let mut log = log.try_clone()?;
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                println!("{line}");
                let _ = writeln!(log, "{line}");
            }
        });
    }
    Ok(())
}

/// Waits until `GET /health` answers 200.
pub fn wait_for_health(name: &str, port: u16) -> anyhow::Result<()> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .new_agent();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if agent
            .get(&format!("http://127.0.0.1:{port}/health"))
            .call()
            .is_ok()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{name} did not answer /health on port {port} within 30 s")
}
