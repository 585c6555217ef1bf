//! Step 3, images: for each platform, each image's config, what it lacks (a shell) and
//! carries (the CA bundle), and, in a sandbox network with DynamoDB Local, each service's
//! /health, HEALTHCHECK, user and /ready, and an admission through register read back from
//! server-listing and shown by the website. The arm64 images run under qemu (binfmt_misc),
//! so what Graviton would run is what answers.

use std::collections::HashMap;

use anyhow::{Context, ensure};
use serde_json::Value;

use super::build::inspect_image;
use super::platforms::{Platform, require_emulation};
use super::podman::{Containers, DynamoDbImage, clean_up, healthcheck};
use super::stack::output_of;
use super::summary::Summary;
use super::{Build, Ctx, RUNTIME_USER, SANDBOX_LABEL, SEED_COUNT, SERVICES, START_LIMIT, TARGETS};
use crate::free_port;
use crate::http::{http_get, http_request};

pub(super) fn image_checks(ctx: &Ctx, summary: &mut Summary) {
    for platform in Platform::ALL {
        platform_checks(ctx, summary, platform);
    }
}

fn platform_checks(ctx: &Ctx, summary: &mut Summary, platform: Platform) {
    let arch = platform.arch();
    if !summary.run(&format!("images ({arch}): can run here"), || {
        require_emulation(platform)
    }) {
        summary.skip(&format!("image checks ({arch})"), "they cannot run");
        return;
    }
    for target in TARGETS {
        let image = Build::image_for(target, platform);
        summary.run(&format!("image {target} ({arch}): config"), || {
            check_image_config(ctx, target, &image, platform)
        });
        summary.run(&format!("image {target} ({arch}): no shell"), || {
            check_no_shell(ctx, &image)
        });
        summary.run(&format!("image {target} ({arch}): CA bundle"), || {
            check_ca_bundle(ctx, target, &image)
        });
    }
    // One sandbox for the runtime checks: a network, DynamoDB Local, the table (by the
    // admin image), the two APIs and the website in front of them.
    let mut sandbox = match summary.value(
        &format!("images ({arch}): sandbox (DynamoDB Local + table by admin)"),
        || Sandbox::start(ctx, platform),
    ) {
        Some(sandbox) => sandbox,
        None => {
            summary.skip(
                &format!("images ({arch}): runtime checks"),
                "the sandbox did not start",
            );
            return;
        }
    };
    let mut ports = HashMap::new();
    for service in SERVICES {
        let port = match summary.value(&format!("image {service} ({arch}): starts"), || {
            sandbox.start_service(ctx, service)
        }) {
            Some(port) => port,
            None => continue,
        };
        summary.run(&format!("image {service} ({arch}): /health"), || {
            check_health(ctx, service, port)
        });
        summary.run(&format!("image {service} ({arch}): HEALTHCHECK"), || {
            check_container_healthcheck(ctx, &Sandbox::container(service))
        });
        summary.run(
            &format!("image {service} ({arch}): runs as non-root"),
            || check_process_user(ctx, &Sandbox::container(service)),
        );
        if summary.run(&format!("image {service} ({arch}): /ready"), || {
            check_ready(ctx, service, port)
        }) {
            ports.insert(service, port);
        }
    }
    if ports.len() == SERVICES.len() {
        summary.run(
            &format!("images ({arch}): an admission is read back and shown"),
            || check_admission(&ports, arch),
        );
    } else {
        summary.skip(
            &format!("images ({arch}): admission"),
            "a service is not ready",
        );
    }
    drop(sandbox);
}

/// The user, labels, entry point and health check the image declares. infra relies on the
/// user and on /usr/local/bin/<binary>; the labels tie an image to its commit.
fn check_image_config(
    ctx: &Ctx,
    target: &str,
    image: &str,
    platform: Platform,
) -> anyhow::Result<()> {
    let image = inspect_image(ctx, image)?;
    let arch = image["Architecture"].as_str().unwrap_or_default();
    ensure!(
        arch == platform.arch(),
        "built for {arch:?}, expected {}",
        platform.arch()
    );
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
        "{target} ({arch}): user {user}, revision {}, entrypoint {binary}",
        ctx.build.commit
    );
    Ok(())
}

fn binary_path(target: &str) -> String {
    match target {
        "admin" | "loadgen" => format!("/usr/local/bin/cuddlekube-{target}"),
        service => format!("/usr/local/bin/{service}"),
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// No shell and no package manager: an attacker who gets code execution finds nothing to
/// run. The runtime reports 127 (command not found) for a missing entry point.
fn check_no_shell(ctx: &Ctx, image: &str) -> anyhow::Result<()> {
    for program in ["/bin/sh", "/bin/bash", "/usr/bin/apt-get"] {
        let output = ctx
            .podman()
            .args(["run", "--rm", "--pull=never", "--entrypoint", program])
            .args(["--label", SANDBOX_LABEL, image])
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
    println!("{image}: /bin/sh, /bin/bash and apt-get are absent");
    Ok(())
}

/// The 2019 outage: an image without CA certificates cannot speak TLS to DynamoDB. The
/// file is copied out of a created (never started) container: no shell needed.
fn check_ca_bundle(ctx: &Ctx, target: &str, image: &str) -> anyhow::Result<()> {
    const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
    let name = format!("ck-xtask-ca-{target}");
    clean_up(ctx.podman().args(["rm", "-f", &name]));
    ctx.podman()
        .args(["create", "--pull=never", "--name", &name])
        .args(["--label", SANDBOX_LABEL, image])
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
    println!("{image}: {BUNDLE} holds {certificates} certificates");
    Ok(())
}

/// `/health`: 200, this service's name, the commit the build was given, status ok.
pub(super) fn check_health(ctx: &Ctx, service: &str, port: u16) -> anyhow::Result<()> {
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
pub(super) fn check_ready(ctx: &Ctx, service: &str, port: u16) -> anyhow::Result<()> {
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

/// The write path end to end: an admission through register's API, read back from
/// server-listing's and shown on the website's page of the new resident.
fn check_admission(ports: &HashMap<&str, u16>, arch: &str) -> anyhow::Result<()> {
    let name = format!("Image check {arch}");
    let registration = serde_json::json!({"name": name, "type": "m7g.large", "os": "linux"});
    let admitted = http_request(
        "POST",
        ports["register"],
        "/v1/registrations",
        Some(("application/json", &registration.to_string())),
    )?
    .expect_json(201, "POST /v1/registrations")?;
    let ckid = admitted["ckid"]
        .as_str()
        .context("the admission has no ckid")?;
    let read = http_get(ports["server-listing"], &format!("/v1/servers/{ckid}"))?
        .expect_json(200, "GET /v1/servers/{ckid}")?;
    ensure!(
        read["name"] == name.as_str(),
        "server-listing read back {read}"
    );
    let page = http_get(ports["website"], &format!("/residents/{ckid}"))?;
    ensure!(
        page.status == 200 && page.body.contains(&name),
        "the website's page of {ckid} answered {} without {name:?}",
        page.status
    );
    println!(
        "{arch}: admitted {ckid} through register, read back from server-listing, shown by the website"
    );
    Ok(())
}

/// Step 3's containers: one network, DynamoDB Local behind the admin image's TLS proxy (as
/// compose.yaml runs it, so each image's own TLS code makes the handshake), the services.
/// Removed on drop.
struct Sandbox<'a> {
    ctx: &'a Ctx,
    /// Whose images run in it (DynamoDB Local is always the machine's own).
    platform: Platform,
    network: String,
    containers: Vec<String>,
}

impl<'a> Sandbox<'a> {
    const NETWORK: &'static str = "ck-xtask-images";
    /// The proxy's CA and certificate; every container that uses the table mounts it.
    const CERTS_VOLUME: &'static str = "ck-xtask-images-certs";

    fn container(service: &str) -> String {
        format!("ck-xtask-{service}")
    }

    fn certs_read_only() -> String {
        format!("{}:/certs:ro", Self::CERTS_VOLUME)
    }

    fn start(ctx: &'a Ctx, platform: Platform) -> anyhow::Result<Self> {
        remove_leftovers(ctx);
        ctx.podman()
            .args(["network", "create", "--label", SANDBOX_LABEL, Self::NETWORK])
            .quiet()
            .ignore_stdout()
            .run()?;
        let mut sandbox = Self {
            ctx,
            platform,
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
        sandbox.start_tls_proxy()?;
        sandbox.create_table()?;
        Ok(sandbox)
    }

    /// `cuddlekube-admin tls-proxy` as compose.yaml's dynamodb-tls: it makes its CA in the
    /// volume on start; ready once a DynamoDB call through it verifies against that CA.
    fn start_tls_proxy(&mut self) -> anyhow::Result<()> {
        let name = Self::container("dynamodb-tls");
        self.containers.push(name.clone());
        self.ctx
            .podman()
            .args(["run", "-d", "--pull=never", "--name", &name])
            .args(["--label", SANDBOX_LABEL, "--network", Self::NETWORK])
            .args([
                "--network-alias",
                "dynamodb-tls",
                "--read-only",
                "--cap-drop",
                "ALL",
            ])
            .args(["-v", &format!("{}:/certs", Self::CERTS_VOLUME)])
            .args(dynamodb_env_args())
            .args(["-e", "AWS_ENDPOINT_URL_DYNAMODB=https://localhost:8443"])
            .arg(Build::image_for("admin", self.platform))
            .args([
                "tls-proxy",
                "--listen=0.0.0.0:8443",
                "--upstream=dynamodb:8000",
            ])
            .args(["--certs=/certs", "--name=dynamodb-tls"])
            .quiet()
            .ignore_stdout()
            .run()?;
        self.ctx
            .wait_for("the TLS proxy answers a DynamoDB call", START_LIMIT, || {
                let ping = self
                    .ctx
                    .podman()
                    .args(["exec", &name, "/usr/local/bin/cuddlekube-admin", "ping"])
                    .quiet()
                    .ignore_status()
                    .output()
                    .map_err(|e| e.to_string())?;
                if ping.status.success() {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&ping.stderr).trim().to_string())
                }
            })?;
        println!("dynamodb-tls: the admin image's TLS proxy answers");
        Ok(())
    }

    /// The admin image creates the table and seeds it (`init` waits while DynamoDB Local
    /// does not answer yet, as it does in compose).
    fn create_table(&self) -> anyhow::Result<()> {
        let command = self
            .ctx
            .podman()
            .args(["run", "--rm", "--pull=never", "--network", Self::NETWORK])
            .args(["--label", SANDBOX_LABEL, "--read-only", "--cap-drop", "ALL"])
            .args(["-v", &Self::certs_read_only()])
            .args(dynamodb_env_args())
            .arg(Build::image_for("admin", self.platform))
            .arg("init");
        let text = output_of(command, "cuddlekube-admin init")?;
        ensure!(
            text.contains(&format!("seeded {SEED_COUNT} demo resident")),
            "cuddlekube-admin init did not seed {SEED_COUNT} residents: {}",
            text.trim()
        );
        println!(
            "admin image: init succeeded: {}",
            text.trim().replace('\n', "; ")
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
            .args(["-v", &Self::certs_read_only()])
            // Keep the image's HEALTHCHECK but no timer for it: podman schedules those
            // with systemd, absent here. The check runs on demand below.
            .arg("--health-interval=disable")
            .args(["-p", &format!("127.0.0.1:{port}:8080")])
            .args(&env_args)
            .arg(Build::image_for(service, self.platform))
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
        clean_up(
            self.ctx
                .podman()
                .args(["network", "rm", "-f", &self.network]),
        );
        clean_up(
            self.ctx
                .podman()
                .args(["volume", "rm", "-f", Self::CERTS_VOLUME]),
        );
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
    clean_up(ctx.podman().args(["network", "rm", "-f", Sandbox::NETWORK]));
    clean_up(
        ctx.podman()
            .args(["volume", "rm", "-f", Sandbox::CERTS_VOLUME]),
    );
}

/// What the admin and API containers need to use DynamoDB Local through the TLS proxy on
/// the sandbox network (compose.yaml's x-dynamodb-env; the CA is `Sandbox::CERTS_VOLUME`'s).
/// DynamoDB Local accepts any static credentials.
fn dynamodb_env_args() -> Vec<String> {
    let env = [
        ("RESIDENTS_TABLE", "cuddlekube"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb-tls:8443"),
        ("AWS_CA_BUNDLE", "/certs/ca.pem"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ];
    env.iter()
        .flat_map(|(k, v)| ["-e".to_string(), format!("{k}={v}")])
        .collect()
}
