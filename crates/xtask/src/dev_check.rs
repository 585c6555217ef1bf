//! `cargo xtask dev-check`: proves `cargo xtask dev` as a newcomer uses it. It starts
//! `xtask dev`, reads the URLs it prints, asks each one (the services must answer 200,
//! DynamoDB Local must answer HTTP at all), checks that the residents page shows the
//! seeded dozen, fuzzes both APIs from their OpenAPI documents (schemathesis), plays the
//! README's demo (the 503 page to the trace, and to `cargo xtask status`), then
//! sends SIGINT (what Ctrl-C sends) and checks that `dev` exits 0 and leaves no process
//! and no port behind.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use procfs::process::{Process, all_processes};
use xshell::{Shell, cmd};

use crate::dev::{PRESS_CTRL_C, RUNNING};
use crate::http::{html_text, http_get, http_request};
use crate::project_root;

/// `cuddlekube-admin init` seeds this many residents (store::seed).
const SEED_COUNT: usize = 12;
/// Building the binaries is part of `dev`; on a cold machine that takes minutes.
const START_LIMIT: Duration = Duration::from_secs(900);
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// Kills `dev` if the check fails before it stopped it (its own guards then stop the rest).
/// A `std::process::Child`, not xshell: it runs alongside the check, its stdout piped.
struct Dev(Child);

impl Drop for Dev {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = interrupt(&self.0);
            let _ = wait_exit(&mut self.0, STOP_LIMIT);
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub fn run() -> anyhow::Result<()> {
    let mut dev = Dev(Command::new(std::env::current_exe()?)
        .arg("dev")
        .current_dir(project_root())
        // The services log into the same pipe: keep CI's log to what matters.
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("start xtask dev")?);
    let stdout = dev.0.stdout.take().context("dev's stdout")?;
    // Every line of dev and its services goes through the pipe: keep draining it, or
    // they would block writing logs.
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("dev| {line}");
            // Once the check has read the URLs nobody listens; keep draining anyway.
            let _ = lines_tx.send(line);
        }
    });

    let urls = printed_urls(&lines)?;
    ensure!(urls.len() >= 4, "dev printed too few URLs: {urls:?}");
    for (label, url) in &urls {
        let (port, path) = split_url(url)?;
        let response = http_get(port, path).with_context(|| format!("GET {url}"))?;
        // DynamoDB Local takes POSTed API calls only: any HTTP answer shows it is up.
        ensure!(
            label.starts_with("DynamoDB") || response.status == 200,
            "GET {url} answered {}: {}",
            response.status,
            response.body
        );
        println!("dev-check: GET {url} -> {}", response.status);
    }
    let port_of = |label: &str| -> anyhow::Result<u16> {
        let (_, url) = urls
            .iter()
            .find(|(printed, _)| printed == label)
            .with_context(|| format!("dev printed no {label} URL"))?;
        Ok(split_url(url)?.0)
    };
    check_seeds(port_of("server-listing")?, port_of("website")?)?;
    // After the seed check: fuzzing register admits residents.
    check_api_contracts(&[
        ("server-listing", port_of("server-listing")?),
        ("register", port_of("register")?),
    ])?;

    check_demo(port_of("website")?)?;

    let children = children_of(dev.0.id());
    ensure!(
        children.len() >= 7,
        "expected DynamoDB Local, the collector, Jaeger, Prometheus and three services under dev, found \
         {children:?}"
    );
    interrupt(&dev.0)?;
    let status = wait_exit(&mut dev.0, STOP_LIMIT)?;
    ensure!(status.success(), "xtask dev exited with {status} on SIGINT");
    for (_, url) in &urls {
        let (port, _) = split_url(url)?;
        ensure!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{url} still answers after dev stopped"
        );
    }
    let left: Vec<_> = children.iter().filter(|(pid, _)| running(*pid)).collect();
    ensure!(left.is_empty(), "processes left behind: {left:?}");
    println!("dev-check: every printed URL answered; Ctrl-C left nothing running");
    Ok(())
}

/// (label, URL) of the lines between the "running" line and the "press Ctrl-C" line
/// that hold an `http://` URL, e.g. ("website", "http://127.0.0.1:8080/").
fn printed_urls(lines: &mpsc::Receiver<String>) -> anyhow::Result<Vec<(String, String)>> {
    let mut urls = Vec::new();
    let mut listing = false;
    loop {
        let line = lines
            .recv_timeout(START_LIMIT)
            .context("xtask dev ended or printed no URL list in time")?;
        let line = line.trim();
        if line == RUNNING {
            listing = true;
        } else if line == PRESS_CTRL_C {
            return Ok(urls);
        } else if listing && let Some(at) = line.find("http://") {
            let url = line[at..].split_whitespace().next().unwrap_or_default();
            urls.push((line[..at].trim().to_owned(), url.to_owned()));
        }
    }
}

/// `http://127.0.0.1:PORT/path` → (PORT, "/path").
fn split_url(url: &str) -> anyhow::Result<(u16, &str)> {
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .with_context(|| format!("not a loopback URL: {url}"))?;
    let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = port.parse().with_context(|| format!("no port in {url}"))?;
    Ok((port, if path.is_empty() { "/" } else { path }))
}

/// The API and the website both show exactly the seeded residents.
fn check_seeds(server_listing: u16, website: u16) -> anyhow::Result<()> {
    let page =
        http_get(server_listing, "/v1/servers?limit=100")?.expect_json(200, "GET /v1/servers")?;
    let servers = page["servers"].as_array().context("no servers array")?;
    ensure!(
        servers.len() == SEED_COUNT,
        "server-listing lists {} residents, expected the {SEED_COUNT} seeds",
        servers.len()
    );
    let residents = http_get(website, "/residents")?;
    for server in servers {
        let name = server["name"]
            .as_str()
            .context("a resident without a name")?;
        let shown = html_text(name);
        if !residents.body.contains(&shown) {
            bail!("/residents does not show the seed {name:?}");
        }
    }
    println!("dev-check: /residents shows the {SEED_COUNT} seeds");
    Ok(())
}

/// Each API fuzzed from its own `/openapi.json` by schemathesis with every check: no 5xx,
/// every status, header, content type and body as documented, schema-valid requests
/// accepted and invalid ones refused. Settings and their reasons: `schemathesis.toml`.
fn check_api_contracts(apis: &[(&str, u16)]) -> anyhow::Result<()> {
    let config = project_root().join("crates/xtask/schemathesis.toml");
    let sh = Shell::new()?;
    for (name, port) in apis {
        let schema = format!("http://127.0.0.1:{port}/openapi.json");
        cmd!(
            sh,
            "schemathesis --config-file {config} --no-color run --checks all {schema}"
        )
        .run()
        .with_context(|| {
            format!(
                "schemathesis: {name} does not keep its own OpenAPI document (details above; \
                 install the tool with `pip install -r crates/xtask/requirements.txt`)"
            )
        })?;
        println!("dev-check: {name} keeps its OpenAPI document under schemathesis");
    }
    Ok(())
}

/// The README's two-line demo, to the culprit on screen: the fault on, an admission
/// through the form, the 503 page's reference, `cargo xtask trace` on it; then off.
fn check_demo(website: u16) -> anyhow::Result<()> {
    // As the README says it, through cargo's alias.
    let cargo = env!("CARGO");
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    cmd!(sh, "{cargo} xtask admin faults on missing-ca-certificates").run()?;
    // Every service acts on a switch within 4 s (it reads the switchboard every 2 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let page = loop {
        let form = http_get(website, "/register")?;
        let token = form
            .body
            .split(r#"name="idempotency_token" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("the admission form carries no token")?
            .to_owned();
        let body = format!(
            "name=dev-check&type=m4.large&service=7&petname=patience&os=linux&idempotency_token={token}"
        );
        let page = http_request(
            "POST",
            website,
            "/register",
            Some(("application/x-www-form-urlencoded", &body)),
        )?;
        if page.status == 503 || std::time::Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    ensure!(
        page.status == 503,
        "with missing-ca-certificates on, an admission answered {}",
        page.status
    );
    let reference = crate::trace::find_reference(&page.body)
        .context("the 503 page quotes no trace reference")?;
    ensure!(
        page.body
            .contains(&format!("cargo xtask trace {reference}")),
        "the 503 page does not say where to look up {reference}"
    );
    let shown = cmd!(sh, "{cargo} xtask trace {reference}").read()?;
    println!("{shown}");
    for expected in [
        "where it failed first: register › DynamoDB.PutItem",
        "UnknownIssuer",
        "fault.name = missing-ca-certificates",
        // register's own line of the request, found by the reference in dev's logs.
        "answered POST /v1/registrations",
    ] {
        ensure!(
            shown.contains(expected),
            "`cargo xtask trace {reference}` does not show {expected:?}"
        );
    }
    // The same failure in the metrics, as `cargo xtask status` shows them (the services
    // export every second, Prometheus scrapes every 2 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = cmd!(sh, "{cargo} xtask status").read()?;
        let failed_put = |line: &&str| {
            line.starts_with("register") && line.contains("PutItem") && line.contains("tls")
        };
        if status.lines().any(|line| failed_put(&line)) {
            println!("{status}");
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "`cargo xtask status` does not show register's failed PutItem attempts:\n{status}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    cmd!(sh, "{cargo} xtask admin faults off --all").run()?;
    println!(
        "dev-check: the demo's 503 page led to register's failed PutItem in Jaeger and in \
         `cargo xtask status`"
    );
    Ok(())
}

/// SIGINT, what Ctrl-C sends.
fn interrupt(child: &Child) -> anyhow::Result<()> {
    let pid = Pid::from_raw(i32::try_from(child.id())?);
    kill(pid, Signal::SIGINT).with_context(|| format!("SIGINT to {pid}"))
}

fn wait_exit(child: &mut Child, limit: Duration) -> anyhow::Result<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("xtask dev did not exit within {limit:?} of SIGINT")
}

/// (pid, name) of the processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<(i32, String)> {
    let Ok(processes) = all_processes() else {
        return Vec::new();
    };
    processes
        .filter_map(|process| process.ok()?.stat().ok())
        .filter(|stat| u32::try_from(stat.ppid).is_ok_and(|ppid| ppid == parent))
        .map(|stat| (stat.pid, stat.comm))
        .collect()
}

/// Whether the process exists and is not a zombie.
fn running(pid: i32) -> bool {
    Process::new(pid)
        .and_then(|process| process.stat())
        .is_ok_and(|stat| stat.state != 'Z')
}
