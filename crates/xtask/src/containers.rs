//! `cargo xtask containers`: the container images and the compose stack, built and run
//! for real with podman.
//!
//! 1. lint: hadolint on every Dockerfile; `docker-compose config -q` (Compose v2) and
//!    `podman-compose config` on compose.yaml, alone and with the compose.ci.yaml overlay;
//! 2. build: the four images from docker/Dockerfile by `--target`, with VERSION and
//!    GIT_COMMIT; the first target compiles, the others reuse its builder layers;
//! 3. images: each runs as UID 65532, has no shell or package manager, carries the CA
//!    bundle, answers /health with its own name and the build's commit, passes its own
//!    HEALTHCHECK, and (the APIs, then the website through them) /ready against DynamoDB
//!    Local in a table the admin image created;
//! 4. compose: the stack comes up with podman-compose (with compose.ci.yaml: the collector
//!    and Jaeger images cannot be pulled on CI machines), one service at a time in the
//!    order and on the conditions its `depends_on` declares; it is seeded, the website's
//!    residents pages list every resident, it takes a registration through the API and
//!    one through the website's form, survives a second `up` without seeding twice,
//!    comes down without leaving a container or network, and comes up fresh after `down`.
//!
//! Tools: podman, podman-compose, docker-compose and hadolint, from the environment
//! variables PODMAN, PODMAN_COMPOSE, DOCKER_COMPOSE, HADOLINT, else PATH, else the venv
//! that `../shared/tools/container-standins.sh` creates. No registry is needed: builds use
//! `--pull=never`, and if the DynamoDB Local version pinned in `.env` is not present
//! locally, the local `latest` (the stand-in) is used and said so.
//!
//! Everything it starts is removed when it ends, also on failure or Ctrl-C (Drop guards).
//! Every wait is bounded; nothing asserts a duration.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use xshell::{Cmd, Shell};

use crate::http::{http_get, http_request};
use crate::project_root;

/// Final stages of docker/Dockerfile that serve HTTP; their binaries have the same names.
const SERVICES: [&str; 3] = ["server-listing", "register", "website"];
/// Every target built, the admin image first (it is the smallest final stage, and the
/// first target pays for the shared compile whichever it is).
const TARGETS: [&str; 4] = ["admin", "server-listing", "register", "website"];
/// infra/services.yaml runs the images as this user (distroless "nonroot").
const RUNTIME_USER: &str = "65532:65532";
/// The demo residents `cuddlekube-admin init` seeds (store::seed).
const SEED_COUNT: usize = 12;
/// Compose project for the smoke run: separate from a developer's own `cuddlekube` stack.
const PROJECT: &str = "cuddlekube-smoke";
/// Tag of the images this run builds; compose.yaml reads it from IMAGE_TAG.
const IMAGE_TAG: &str = "smoke";
/// Host ports compose.yaml publishes by default (WEBSITE_PORT, SERVER_LISTING_PORT,
/// REGISTER_PORT move them).
const DEFAULT_PORTS: [(&str, &str, u16); 3] = [
    ("website", "WEBSITE_PORT", 8080),
    ("server-listing", "SERVER_LISTING_PORT", 8081),
    ("register", "REGISTER_PORT", 8082),
];
/// Label on every container and network of step 3, so a crashed run's leftovers can be
/// found and removed by the next one.
const SANDBOX_LABEL: &str = "cuddlekube.xtask=containers";

/// Upper bounds. Generous: they exist so a hang ends the run, not to measure anything.
const BUILD_LIMIT: Duration = Duration::from_secs(90 * 60);
const COMMAND_LIMIT: Duration = Duration::from_secs(5 * 60);
const START_LIMIT: Duration = Duration::from_secs(120);

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`cargo xtask containers` takes no arguments (got {arg:?})");
    }
    let started = Instant::now();
    let stop = stop_on_ctrl_c()?;
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    let tools = Tools::find()?;
    let build = Build::describe(&sh)?;
    println!(
        "xtask containers: version {}, commit {}, images cuddlekube/<target>:{IMAGE_TAG}",
        build.version, build.commit
    );
    let ctx = Ctx {
        sh,
        tools,
        build,
        stop,
    };

    let mut summary = Summary {
        steps: Vec::new(),
        stop: Arc::clone(&ctx.stop),
    };
    summary.run("lint: hadolint (every Dockerfile)", || {
        lint_dockerfiles(&ctx)
    });
    summary.run(
        "lint: compose config (compose.yaml, + compose.ci.yaml)",
        || validate_compose_files(&ctx),
    );
    if summary.run("build: four images, one compile", || build_images(&ctx)) {
        image_checks(&ctx, &mut summary);
        compose_checks(&ctx, &mut summary);
    } else {
        summary.skip("image and compose checks", "the images did not build");
    }

    summary.print(started.elapsed());
    let failed = summary.failed();
    ensure!(failed == 0, "{failed} container check(s) failed");
    Ok(())
}

// ------------------------------------------------------------------ context and tools

struct Ctx {
    sh: Shell,
    tools: Tools,
    build: Build,
    stop: Arc<AtomicBool>,
}

impl Ctx {
    /// A command that is killed if it runs longer than `limit` (coreutils `timeout`), so
    /// a hung podman cannot hang the run.
    fn bounded(&self, limit: Duration, program: &Path) -> Cmd<'_> {
        self.sh
            .cmd("timeout")
            // Same process group as xtask: Ctrl-C reaches the command too.
            .arg("--foreground")
            .arg("--kill-after=10")
            .arg(limit.as_secs().to_string())
            .arg(program)
    }

    fn podman(&self) -> Cmd<'_> {
        self.bounded(COMMAND_LIMIT, &self.tools.podman)
    }

    fn check_stop(&self) -> anyhow::Result<()> {
        ensure!(!self.stop.load(Ordering::SeqCst), "interrupted");
        Ok(())
    }

    /// Polls `probe` every half second until it yields a value, `limit` passes, or Ctrl-C.
    /// On timeout the error names `what` and the probe's last complaint.
    fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut probe: impl FnMut() -> Result<T, String>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        let mut last = String::from("not tried");
        while started.elapsed() < limit {
            self.check_stop()?;
            match probe() {
                Ok(value) => return Ok(value),
                Err(why) => last = why,
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        bail!("{what}: not within {} s (last: {last})", limit.as_secs())
    }
}

/// Ctrl-C sets a flag that every wait checks; the children get the signal themselves.
/// Unwinding then runs the Drop guards, so nothing is left running.
fn stop_on_ctrl_c() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
    Ok(stop)
}

#[derive(Debug)]
struct Tools {
    podman: PathBuf,
    podman_compose: PathBuf,
    docker_compose: PathBuf,
    hadolint: PathBuf,
}

impl Tools {
    fn find() -> anyhow::Result<Self> {
        Ok(Self {
            podman: find_tool("podman", "PODMAN")?,
            podman_compose: find_tool("podman-compose", "PODMAN_COMPOSE")?,
            docker_compose: find_tool("docker-compose", "DOCKER_COMPOSE")?,
            hadolint: find_tool("hadolint", "HADOLINT")?,
        })
    }
}

/// `$override_var`, else PATH, else the stand-ins venv.
fn find_tool(name: &str, override_var: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(override_var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        ensure!(
            path.is_file(),
            "{override_var}={} is not a file",
            path.display()
        );
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(standins_bin_dirs())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!(
                "{name} not found (set {override_var}, put it on PATH, or run \
                 `bash ../shared/tools/container-standins.sh` from the repository root)"
            )
        })
}

/// Where container-standins.sh puts its venv: `$STANDINS_DIR/venv/bin`, its default
/// `${TMPDIR:-/tmp}/container-standins/venv/bin`, and whatever a saved log of the script
/// says ("tools in <dir>: ...").
fn standins_bin_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("STANDINS_DIR") {
        dirs.push(PathBuf::from(dir).join("venv/bin"));
    }
    let tmp = std::env::var_os("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    dirs.push(tmp.join("container-standins/venv/bin"));
    dirs.push(PathBuf::from("/tmp/container-standins/venv/bin"));
    if let Ok(log) = std::fs::read_to_string("/tmp/standins.log") {
        dirs.extend(log.lines().filter_map(|line| {
            let rest = line.split("tools in ").nth(1)?;
            Some(PathBuf::from(rest.split(':').next()?.trim()))
        }));
    }
    dirs
}

/// What the images are built from and must report.
#[derive(Debug)]
struct Build {
    /// The workspace version (`[workspace.package] version`), for the OCI label.
    version: String,
    /// `GIT_COMMIT` from the environment, else `git rev-parse --short=12 HEAD`, else
    /// "unknown"; `/health` must report exactly this.
    commit: String,
}

impl Build {
    fn describe(sh: &Shell) -> anyhow::Result<Self> {
        let version = match std::env::var("VERSION") {
            Ok(version) if !version.is_empty() => version,
            _ => workspace_version(&sh.read_file("Cargo.toml")?)
                .context("no `version` under [workspace.package] in Cargo.toml")?,
        };
        let commit = match std::env::var("GIT_COMMIT") {
            Ok(commit) if !commit.is_empty() => commit,
            _ => sh
                .cmd("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .quiet()
                .ignore_stderr()
                .read()
                .unwrap_or_else(|_| "unknown".into()),
        };
        Ok(Self { version, commit })
    }

    fn image(target: &str) -> String {
        format!("cuddlekube/{target}:{IMAGE_TAG}")
    }
}

fn workspace_version(manifest: &str) -> Option<String> {
    let section = manifest.split("[workspace.package]").nth(1)?;
    section
        .lines()
        .take_while(|line| !line.trim_start().starts_with('['))
        .find_map(|line| {
            let value = line.trim().strip_prefix("version")?.trim_start();
            Some(
                value
                    .strip_prefix('=')?
                    .trim()
                    .trim_matches('"')
                    .to_string(),
            )
        })
}

// ------------------------------------------------------------------ 1. lint

/// hadolint fails on any finding (its default threshold), so a new warning breaks CI.
fn lint_dockerfiles(ctx: &Ctx) -> anyhow::Result<()> {
    let root = project_root();
    let mut dockerfiles = Vec::new();
    find_dockerfiles(&root, &mut dockerfiles)?;
    ensure!(!dockerfiles.is_empty(), "no Dockerfile found");
    for dockerfile in &dockerfiles {
        let relative = dockerfile.strip_prefix(&root).unwrap_or(dockerfile);
        ctx.bounded(COMMAND_LIMIT, &ctx.tools.hadolint)
            .arg(relative)
            .run()
            .with_context(|| format!("hadolint {}", relative.display()))?;
        println!("hadolint: {} is clean", relative.display());
    }
    Ok(())
}

fn find_dockerfiles(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                find_dockerfiles(&path, found)?;
            }
        } else if name == "Dockerfile"
            || name.starts_with("Dockerfile.")
            || name.to_ascii_lowercase().ends_with(".dockerfile")
        {
            found.push(path);
        }
    }
    found.sort();
    Ok(())
}

/// Compose v2 is the reference parser (what users run); podman-compose must read the same
/// files too, since the smoke run below uses it.
fn validate_compose_files(ctx: &Ctx) -> anyhow::Result<()> {
    for files in [
        &["compose.yaml"][..],
        &["compose.yaml", "compose.ci.yaml"][..],
    ] {
        let file_args: Vec<&str> = files.iter().flat_map(|f| ["-f", *f]).collect();
        ctx.bounded(COMMAND_LIMIT, &ctx.tools.docker_compose)
            .args(&file_args)
            .args(["config", "-q"])
            .run()
            .with_context(|| format!("docker-compose config -q for {}", files.join(" + ")))?;
        ctx.bounded(COMMAND_LIMIT, &ctx.tools.podman_compose)
            .args(&file_args)
            .arg("config")
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| format!("podman-compose config for {}", files.join(" + ")))?;
        println!("compose config: {} is valid", files.join(" + "));
    }
    Ok(())
}

// ------------------------------------------------------------------ 2. build

/// One `podman build` per target. They share every stage up to the builder, so only the
/// first compiles; the rest are cache hits plus one COPY.
fn build_images(ctx: &Ctx) -> anyhow::Result<()> {
    let version_arg = format!("VERSION={}", ctx.build.version);
    let commit_arg = format!("GIT_COMMIT={}", ctx.build.commit);
    for target in TARGETS {
        ctx.check_stop()?;
        let started = Instant::now();
        ctx.bounded(BUILD_LIMIT, &ctx.tools.podman)
            .args(["build", "--pull=never", "--format", "docker"])
            .args(["-f", "docker/Dockerfile", "--target", target])
            .args(["--build-arg", &version_arg, "--build-arg", &commit_arg])
            .args(["-t", &Build::image(target), "."])
            .run()
            .with_context(|| format!("podman build --target {target}"))?;
        println!(
            "built {} in {} s",
            Build::image(target),
            started.elapsed().as_secs()
        );
    }
    println!("image sizes:");
    for target in TARGETS {
        let inspect = inspect_image(ctx, &Build::image(target))?;
        let bytes = inspect["Size"].as_u64().unwrap_or(0);
        println!("  {:<40} {:>6.1} MB", Build::image(target), mb(bytes));
    }
    Ok(())
}

/// Megabytes (10^6 bytes, as `podman images` counts them); only printed.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn inspect_image(ctx: &Ctx, image: &str) -> anyhow::Result<Value> {
    let json = ctx
        .podman()
        .args(["image", "inspect", image])
        .quiet()
        .read()?;
    let mut all: Value = serde_json::from_str(&json).context("podman image inspect: not JSON")?;
    Ok(all[0].take())
}

// ------------------------------------------------------------------ 3. images

fn image_checks(ctx: &Ctx, summary: &mut Summary) {
    for target in TARGETS {
        summary.run(&format!("image {target}: config"), || {
            check_image_config(ctx, target)
        });
        summary.run(&format!("image {target}: no shell"), || {
            check_no_shell(ctx, target)
        });
        summary.run(&format!("image {target}: CA bundle"), || {
            check_ca_bundle(ctx, target)
        });
    }
    // One sandbox for the runtime checks: a network, DynamoDB Local, the table (by the
    // admin image), the two APIs and the website in front of them.
    let mut sandbox = match summary.value("images: sandbox (DynamoDB Local + table)", || {
        Sandbox::start(ctx)
    }) {
        Some(sandbox) => sandbox,
        None => {
            summary.skip("images: runtime checks", "the sandbox did not start");
            return;
        }
    };
    for service in SERVICES {
        let port = match summary.value(&format!("image {service}: starts"), || {
            sandbox.start_service(ctx, service)
        }) {
            Some(port) => port,
            None => continue,
        };
        summary.run(&format!("image {service}: /health"), || {
            check_health(ctx, service, port)
        });
        summary.run(&format!("image {service}: HEALTHCHECK"), || {
            check_container_healthcheck(ctx, &Sandbox::container(service))
        });
        summary.run(&format!("image {service}: runs as non-root"), || {
            check_process_user(ctx, &Sandbox::container(service))
        });
        summary.run(&format!("image {service}: /ready"), || {
            check_ready(ctx, service, port)
        });
    }
    drop(sandbox);
}

/// The user, labels, entry point and health check the image declares. infra relies on the
/// user and on /usr/local/bin/<binary>; the labels tie an image to its commit.
fn check_image_config(ctx: &Ctx, target: &str) -> anyhow::Result<()> {
    let image = inspect_image(ctx, &Build::image(target))?;
    let config = &image["Config"];
    let user = config["User"].as_str().unwrap_or("");
    ensure!(
        user == RUNTIME_USER,
        "runs as {user:?}, expected {RUNTIME_USER}"
    );
    let label = |name: &str| config["Labels"][name].as_str().unwrap_or("").to_string();
    ensure!(
        label("org.opencontainers.image.revision") == ctx.build.commit,
        "label revision is {:?}, expected {:?}",
        label("org.opencontainers.image.revision"),
        ctx.build.commit
    );
    ensure!(
        label("org.opencontainers.image.version") == ctx.build.version,
        "label version is {:?}, expected {:?}",
        label("org.opencontainers.image.version"),
        ctx.build.version
    );
    ensure!(
        !label("org.opencontainers.image.source").is_empty(),
        "no org.opencontainers.image.source label"
    );
    let binary = binary_path(target);
    let entrypoint = strings(&config["Entrypoint"]);
    ensure!(
        entrypoint == [binary.as_str()],
        "entrypoint is {entrypoint:?}, expected [{binary:?}]"
    );
    if SERVICES.contains(&target) {
        // podman reports a docker-format image's HEALTHCHECK at the top level, Docker
        // under Config.
        let healthcheck = match &image["Healthcheck"] {
            Value::Null => &config["Healthcheck"],
            healthcheck => healthcheck,
        };
        let test = strings(&healthcheck["Test"]);
        ensure!(
            test == ["CMD", binary.as_str(), "healthcheck"],
            "HEALTHCHECK is {test:?}, expected CMD {binary} healthcheck"
        );
        ensure!(
            config["ExposedPorts"].get("8080/tcp").is_some(),
            "8080/tcp is not exposed"
        );
    }
    println!(
        "{target}: user {user}, revision {}, entrypoint {binary}",
        ctx.build.commit
    );
    Ok(())
}

fn binary_path(target: &str) -> String {
    let binary = if target == "admin" {
        "cuddlekube-admin"
    } else {
        target
    };
    format!("/usr/local/bin/{binary}")
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// No shell and no package manager: an attacker who gets code execution finds nothing to
/// run. The runtime reports 127 (command not found) for a missing entry point.
fn check_no_shell(ctx: &Ctx, target: &str) -> anyhow::Result<()> {
    for program in ["/bin/sh", "/bin/bash", "/usr/bin/apt-get"] {
        let output = ctx
            .podman()
            .args(["run", "--rm", "--pull=never", "--entrypoint", program])
            .args(["--label", SANDBOX_LABEL, &Build::image(target)])
            .quiet()
            .ignore_status()
            .output()?;
        let code = output.status.code();
        ensure!(
            code != Some(0),
            "{program} ran: the image has it (exit {code:?})"
        );
        ensure!(
            code == Some(127),
            "running {program} failed with {code:?}, expected 127 (not found): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    println!("{target}: /bin/sh, /bin/bash and apt-get are absent");
    Ok(())
}

/// The 2019 outage: an image without CA certificates cannot speak TLS to DynamoDB. The
/// file is copied out of a created (never started) container: no shell needed.
fn check_ca_bundle(ctx: &Ctx, target: &str) -> anyhow::Result<()> {
    const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
    let name = format!("ck-xtask-ca-{target}");
    let _ = ctx
        .podman()
        .args(["rm", "-f", &name])
        .quiet()
        .ignore_status()
        .ignore_stderr()
        .output();
    ctx.podman()
        .args(["create", "--pull=never", "--name", &name])
        .args(["--label", SANDBOX_LABEL, &Build::image(target)])
        .quiet()
        .ignore_stdout()
        .run()?;
    let _remove = Containers(ctx, vec![name.clone()]);
    let dir = ctx.sh.create_temp_dir()?;
    let copy = dir.path().join("ca-certificates.crt");
    ctx.podman()
        .args(["cp", &format!("{name}:{BUNDLE}")])
        .arg(&copy)
        .quiet()
        .run()
        .with_context(|| format!("{BUNDLE} is missing"))?;
    let bundle = ctx.sh.read_file(&copy)?;
    let certificates = bundle.matches("BEGIN CERTIFICATE").count();
    ensure!(certificates > 0, "{BUNDLE} holds no certificate");
    println!("{target}: {BUNDLE} holds {certificates} certificates");
    Ok(())
}

/// `/health`: 200, this service's name, the commit the build was given, status ok.
fn check_health(ctx: &Ctx, service: &str, port: u16) -> anyhow::Result<()> {
    let response = ctx.wait_for(&format!("{service} /health 200"), START_LIMIT, || {
        let response = http_get(port, "/health").map_err(|e| format!("{e:#}"))?;
        if response.status == 200 {
            Ok(response)
        } else {
            Err(format!("{} {}", response.status, response.body))
        }
    })?;
    let health = response.json()?;
    let field = |name: &str| health[name].as_str().unwrap_or("").to_string();
    ensure!(
        field("service") == service,
        "/health names {:?}, expected {service:?}: {}",
        field("service"),
        response.body
    );
    ensure!(
        field("commit") == ctx.build.commit,
        "/health reports commit {:?}, expected {:?} (GIT_COMMIT did not reach the compile?)",
        field("commit"),
        ctx.build.commit
    );
    ensure!(
        field("status") == "ok",
        "/health status {:?}",
        field("status")
    );
    ensure!(!field("version").is_empty(), "/health has no version");
    println!("{service}: /health {}", response.body.trim());
    Ok(())
}

/// The image's own HEALTHCHECK (`<binary> healthcheck`), run by the engine the way Docker
/// and ECS run it: inside the container, without a shell.
fn check_container_healthcheck(ctx: &Ctx, container: &str) -> anyhow::Result<()> {
    healthcheck(ctx, container)
        .map_err(|why| anyhow::anyhow!("`podman healthcheck run {container}` failed: {why}"))
}

/// The running process, seen from the host, is not root (the image config says so too,
/// but this is what actually runs).
fn check_process_user(ctx: &Ctx, container: &str) -> anyhow::Result<()> {
    let users = ctx
        .podman()
        .args(["top", container, "huser", "user"])
        .quiet()
        .read()?;
    let processes: Vec<&str> = users.lines().skip(1).collect();
    ensure!(!processes.is_empty(), "no process in {container}");
    for line in &processes {
        let fields: Vec<&str> = line.split_whitespace().collect();
        ensure!(
            fields.iter().all(|user| *user != "root" && *user != "0"),
            "a process in {container} runs as root: {line}"
        );
    }
    println!(
        "{container}: runs as {}",
        processes.first().map_or("", |l| l.trim())
    );
    Ok(())
}

/// `/ready`: the APIs reach DynamoDB Local and find the table; the website reaches both APIs.
fn check_ready(ctx: &Ctx, service: &str, port: u16) -> anyhow::Result<()> {
    ctx.wait_for(&format!("{service} /ready 200"), START_LIMIT, || {
        let response = http_get(port, "/ready").map_err(|e| format!("{e:#}"))?;
        if response.status == 200 {
            Ok(())
        } else {
            Err(format!("{} {}", response.status, response.body.trim()))
        }
    })?;
    println!("{service}: /ready 200");
    Ok(())
}

/// Step 3's containers: one network, DynamoDB Local, the services. Removed on drop.
struct Sandbox<'a> {
    ctx: &'a Ctx,
    network: String,
    containers: Vec<String>,
}

impl<'a> Sandbox<'a> {
    const NETWORK: &'static str = "ck-xtask-images";

    fn container(service: &str) -> String {
        format!("ck-xtask-{service}")
    }

    fn start(ctx: &'a Ctx) -> anyhow::Result<Self> {
        remove_leftovers(ctx);
        ctx.podman()
            .args(["network", "create", "--label", SANDBOX_LABEL, Self::NETWORK])
            .quiet()
            .ignore_stdout()
            .run()?;
        let mut sandbox = Self {
            ctx,
            network: Self::NETWORK.into(),
            containers: Vec::new(),
        };
        let dynamodb = DynamoDbImage::resolve(ctx)?;
        let name = Self::container("dynamodb");
        sandbox.containers.push(name.clone());
        ctx.podman()
            .args(["run", "-d", "--pull=never", "--name", &name])
            .args(["--label", SANDBOX_LABEL, "--network", Self::NETWORK])
            .args(["--network-alias", "dynamodb", &dynamodb.image])
            .quiet()
            .ignore_stdout()
            .run()?;
        sandbox.create_table()?;
        Ok(sandbox)
    }

    /// The admin image creates the table and seeds it. DynamoDB Local needs a few seconds
    /// to listen; `init` is idempotent, so it is simply retried until then.
    fn create_table(&self) -> anyhow::Result<()> {
        let mut attempts = 0;
        let output = self.ctx.wait_for(
            "cuddlekube-admin init against DynamoDB Local",
            START_LIMIT,
            || {
                attempts += 1;
                let output = self
                    .ctx
                    .podman()
                    .args(["run", "--rm", "--pull=never", "--network", Self::NETWORK])
                    .args(["--label", SANDBOX_LABEL, "--read-only", "--cap-drop", "ALL"])
                    .args(dynamodb_env_args())
                    .args([&Build::image("admin"), "init"])
                    .quiet()
                    .ignore_status()
                    .output()
                    .map_err(|e| e.to_string())?;
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                if output.status.success() {
                    Ok(text)
                } else {
                    Err(text.trim().to_string())
                }
            },
        )?;
        ensure!(
            output.contains(&format!("seeded {SEED_COUNT} demo resident")),
            "init did not seed {SEED_COUNT} residents: {output}"
        );
        println!(
            "admin image: init succeeded (attempt {attempts}): {}",
            output.trim().replace('\n', "; ")
        );
        Ok(())
    }

    /// Starts one service as infra runs it (read-only, no capabilities), published on a
    /// free loopback port; returns that port.
    fn start_service(&mut self, ctx: &Ctx, service: &str) -> anyhow::Result<u16> {
        let name = Self::container(service);
        let port = free_port()?;
        self.containers.push(name.clone());
        let mut env = vec![
            ("OTEL_SERVICE_NAME".to_string(), service.to_string()),
            ("LOG_FORMAT".into(), "json".into()),
        ];
        if service == "website" {
            for (var, api) in [
                ("SERVER_LISTING_URL", "server-listing"),
                ("REGISTER_URL", "register"),
            ] {
                env.push((var.into(), format!("http://{}:8080", Self::container(api))));
            }
        }
        let env_args: Vec<String> = env
            .iter()
            .flat_map(|(k, v)| ["-e".to_string(), format!("{k}={v}")])
            .chain(dynamodb_env_args())
            .collect();
        ctx.podman()
            .args(["run", "-d", "--pull=never", "--name", &name])
            .args(["--label", SANDBOX_LABEL, "--network", &self.network])
            .args(["--read-only", "--cap-drop", "ALL"])
            .args(["--security-opt", "no-new-privileges"])
            // Keep the image's HEALTHCHECK but no timer for it: podman schedules those
            // with systemd, absent here. The check runs on demand below.
            .arg("--health-interval=disable")
            .args(["-p", &format!("127.0.0.1:{port}:8080")])
            .args(&env_args)
            .arg(Build::image(service))
            .quiet()
            .ignore_stdout()
            .run()?;
        println!("{service}: started as {name} on 127.0.0.1:{port}");
        Ok(port)
    }
}

impl Drop for Sandbox<'_> {
    fn drop(&mut self) {
        drop(Containers(self.ctx, std::mem::take(&mut self.containers)));
        let _ = self
            .ctx
            .podman()
            .args(["network", "rm", "-f", &self.network])
            .quiet()
            .ignore_status()
            .ignore_stdout()
            .ignore_stderr()
            .output();
    }
}

/// Containers removed (stopped at once) when dropped.
struct Containers<'a>(&'a Ctx, Vec<String>);

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        if self.1.is_empty() {
            return;
        }
        let _ = self
            .0
            .podman()
            .args(["rm", "-f", "-t", "0"])
            .args(&self.1)
            .quiet()
            .ignore_status()
            .ignore_stdout()
            .ignore_stderr()
            .output();
    }
}

/// A run that was killed (SIGKILL, power loss) cannot clean up; the next one does.
fn remove_leftovers(ctx: &Ctx) {
    let leftovers = ctx
        .podman()
        .args(["ps", "-aq", "--filter", &format!("label={SANDBOX_LABEL}")])
        .quiet()
        .read()
        .unwrap_or_default();
    let ids: Vec<String> = leftovers.lines().map(str::to_string).collect();
    drop(Containers(ctx, ids));
    let _ = ctx
        .podman()
        .args(["network", "rm", "-f", Sandbox::NETWORK])
        .quiet()
        .ignore_status()
        .ignore_stdout()
        .ignore_stderr()
        .output();
}

/// What the admin and API containers need to use DynamoDB Local on the sandbox network.
/// DynamoDB Local accepts any static credentials.
fn dynamodb_env_args() -> Vec<String> {
    [
        ("RESIDENTS_TABLE", "cuddlekube"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://dynamodb:8000"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ]
    .iter()
    .flat_map(|(k, v)| ["-e".to_string(), format!("{k}={v}")])
    .collect()
}

/// The DynamoDB Local image: the version .env pins, or, when only the stand-in is present
/// (no registry here), the local `latest`.
struct DynamoDbImage {
    image: String,
    /// DYNAMODB_LOCAL_VERSION to give compose when it differs from the pin.
    version_override: Option<String>,
}

impl DynamoDbImage {
    const REPOSITORY: &'static str = "docker.io/amazon/dynamodb-local";

    fn resolve(ctx: &Ctx) -> anyhow::Result<Self> {
        let pinned = match std::env::var("DYNAMODB_LOCAL_VERSION") {
            Ok(version) if !version.is_empty() => version,
            _ => dotenv_value(&ctx.sh.read_file(".env")?, "DYNAMODB_LOCAL_VERSION")
                .context(".env does not pin DYNAMODB_LOCAL_VERSION")?,
        };
        let exists = |tag: &str| {
            ctx.podman()
                .args(["image", "exists", &format!("{}:{tag}", Self::REPOSITORY)])
                .quiet()
                .run()
                .is_ok()
        };
        if exists(&pinned) {
            return Ok(Self {
                image: format!("{}:{pinned}", Self::REPOSITORY),
                version_override: None,
            });
        }
        ensure!(
            exists("latest"),
            "{}:{pinned} is not present and cannot be pulled here; run \
             ../shared/tools/container-standins.sh (it builds a stand-in)",
            Self::REPOSITORY
        );
        println!(
            "note: {}:{pinned} (pinned in .env) is not present; using the local :latest stand-in",
            Self::REPOSITORY
        );
        Ok(Self {
            image: format!("{}:latest", Self::REPOSITORY),
            version_override: Some("latest".into()),
        })
    }
}

fn dotenv_value(dotenv: &str, key: &str) -> Option<String> {
    dotenv.lines().find_map(|line| {
        let (k, v) = line.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

// ------------------------------------------------------------------ 4. compose

fn compose_checks(ctx: &Ctx, summary: &mut Summary) {
    let stack = match summary.value("compose: prepare (ports, images)", || {
        ComposeStack::new(ctx)
    }) {
        Some(stack) => stack,
        None => return,
    };
    // The resident registered through the API, checked again after the second `up`.
    let registered = std::cell::RefCell::new(String::new());
    // Each step builds on the one before: after a failure the rest are skipped.
    let steps: [(&str, &dyn Fn() -> anyhow::Result<()>); 10] = [
        ("compose: up", &|| stack.up()),
        ("compose: table created and seeded (12)", &|| {
            expect_listing(&stack, SEED_COUNT, &[])
        }),
        ("compose: a registration appears in the listing", &|| {
            let ckid = register_resident(&stack)?;
            expect_listing(&stack, SEED_COUNT + 1, &[ckid.as_str()])?;
            println!("compose: {ckid} is listed with the {SEED_COUNT} seeds");
            *registered.borrow_mut() = ckid;
            Ok(())
        }),
        ("compose: website /health and /ready", &|| {
            check_health(ctx, "website", stack.port("website"))?;
            check_ready(ctx, "website", stack.port("website"))
        }),
        ("compose: healthchecks pass", &|| stack.healthchecks()),
        (
            "compose: website lists every resident, admits through its form",
            &|| website_page_checks(&stack),
        ),
        // init runs again on every `up`; it must add nothing to a seeded table.
        ("compose: second up (no down) seeds nothing twice", &|| {
            stack.up()?;
            let init = stack.init_output()?;
            ensure!(
                init.contains("seeded 0 demo resident"),
                "init on the second up: {init}"
            );
            // The seeds, the API's registration and the form's.
            expect_listing(&stack, SEED_COUNT + 2, &[registered.borrow().as_str()])
        }),
        ("compose: down leaves nothing", &|| stack.down()),
        // DynamoDB Local is in memory: a fresh `up` has only the seeds again.
        ("compose: up after down starts fresh (12)", &|| {
            stack.up()?;
            expect_listing(&stack, SEED_COUNT, &[])
        }),
        ("compose: final down", &|| stack.down()),
    ];
    let failures_before = summary.failed();
    for (name, step) in steps {
        if summary.failed() > failures_before {
            summary.skip(name, "an earlier compose step failed");
        } else {
            summary.run(name, step);
        }
    }
}

/// Checks of the website's pages through the compose stack: the residents pages list
/// every resident the API knows (seeds included), and a registration through the form
/// (with the form's own idempotency token) lands on the thank-you page and then on the
/// residents page.
fn website_page_checks(stack: &ComposeStack<'_>) -> anyhow::Result<()> {
    let port = stack.port("website");
    let listing = http_get(stack.port("server-listing"), "/v1/servers?limit=100")?
        .expect_json(200, "GET /v1/servers")?;
    let names: Vec<String> = listing["servers"]
        .as_array()
        .context("no `servers` array in the listing")?
        .iter()
        .filter_map(|server| server["name"].as_str().map(html_escape))
        .collect();
    ensure!(
        names.len() > SEED_COUNT,
        "the listing has {} residents",
        names.len()
    );
    let shown = residents_pages(port)?;
    let missing: Vec<&String> = names.iter().filter(|name| !shown.contains(*name)).collect();
    ensure!(missing.is_empty(), "/residents does not show {missing:?}");

    let form = http_get(port, "/register")?;
    ensure!(form.status == 200, "GET /register answered {}", form.status);
    let token = form
        .body
        .split_once(r#"name="idempotency_token" value=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_owned())
        .context("no idempotency_token in the register form")?;
    let name = format!("Compose Form {}", std::process::id());
    let body = format!(
        "idempotency_token={token}&name={}&type=t3.micro&service=3&petname=formy&os=linux",
        name.replace(' ', "+")
    );
    let posted = http_request(
        "POST",
        port,
        "/register",
        Some(("application/x-www-form-urlencoded", &body)),
    )?;
    let location = posted.header("location").unwrap_or_default();
    ensure!(
        posted.status == 303 && location.starts_with("/register/thanks"),
        "POST /register answered {} (Location {location:?}): {}",
        posted.status,
        posted.body
    );
    let thanks = http_get(port, location)?;
    ensure!(
        thanks.status == 200 && thanks.body.contains(&name),
        "{location} answered {} without the new resident's name",
        thanks.status
    );
    let first_page = http_get(port, "/residents")?;
    ensure!(
        first_page.body.contains(&name),
        "the form's resident {name:?} is not on /residents"
    );
    println!(
        "compose: /residents shows all {} residents; the form admitted {name:?}",
        names.len()
    );
    Ok(())
}

/// Every residents page, first to last (following rel="next"), as one string.
fn residents_pages(port: u16) -> anyhow::Result<String> {
    let mut path = "/residents".to_owned();
    let mut pages = String::new();
    for _ in 0..20 {
        let page = http_get(port, &path)?;
        ensure!(page.status == 200, "GET {path} answered {}", page.status);
        let next = page
            .body
            .split_once(r#"rel="next""#)
            .and_then(|(before, _)| before.rsplit_once(r#"href=""#))
            .and_then(|(_, href)| href.split_once('"'))
            .map(|(href, _)| href.replace("&amp;", "&"));
        pages.push_str(&page.body);
        match next {
            Some(next) => path = next,
            None => return Ok(pages),
        }
    }
    bail!("/residents has more than 20 pages")
}

/// Text as askama escapes it in HTML.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// GET /v1/servers?limit=100 on server-listing: exactly `expected` residents, all distinct,
/// including every id in `must_include`.
fn expect_listing(
    stack: &ComposeStack<'_>,
    expected: usize,
    must_include: &[&str],
) -> anyhow::Result<()> {
    let response = http_get(stack.port("server-listing"), "/v1/servers?limit=100")?;
    let page = response.expect_json(200, "GET /v1/servers")?;
    let servers = page["servers"]
        .as_array()
        .context("no `servers` array in the listing")?;
    ensure!(
        page["next_cursor"].is_null(),
        "more than 100 residents (a next_cursor came back)"
    );
    let ids: std::collections::BTreeSet<&str> =
        servers.iter().filter_map(|s| s["ckid"].as_str()).collect();
    ensure!(
        ids.len() == servers.len(),
        "duplicate or missing ckids in the listing: {}",
        response.body
    );
    ensure!(
        servers.len() == expected,
        "the listing has {} residents, expected {expected}",
        servers.len()
    );
    for id in must_include {
        ensure!(ids.contains(id), "{id} is not in the listing");
    }
    Ok(())
}

/// POST /v1/registrations on register; returns the new resident's ckid.
fn register_resident(stack: &ComposeStack<'_>) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "name": format!("Smoke Test {}", std::process::id()),
        "type": "m5.large",
        "os": "linux",
        "petname": "smokey",
    })
    .to_string();
    let response = http_request(
        "POST",
        stack.port("register"),
        "/v1/registrations",
        Some(("application/json", &body)),
    )?;
    let resident = response.expect_json(201, "POST /v1/registrations")?;
    let ckid = resident["ckid"]
        .as_str()
        .context("the 201 has no ckid")?
        .to_string();
    Ok(ckid)
}

/// A service's `depends_on`: (dependency, condition) pairs.
type Dependencies = Vec<(String, String)>;

/// The compose project of the smoke run, taken down (and its containers removed) on drop.
struct ComposeStack<'a> {
    ctx: &'a Ctx,
    /// Host ports of website, server-listing and register.
    ports: BTreeMap<&'static str, u16>,
    env: Vec<(String, String)>,
}

impl<'a> ComposeStack<'a> {
    const FILES: [&'static str; 4] = ["-f", "compose.yaml", "-f", "compose.ci.yaml"];

    fn new(ctx: &'a Ctx) -> anyhow::Result<Self> {
        let dynamodb = DynamoDbImage::resolve(ctx)?;
        let mut env = vec![
            ("IMAGE_TAG".to_string(), IMAGE_TAG.to_string()),
            ("VERSION".into(), ctx.build.version.clone()),
            ("GIT_COMMIT".into(), ctx.build.commit.clone()),
        ];
        if let Some(version) = dynamodb.version_override {
            env.push(("DYNAMODB_LOCAL_VERSION".into(), version));
        }
        // The default ports, unless something on this (shared) machine holds one.
        let mut ports = BTreeMap::new();
        for (service, var, default) in DEFAULT_PORTS {
            let port = if port_is_free(default) {
                default
            } else {
                let port = free_port()?;
                println!("note: 127.0.0.1:{default} is taken; {service} is published on {port}");
                port
            };
            ports.insert(service, port);
            env.push((var.into(), port.to_string()));
        }
        let stack = Self { ctx, ports, env };
        stack.remove_project_containers(); // a killed earlier run's leftovers
        Ok(stack)
    }

    fn port(&self, service: &str) -> u16 {
        self.ports[service]
    }

    fn compose(&self) -> Cmd<'_> {
        self.ctx
            .bounded(START_LIMIT * 2, &self.ctx.tools.podman_compose)
            .arg("--podman-path")
            .arg(&self.ctx.tools.podman)
            .args(["-p", PROJECT])
            .args(Self::FILES)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
    }

    /// `up`, with the start order compose.yaml declares. podman-compose cannot be left to
    /// it here: it turns `depends_on` into podman `--requires`, and podman 4.3 refuses to
    /// start a container whose dependency has exited (the one-shot init), and it does not
    /// wait for `service_healthy` on podman < 4.6. So each service is brought up alone
    /// (`--no-deps`) once its dependencies meet their declared conditions, which is what
    /// Docker Compose does.
    fn up(&self) -> anyhow::Result<()> {
        for (service, dependencies) in self.start_order()? {
            for (dependency, condition) in &dependencies {
                self.wait_for_condition(dependency, condition)?;
            }
            self.compose()
                .args(["up", "-d", "--no-build", "--no-deps", &service])
                .run()
                .with_context(|| format!("podman-compose up {service}"))?;
        }
        for service in ["server-listing", "register", "website"] {
            check_ready(self.ctx, service, self.port(service))?;
        }
        Ok(())
    }

    /// The services of compose.yaml + compose.ci.yaml with their `depends_on` conditions,
    /// dependencies first, as Compose v2 resolves them.
    fn start_order(&self) -> anyhow::Result<Vec<(String, Dependencies)>> {
        let json = self
            .ctx
            .bounded(COMMAND_LIMIT, &self.ctx.tools.docker_compose)
            .args(Self::FILES)
            .args(["config", "--format", "json"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .quiet()
            .read()?;
        let config: Value = serde_json::from_str(&json).context("compose config: not JSON")?;
        start_order(&config)
    }

    /// Waits until `service` meets a `depends_on` condition.
    fn wait_for_condition(&self, service: &str, condition: &str) -> anyhow::Result<()> {
        let container = self.container(service)?;
        let what = format!("{service}: {condition}");
        match condition {
            "service_healthy" => self
                .ctx
                .wait_for(&what, START_LIMIT, || healthcheck(self.ctx, &container)),
            "service_completed_successfully" => {
                let code = self.ctx.wait_for(&what, START_LIMIT, || {
                    match self.state(&container)?.split_once(' ') {
                        Some(("exited" | "stopped", code)) => Ok(code.to_string()),
                        other => Err(format!("{service} is {other:?}")),
                    }
                })?;
                if code != "0" {
                    let logs = self
                        .ctx
                        .podman()
                        .args(["logs", "--tail", "20", &container])
                        .quiet()
                        .read()
                        .unwrap_or_default();
                    bail!("{service} exited {code}: {logs}");
                }
                Ok(())
            }
            _ => self.ctx.wait_for(&what, START_LIMIT, || {
                match self.state(&container)?.split_once(' ') {
                    Some(("running", _)) => Ok(()),
                    other => Err(format!("{service} is {other:?}")),
                }
            }),
        }
    }

    /// What init printed on its latest run.
    fn init_output(&self) -> anyhow::Result<String> {
        let init = self.container("init")?;
        let output = self
            .ctx
            .podman()
            .args(["logs", "--tail", "2", &init])
            .quiet()
            .read()?;
        Ok(output.trim().replace('\n', "; "))
    }

    /// "<status> <exit code>" of a container.
    fn state(&self, container: &str) -> Result<String, String> {
        self.ctx
            .podman()
            .args([
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.ExitCode}}",
            ])
            .arg(container)
            .quiet()
            .read()
            .map(|state| state.trim().to_string())
            .map_err(|e| e.to_string())
    }

    /// The healthchecks compose.yaml declares, run by the engine (podman-compose passes
    /// them to podman; Docker Compose gates the start order on them).
    fn healthchecks(&self) -> anyhow::Result<()> {
        for service in ["dynamodb", "server-listing", "register", "website"] {
            let container = self.container(service)?;
            healthcheck(self.ctx, &container)
                .map_err(|why| anyhow::anyhow!("{service} unhealthy: {why}"))?;
            println!("compose: {service} healthy");
        }
        Ok(())
    }

    /// `down`, then proof that nothing of the project is left.
    fn down(&self) -> anyhow::Result<()> {
        self.compose()
            .arg("down")
            .run()
            .context("podman-compose down")?;
        let left = self.project_containers()?;
        ensure!(
            left.is_empty(),
            "containers left after down: {}",
            left.join(", ")
        );
        let networks = self
            .ctx
            .podman()
            .args(["network", "ls", "--format", "{{.Name}}"])
            .args([
                "--filter",
                &format!("label=io.podman.compose.project={PROJECT}"),
            ])
            .quiet()
            .read()?;
        ensure!(
            networks.trim().is_empty(),
            "networks left after down: {}",
            networks.trim()
        );
        Ok(())
    }

    fn project_containers(&self) -> anyhow::Result<Vec<String>> {
        self.containers_labelled(&[])
    }

    /// The container of one compose service, by the labels podman-compose sets.
    fn container(&self, service: &str) -> anyhow::Result<String> {
        let label = format!("com.docker.compose.service={service}");
        self.containers_labelled(&[&label])?
            .into_iter()
            .next()
            .with_context(|| format!("no container for compose service {service}"))
    }

    /// Names of this project's containers (running or not) carrying every label given.
    fn containers_labelled(&self, labels: &[&str]) -> anyhow::Result<Vec<String>> {
        let mut ps = self
            .ctx
            .podman()
            .args(["ps", "-a", "--format", "{{.Names}}"])
            .args([
                "--filter",
                &format!("label=io.podman.compose.project={PROJECT}"),
            ]);
        for label in labels {
            ps = ps.args(["--filter", &format!("label={label}")]);
        }
        let names = ps.quiet().read()?;
        Ok(names.lines().map(str::to_string).collect())
    }

    fn remove_project_containers(&self) {
        let _ = self.compose().arg("down").quiet().ignore_status().output();
        if let Ok(left) = self.project_containers() {
            drop(Containers(self.ctx, left));
        }
    }
}

impl Drop for ComposeStack<'_> {
    fn drop(&mut self) {
        self.remove_project_containers();
    }
}

/// Services of a resolved compose config (`config --format json`) with their
/// `depends_on` conditions, each after everything it depends on.
fn start_order(config: &Value) -> anyhow::Result<Vec<(String, Dependencies)>> {
    let services = config["services"]
        .as_object()
        .context("compose config has no services")?;
    let mut pending: BTreeMap<String, Dependencies> = services
        .iter()
        .map(|(name, service)| {
            let dependencies = service["depends_on"]
                .as_object()
                .map(|deps| {
                    deps.iter()
                        .map(|(dep, how)| {
                            let condition = how["condition"].as_str().unwrap_or("");
                            (dep.clone(), condition.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            (name.clone(), dependencies)
        })
        .collect();
    let mut order: Vec<(String, Dependencies)> = Vec::new();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .find(|(_, deps)| {
                deps.iter()
                    .all(|(dep, _)| order.iter().any(|(s, _)| s == dep))
            })
            .map(|(name, _)| name.clone())
            .context("depends_on has a cycle or names a missing service")?;
        let dependencies = pending.remove(&ready).unwrap_or_default();
        order.push((ready, dependencies));
    }
    Ok(order)
}

/// `podman healthcheck run`: the container's declared check, run now.
fn healthcheck(ctx: &Ctx, container: &str) -> Result<(), String> {
    let output = ctx
        .podman()
        .args(["healthcheck", "run", container])
        .quiet()
        .ignore_status()
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

// ------------------------------------------------------------------ ports

fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

// ------------------------------------------------------------------ summary

enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

struct Summary {
    steps: Vec<(String, Outcome, Duration)>,
    /// Set by Ctrl-C: what has not run yet is skipped, what was running counts as failed.
    stop: Arc<AtomicBool>,
}

impl Summary {
    /// Runs one check, prints and records its outcome; true when it passed.
    fn run(&mut self, name: &str, check: impl FnOnce() -> anyhow::Result<()>) -> bool {
        self.value(name, check).is_some()
    }

    /// Like `run`, for a step whose result later steps use.
    fn value<T>(&mut self, name: &str, step: impl FnOnce() -> anyhow::Result<T>) -> Option<T> {
        if self.stop.load(Ordering::SeqCst) {
            self.skip(name, "interrupted");
            return None;
        }
        println!("\n=== {name}");
        let started = Instant::now();
        let result = step();
        // A step that Ctrl-C cut short failed because of it, whatever it reports.
        let result = match result {
            _ if !self.stop.load(Ordering::SeqCst) => result,
            Ok(_) => Err(anyhow::anyhow!("interrupted")),
            Err(err) if err.to_string() == "interrupted" => Err(err),
            Err(err) => Err(err.context("interrupted")),
        };
        let elapsed = started.elapsed();
        match result {
            Ok(value) => {
                println!("--- PASS {name}");
                self.steps.push((name.into(), Outcome::Pass, elapsed));
                Some(value)
            }
            Err(err) => {
                println!("--- FAIL {name}: {err:#}");
                self.steps
                    .push((name.into(), Outcome::Fail(format!("{err:#}")), elapsed));
                None
            }
        }
    }

    fn skip(&mut self, name: &str, reason: &str) {
        println!("--- SKIP {name}: {reason}");
        self.steps
            .push((name.into(), Outcome::Skip(reason.into()), Duration::ZERO));
    }

    fn failed(&self) -> usize {
        self.steps
            .iter()
            .filter(|(_, outcome, _)| matches!(outcome, Outcome::Fail(_)))
            .count()
    }

    fn print(&self, total: Duration) {
        println!("\n=== containers summary");
        for (name, outcome, elapsed) in &self.steps {
            let secs = elapsed.as_secs();
            match outcome {
                Outcome::Pass => println!("PASS  {name} ({secs} s)"),
                Outcome::Fail(why) => {
                    let first = why.lines().next().unwrap_or("");
                    println!("FAIL  {name} ({secs} s): {first}");
                }
                Outcome::Skip(why) => println!("SKIP  {name}: {why}"),
            }
        }
        let count = |f: fn(&Outcome) -> bool| self.steps.iter().filter(|s| f(&s.1)).count();
        println!(
            "{} passed, {} failed, {} skipped in {} s",
            count(|o| matches!(o, Outcome::Pass)),
            count(|o| matches!(o, Outcome::Fail(_))),
            count(|o| matches!(o, Outcome::Skip(_))),
            total.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_workspace_version() {
        let manifest = "[workspace]\nmembers = []\n\n[workspace.package]\nedition = \"2024\"\n\
                        version = \"1.2.3\"\n\n[package]\nversion = \"9.9.9\"\n";
        assert_eq!(workspace_version(manifest).as_deref(), Some("1.2.3"));
        assert_eq!(workspace_version("[package]\nversion = \"1\"\n"), None);
    }

    #[test]
    fn reads_a_pinned_version_from_dotenv() {
        let dotenv = "# pins\nJAEGER_VERSION=2.21.0\nDYNAMODB_LOCAL_VERSION=\"3.3.0\"\n";
        assert_eq!(
            dotenv_value(dotenv, "DYNAMODB_LOCAL_VERSION").as_deref(),
            Some("3.3.0")
        );
        assert_eq!(dotenv_value(dotenv, "MISSING"), None);
    }

    #[test]
    fn orders_services_after_their_dependencies() {
        let config = serde_json::json!({"services": {
            "website": {"depends_on": {
                "register": {"condition": "service_healthy"},
                "server-listing": {"condition": "service_healthy"}}},
            "server-listing": {"depends_on": {"init": {"condition": "service_completed_successfully"}}},
            "register": {"depends_on": {"init": {"condition": "service_completed_successfully"}}},
            "init": {"depends_on": {"dynamodb": {"condition": "service_healthy"}}},
            "dynamodb": {},
        }});
        let order = start_order(&config).unwrap();
        let names: Vec<&str> = order.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["dynamodb", "init", "register", "server-listing", "website"]
        );
        assert_eq!(
            order[1].1,
            [("dynamodb".to_string(), "service_healthy".to_string())]
        );
    }

    #[test]
    fn refuses_a_dependency_cycle() {
        let config = serde_json::json!({"services": {
            "a": {"depends_on": {"b": {"condition": "service_started"}}},
            "b": {"depends_on": {"a": {"condition": "service_started"}}},
        }});
        assert!(start_order(&config).is_err());
    }
}
