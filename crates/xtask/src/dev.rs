//! `cargo xtask dev`: the whole stack natively, without Docker. DynamoDB Local, the
//! table created and seeded by `cuddlekube-admin init`, and the three services, each
//! on a fixed local port; Ctrl-C (or SIGTERM) stops every process it started.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::dynamodb_local::DynamoDbLocal;
use crate::project_root;
use crate::test::LOCAL_AWS_ENV;

const WEBSITE_PORT: u16 = 8080;
const SERVER_LISTING_PORT: u16 = 8081;
const REGISTER_PORT: u16 = 8082;
/// The lines that open and close the list of URLs.
pub const RUNNING: &str = "Cuddle Kube is running:";
pub const PRESS_CTRL_C: &str = "Press Ctrl-C to stop everything.";

/// Child processes, stopped (SIGTERM, then kill) when dropped.
struct Processes(Vec<(&'static str, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in self.0.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
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
    let status = Command::new(env!("CARGO"))
        .args(["build", "--workspace", "--bins"])
        .current_dir(project_root())
        .status()?;
    if !status.success() {
        bail!("the binaries do not build");
    }
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })?;

    let dynamodb = DynamoDbLocal::start()?;
    let bin = |name: &str| project_root().join("target/debug").join(name);
    let aws = |command: &mut Command| {
        command
            .envs(LOCAL_AWS_ENV)
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.endpoint())
            .env("RESIDENTS_TABLE", "cuddlekube");
    };

    let mut init = Command::new(bin("cuddlekube-admin"));
    init.arg("init");
    aws(&mut init);
    if !init.status()?.success() {
        bail!("cuddlekube-admin init failed");
    }

    let mut processes = Processes(Vec::new());
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
            .env("REGISTER_URL", format!("http://127.0.0.1:{REGISTER_PORT}"));
        aws(&mut command);
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
        "  DynamoDB Local   {} (table cuddlekube)",
        dynamodb.endpoint()
    );
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
    println!("stopped.");
    Ok(())
}

/// Waits for `GET /health` to answer 200, by a bare HTTP/1.1 request.
fn wait_for_health(name: &str, port: u16) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let mut head = [0u8; 12];
            if stream.read_exact(&mut head).is_ok() && head.ends_with(b"200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{name} did not answer /health on port {port} within 30 s")
}
