//! `cargo xtask containers`: the container images and the compose stack, built and run
//! for real with podman.
//!
//! 1. lint (`lint.rs`): hadolint on every Dockerfile and Containerfile;
//!    `docker-compose config -q` (Compose v2) and `podman-compose config` on compose.yaml;
//! 2. build (`platforms.rs`, `build.rs`): the runtime base made to offer amd64 and arm64
//!    (a stand-in for the platform the machine's base lacks); the five images from
//!    docker/Dockerfile by `--target` for each platform, with VERSION and GIT_COMMIT (per
//!    platform the first target compiles, the others reuse its builder layers; the builder
//!    cross-compiles for arm64), each target's two put together as one image index. Then
//!    (`standins.rs`) the collector, Jaeger and Prometheus images compose.yaml runs, where
//!    they are missing: stand-ins from the binaries of `cargo xtask backends` and from
//!    Debian's `prometheus` (`prometheus.rs`), under the official names and the versions
//!    .env pins;
//! 3. images (`images.rs`), per platform (arm64 under qemu, through binfmt_misc): each runs
//!    as UID 65532, is built for its platform, has no shell or package manager, carries the
//!    CA bundle; each service answers /health with its own name and the build's commit,
//!    passes its own HEALTHCHECK, and (the APIs, then the website through them) /ready
//!    against DynamoDB Local in a table the admin image created; an admission through
//!    register is read back from server-listing and shown by the website;
//! 4. compose (`compose.rs`; the stack itself in `stack.rs`): the whole compose.yaml comes
//!    up with podman-compose, one service at a time in the order and on the conditions
//!    its `depends_on` declares, DynamoDB behind its TLS proxy, the services exporting to
//!    the collector and the collector to Jaeger and Prometheus; it is seeded, the website's
//!    residents pages list every resident, it takes a registration through the API and one
//!    through the website's form, whose trace (website → register → DynamoDB) is found in
//!    Jaeger through its published query API, Prometheus (on its published port) scrapes
//!    the collector, has the services' requests and loaded the alert rules,
//!    `missing-ca-certificates` fails register's real TLS handshake and `off` recovers it,
//!    it survives a second `up` without seeding twice, the `load` profile's loadgen walks
//!    it, it comes down without leaving a container or network, and comes up fresh after
//!    `down`.
//!
//! Tools: podman, podman-compose, docker-compose and hadolint, from the environment
//! variables PODMAN, PODMAN_COMPOSE, DOCKER_COMPOSE, HADOLINT, else PATH, else the venv
//! that `../shared/tools/container-standins.sh` creates. No registry is needed: builds use
//! `--pull=never`, and if the DynamoDB Local version pinned in `.env` is not present
//! locally, the local `latest` (the stand-in) is used and said so; the collector, Jaeger
//! and Prometheus images are built as stand-ins when missing (`standins.rs`).
//!
//! This file holds the run, its context and the tools; `podman.rs` what steps 3 and 4
//! share of podman, `summary.rs` the closing summary.
//!
//! Everything it starts is removed when it ends, also on failure or Ctrl-C (Drop guards).
//! Every wait is bounded; nothing asserts a duration.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use xshell::{Cmd, Shell};

use compose::compose_checks;
use images::image_checks;
use lint::{lint_dockerfiles, validate_compose_files};
use summary::Summary;

mod build;
mod compose;
mod images;
mod lint;
mod platforms;
mod podman;
mod prometheus;
mod stack;
mod standins;
mod summary;

/// Final stages of docker/Dockerfile that serve HTTP; their binaries have the same names.
const SERVICES: [&str; 3] = ["server-listing", "register", "website"];
/// Every target built, the admin image first (it is the smallest final stage, and the
/// first target pays for the shared compile whichever it is).
const TARGETS: [&str; 5] = ["admin", "loadgen", "server-listing", "register", "website"];
/// infra/services.yaml runs the images as this user (distroless "nonroot").
const RUNTIME_USER: &str = "65532:65532";
/// The demo residents `cuddlekube-admin init` seeds (store::seed).
const SEED_COUNT: usize = 12;
/// Compose project for the smoke run: separate from a developer's own `cuddlekube` stack.
const PROJECT: &str = "cuddlekube-smoke";
/// Tag of the images this run builds; compose.yaml reads it from IMAGE_TAG.
const IMAGE_TAG: &str = "smoke";
/// Host ports compose.yaml publishes by default (WEBSITE_PORT, SERVER_LISTING_PORT,
/// REGISTER_PORT, JAEGER_UI_PORT and PROMETHEUS_PORT move them).
const DEFAULT_PORTS: [(&str, &str, u16); 5] = [
    ("website", "WEBSITE_PORT", 8080),
    ("server-listing", "SERVER_LISTING_PORT", 8081),
    ("register", "REGISTER_PORT", 8082),
    ("jaeger", "JAEGER_UI_PORT", 16686),
    ("prometheus", "PROMETHEUS_PORT", 9090),
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
    let sh = crate::root_shell()?;
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

    let mut summary = Summary::new(Arc::clone(&ctx.stop));
    summary.run(
        "lint: hadolint (every Dockerfile and Containerfile)",
        || lint_dockerfiles(&ctx),
    );
    summary.run("lint: compose config (compose.yaml)", || {
        validate_compose_files(&ctx)
    });
    let base = summary.run("build: the runtime base for amd64 and arm64", || {
        platforms::ensure_runtime_base(&ctx)
    });
    let built = if base {
        summary.run(
            "build: five images for amd64 and arm64, one compile each, one index per image",
            || build::build_images(&ctx),
        )
    } else {
        summary.skip("build: the images", "their base is missing");
        false
    };
    let standins = summary.run(
        "build: collector, Jaeger and Prometheus images (stand-ins where missing)",
        || standins::ensure_standins(&ctx),
    );
    if built {
        image_checks(&ctx, &mut summary);
    } else {
        summary.skip("image checks", "the images did not build");
    }
    if built && standins {
        compose_checks(&ctx, &mut summary);
    } else {
        summary.skip("compose checks", "an image compose.yaml runs is missing");
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

/// Where container-standins.sh puts its venv: `$STANDINS_DIR/venv/bin`, else its default
/// `${TMPDIR:-/tmp}/container-standins/venv/bin` (`std::env::temp_dir` reads TMPDIR the
/// same way).
fn standins_bin_dirs() -> Vec<PathBuf> {
    let work_dir = std::env::var_os("STANDINS_DIR").map_or_else(
        || std::env::temp_dir().join("container-standins"),
        PathBuf::from,
    );
    vec![work_dir.join("venv/bin")]
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

    /// The image index of both platforms (compose runs it: the machine's platform).
    fn image(target: &str) -> String {
        format!("cuddlekube/{target}:{IMAGE_TAG}")
    }

    /// One platform's image.
    fn image_for(target: &str, platform: platforms::Platform) -> String {
        format!("cuddlekube/{target}:{IMAGE_TAG}-{}", platform.arch())
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
}
