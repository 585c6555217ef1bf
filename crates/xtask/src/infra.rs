//! `cargo xtask infra`: every check of `infra/` that needs more than `cargo test`, in one
//! command that also works on a fresh machine (CI's "infra" step).
//!
//! 1. The pinned Python tools (`infra/requirements.txt`) in the venv `target/ci-venv` (the
//!    one `.ci/run` makes), created if missing; pip skips what is already installed.
//! 2. cfn-lint over every template, then checkov (skips live beside the resource).
//! 3. The deploy rehearsal: `moto_server` on a free loopback port, and
//!    `infra/rehearsal/rehearse.py` creating every stack against it in the README's order.
//!
//! Prints PASS/FAIL per check and a summary line; fails if any check failed. The template
//! tests (`cargo test -p stack-tests --test stack -- infra:: collector::`) run with the
//! others.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::{free_port, project_root};

/// The venv of the pinned Python tools (`infra/requirements.txt`: the linters, moto),
/// made or brought up to date; its `bin` folder.
pub fn python_tools() -> anyhow::Result<PathBuf> {
    let sh = crate::root_shell()?;
    let venv = project_root().join("target/ci-venv");
    let bin = venv.join("bin");
    if !bin.join("pip").is_file() {
        cmd!(sh, "python3 -m venv {venv}").run()?;
    }
    let pip = bin.join("pip");
    cmd!(
        sh,
        "{pip} install --quiet --disable-pip-version-check -r infra/requirements.txt"
    )
    .run()?;
    Ok(bin)
}

pub fn run() -> anyhow::Result<()> {
    let root = project_root();
    let sh = crate::root_shell()?;
    let bin = root.join("target/ci-venv/bin");
    let templates = templates(&root.join("infra"))?;

    let mut results = Vec::new();
    check(&mut results, "python tools", || python_tools().map(drop));
    let tools_ready = results.iter().all(|(_, ok, _)| *ok);
    if tools_ready {
        check(&mut results, "cfn-lint", || {
            let lint = bin.join("cfn-lint");
            cmd!(sh, "{lint} {templates...}").run()?;
            Ok(())
        });
        check(&mut results, "checkov", || {
            let checkov = bin.join("checkov");
            cmd!(
                sh,
                "{checkov} -d infra --framework cloudformation --skip-download --quiet --compact"
            )
            .run()?;
            Ok(())
        });
        check(&mut results, "deploy rehearsal (moto)", || {
            rehearse(&sh, &root, &bin)
        });
    }

    eprintln!("\n=== infra summary");
    for (name, ok, took) in &results {
        eprintln!(
            "{}  {name} ({:.0} s)",
            if *ok { "PASS" } else { "FAIL" },
            took.as_secs_f64()
        );
    }
    let failed = results.iter().filter(|(_, ok, _)| !ok).count();
    if failed > 0 || !tools_ready {
        bail!("infra FAILED: {failed} of {} checks failed", results.len());
    }
    eprintln!("infra PASSED: all {} checks passed", results.len());
    Ok(())
}

/// Runs one check, noting whether it passed and how long it took.
fn check(
    results: &mut Vec<(&'static str, bool, Duration)>,
    name: &'static str,
    body: impl FnOnce() -> anyhow::Result<()>,
) {
    eprintln!("\n=== infra: {name}");
    let started = Instant::now();
    let outcome = body();
    if let Err(err) = &outcome {
        eprintln!("xtask infra: {name}: {err:#}");
    }
    results.push((name, outcome.is_ok(), started.elapsed()));
}

/// The templates: `infra/*.yaml` (the collector config lives in a subfolder).
fn templates(infra: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(infra)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            path.strip_prefix(project_root())
                .map(Path::to_path_buf)
                .unwrap_or(path)
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no templates in {}", infra.display());
    }
    Ok(files)
}

fn rehearse(sh: &Shell, root: &Path, bin: &Path) -> anyhow::Result<()> {
    let port = free_port()?;
    let log = root.join("target/moto-server.log");
    let server = MotoServer::start(bin, port, &log)?;
    server.wait_ready(Duration::from_secs(30))?;
    let python = bin.join("python");
    let endpoint = format!("http://127.0.0.1:{port}");
    let rehearsal = cmd!(
        sh,
        "{python} infra/rehearsal/rehearse.py --endpoint {endpoint}"
    )
    .run();
    drop(server);
    rehearsal.with_context(|| format!("the rehearsal failed (moto's log: {})", log.display()))
}

/// `moto_server` as a child process; stopped (and reaped) when dropped, also on error.
/// `std::process` rather than xshell: it keeps running while the rehearsal talks to it.
struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    fn start(bin: &Path, port: u16, log: &Path) -> anyhow::Result<Self> {
        let out = std::fs::File::create(log)?;
        let child = Command::new(bin.join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting moto_server (is moto[server] in infra/requirements.txt?)")?;
        Ok(Self { child, port })
    }

    fn wait_ready(&self, within: Duration) -> anyhow::Result<()> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("moto_server did not listen on {address} within {within:?}")
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
