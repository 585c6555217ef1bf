//! `cargo xtask arm64`: the binaries as Graviton runs them. Cross-compiles website,
//! register, server-listing and cuddlekube-admin for `aarch64-unknown-linux-gnu` (Debian's
//! cross linker), checks each is an ARM64 executable, and runs them under
//! `qemu-aarch64-static` against DynamoDB Local behind the TLS proxy (so the handshake is
//! aws-lc's ARM64 code): admin creates and seeds the table, each service answers
//! `/health` with its own name and `/ready`, an admission through register is read back
//! from server-listing and shown on the website's resident page.
//!
//! Needs `rustup` (the target is added if missing), `aarch64-linux-gnu-gcc`
//! (`gcc-aarch64-linux-gnu libc6-dev-arm64-cross`) and `qemu-aarch64-static`
//! (`qemu-user-static`); says which is missing. A debug build: this checks that the code
//! builds and runs on ARM64, not how fast.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail, ensure};

use crate::dev::{Processes, wait_for_health};
use crate::http::{http_get, http_request};
use crate::{dynamodb, project_root};

pub const TARGET: &str = "aarch64-unknown-linux-gnu";
const LINKER: &str = "aarch64-linux-gnu-gcc";
const QEMU: &str = "qemu-aarch64-static";
/// Where Debian's cross packages put the ARM64 C library qemu loads the binaries with.
const SYSROOT: &str = "/usr/aarch64-linux-gnu";
/// ELF `e_machine` of AArch64.
const EM_AARCH64: u16 = 183;

const SERVICES: [&str; 3] = ["server-listing", "register", "website"];

pub fn run() -> anyhow::Result<()> {
    require_tools()?;
    let sh = crate::root_shell()?;
    let cargo = env!("CARGO");
    println!("xtask arm64: cross-compiling for {TARGET}");
    xshell::cmd!(
        sh,
        "{cargo} build --locked --target {TARGET} -p website -p register -p server-listing -p admin"
    )
    .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", LINKER)
    .env("CC_aarch64_unknown_linux_gnu", LINKER)
    .run()
    .context("cross-compile for ARM64")?;
    // The TLS proxy in front of DynamoDB Local is the host's admin: only the services'
    // side of the handshake is under test.
    xshell::cmd!(sh, "{cargo} build --locked -p admin")
        .run()
        .context("build the host's cuddlekube-admin")?;

    let arm = |name: &str| project_root().join(format!("target/{TARGET}/debug/{name}"));
    for name in SERVICES.iter().copied().chain(["cuddlekube-admin"]) {
        let machine = elf_machine(&arm(name))?;
        ensure!(
            machine == EM_AARCH64,
            "{name}: ELF machine {machine}, not AArch64 ({EM_AARCH64})"
        );
        println!("xtask arm64: {name} is an AArch64 executable");
    }

    let dynamodb = dynamodb::start()?;
    let mut processes = Processes(Vec::new());
    let (proxy, _, aws) = dynamodb::behind_tls(
        &dynamodb,
        &project_root().join("target/debug/cuddlekube-admin"),
        &project_root().join("target/arm64/certs"),
    )?;
    processes.0.push(("tls-proxy", proxy));

    let status = under_qemu(&arm("cuddlekube-admin"))
        .arg("init")
        .envs(aws.iter().map(|(k, v)| (*k, v)))
        .status()
        .context("run cuddlekube-admin init under qemu")?;
    ensure!(
        status.success(),
        "cuddlekube-admin init (ARM64) failed: {status}"
    );

    let ports = SERVICES
        .map(|_| free_port())
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    let port_of = |name: &str| ports[SERVICES.iter().position(|s| *s == name).unwrap_or(0)];
    for (name, port) in SERVICES.iter().zip(&ports) {
        let child = under_qemu(&arm(name))
            .env("PORT", port.to_string())
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .env(
                "SERVER_LISTING_URL",
                format!("http://127.0.0.1:{}", port_of("server-listing")),
            )
            .env(
                "REGISTER_URL",
                format!("http://127.0.0.1:{}", port_of("register")),
            )
            .envs(aws.iter().map(|(k, v)| (*k, v)))
            .spawn()
            .with_context(|| format!("start {name} under qemu"))?;
        processes.0.push((name, child));
    }
    for (name, port) in SERVICES.iter().zip(&ports) {
        wait_for_health(name, *port)?;
        let health = http_get(*port, "/health")?.expect_json(200, "GET /health")?;
        ensure!(
            health["service"] == *name,
            "{name}'s /health names {}",
            health["service"]
        );
        http_get(*port, "/ready")?.expect_json(200, "GET /ready")?;
        println!("xtask arm64: {name} (ARM64, under qemu) answers /health and /ready");
    }

    let name = "Graviton round trip";
    let registration = serde_json::json!({"name": name, "type": "m7g.large", "os": "linux"});
    let admitted = http_request(
        "POST",
        port_of("register"),
        "/v1/registrations",
        Some(("application/json", &registration.to_string())),
    )?
    .expect_json(201, "POST /v1/registrations")?;
    let ckid = admitted["ckid"]
        .as_str()
        .context("the admission has a ckid")?;
    let read = http_get(port_of("server-listing"), &format!("/v1/servers/{ckid}"))?
        .expect_json(200, "GET /v1/servers/{ckid}")?;
    ensure!(read["name"] == name, "server-listing read back {read}");
    let page = http_get(port_of("website"), &format!("/residents/{ckid}"))?;
    ensure!(
        page.status == 200 && page.body.contains(name),
        "the website's page of {ckid} answered {} without the name",
        page.status
    );
    println!(
        "xtask arm64: admitted {ckid} through register, read it from server-listing, shown by the website — all ARM64"
    );
    drop(processes);
    println!("xtask arm64: PASSED");
    Ok(())
}

/// Says what is missing, with the package that has it.
fn require_tools() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup (to add the ARM64 target)")?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t == TARGET)
    {
        let status = Command::new("rustup")
            .args(["target", "add", TARGET])
            .status()?;
        ensure!(status.success(), "rustup target add {TARGET} failed");
    }
    for (tool, package) in [
        (LINKER, "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"),
        (QEMU, "qemu-user-static"),
    ] {
        if Command::new(tool).arg("--version").output().is_err() {
            bail!("{tool} not found: apt-get install {package}");
        }
    }
    Ok(())
}

/// `binary` run by qemu's user-mode emulator (no binfmt registration needed).
fn under_qemu(binary: &Path) -> Command {
    let mut command = Command::new(QEMU);
    command.arg("-L").arg(SYSROOT).arg(binary);
    command
}

/// The ELF header's `e_machine` (little-endian, bytes 18–19).
fn elf_machine(binary: &Path) -> anyhow::Result<u16> {
    let bytes = std::fs::read(binary).with_context(|| format!("read {}", binary.display()))?;
    ensure!(
        bytes.len() > 20 && bytes.starts_with(b"\x7fELF"),
        "{} is not an ELF file",
        binary.display()
    );
    Ok(u16::from_le_bytes([bytes[18], bytes[19]]))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
