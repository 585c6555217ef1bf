//! `cargo xtask dev`: the whole stack natively, without Docker. DynamoDB Local behind
//! `cuddlekube-admin tls-proxy` (TLS with a CA made at start-up, which the services trust
//! through `AWS_CA_BUNDLE`, so `missing-ca-certificates` fails a real handshake), the
//! table created and seeded by `cuddlekube-admin init`, and the three services, each on a
//! fixed local port; Ctrl-C (or SIGTERM) stops every process it started.
//!
//! `cargo xtask admin ARGS` runs `cuddlekube-admin ARGS` against the running stack (it
//! reads the environment `dev` leaves in `target/dev/env`).

use std::io::{BufRead, BufReader};
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
use crate::test::LOCAL_AWS_ENV;

const WEBSITE_PORT: u16 = 8080;
const SERVER_LISTING_PORT: u16 = 8081;
const REGISTER_PORT: u16 = 8082;
/// The lines that open and close the list of URLs.
pub const RUNNING: &str = "Cuddle Kube is running:";
pub const PRESS_CTRL_C: &str = "Press Ctrl-C to stop everything.";

/// Where `dev` keeps its CA and the environment `cargo xtask admin` needs.
fn dev_dir() -> PathBuf {
    project_root().join("target/dev")
}

/// Child processes, stopped (SIGTERM, then kill) when dropped. `std::process` rather than
/// xshell: they run alongside `dev` (and the proxy's first stdout line is read).
struct Processes(Vec<(&'static str, Child)>);

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

pub fn run() -> anyhow::Result<()> {
    for port in [WEBSITE_PORT, SERVER_LISTING_PORT, REGISTER_PORT] {
        TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("port {port} is in use; stop what holds it and retry"))?;
    }
    let sh = crate::root_shell()?;
    let cargo = env!("CARGO");
    xshell::cmd!(sh, "{cargo} build --workspace --bins")
        .run()
        .context("the binaries do not build")?;
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })?;

    let dynamodb = dynamodb::start()?;
    let bin = |name: &str| project_root().join("target/debug").join(name);
    let mut processes = Processes(Vec::new());

    // A new CA every start: nothing from an earlier run is trusted.
    let certs = dev_dir().join("certs");
    let _ = std::fs::remove_dir_all(&certs);
    let upstream = dynamodb.endpoint().trim_start_matches("http://").to_owned();
    let mut proxy = Command::new(bin("cuddlekube-admin"))
        .args([
            "tls-proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "--certs",
        ])
        .arg(&certs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("start cuddlekube-admin tls-proxy")?;
    let mut first = String::new();
    BufReader::new(proxy.stdout.take().context("the proxy's stdout")?).read_line(&mut first)?;
    processes.0.push(("tls-proxy", proxy));
    let port = first
        .split("https://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .with_context(|| format!("tls-proxy said {first:?}, not where it listens"))?;
    let endpoint = format!("https://localhost:{port}");
    let aws: Vec<(&str, String)> = LOCAL_AWS_ENV
        .iter()
        .map(|(k, v)| (*k, (*v).to_owned()))
        .chain([
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()),
            ("AWS_CA_BUNDLE", certs.join("ca.pem").display().to_string()),
            ("RESIDENTS_TABLE", "cuddlekube".to_owned()),
        ])
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
            .envs(aws.iter().map(|(k, v)| (*k, v)));
        let child = command.spawn().with_context(|| format!("start {name}"))?;
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
    println!(
        "  faults           cargo xtask admin faults on missing-ca-certificates   (then: faults off --all)"
    );
    println!("  visitors         cargo xtask load");
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
    }
    println!("stopping...");
    drop(processes);
    drop(dynamodb);
    let _ = std::fs::remove_file(dev_dir().join("env"));
    println!("stopped.");
    Ok(())
}

/// `target/dev/env`: the running stack's environment, one `NAME=value` a line.
fn write_admin_env(env: &[(&str, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dev_dir())?;
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(dev_dir().join("env"), text)?;
    Ok(())
}

/// `cargo xtask admin ARGS`: `cuddlekube-admin ARGS` on the stack `cargo xtask dev` runs.
pub fn admin(args: Vec<String>) -> anyhow::Result<()> {
    let env = std::fs::read_to_string(dev_dir().join("env"))
        .context("no dev stack is running: start `cargo xtask dev` first")?;
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

/// Waits until `GET /health` answers 200.
fn wait_for_health(name: &str, port: u16) -> anyhow::Result<()> {
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
