//! The compose project of step 4: brought up one service at a time in the order and on
//! the conditions compose.yaml's `depends_on` declares, checked healthy, brought down.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};

use anyhow::{Context, ensure};
use serde_json::Value;
use xshell::Cmd;

use super::images::check_ready;
use super::podman::{Containers, DynamoDbImage, healthcheck};
use super::{COMMAND_LIMIT, Ctx, DEFAULT_PORTS, IMAGE_TAG, PROJECT, START_LIMIT};
use crate::free_port;

/// A service's `depends_on`: (dependency, condition) pairs.
type Dependencies = Vec<(String, String)>;

/// The compose project of the smoke run, taken down (and its containers removed) on drop.
pub(super) struct ComposeStack<'a> {
    ctx: &'a Ctx,
    /// Host ports of website, server-listing, register and Jaeger's query API.
    ports: BTreeMap<&'static str, u16>,
    env: Vec<(String, String)>,
}

impl<'a> ComposeStack<'a> {
    /// The whole compose.yaml, the collector and Jaeger included; no overlay.
    const FILES: [&'static str; 2] = ["-f", "compose.yaml"];

    pub(super) fn new(ctx: &'a Ctx) -> anyhow::Result<Self> {
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

    pub(super) fn port(&self, service: &str) -> u16 {
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
    pub(super) fn up(&self) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        for (service, dependencies) in self.start_order()? {
            for (dependency, condition) in &dependencies {
                self.wait_for_condition(dependency, condition)?;
            }
            println!(
                "compose: starting {service} at {} s",
                started.elapsed().as_secs()
            );
            // `--no-recreate`: a second `up` keeps what runs, as Docker Compose does when
            // nothing changed (some podman-compose versions recreate on any hash doubt,
            // and a recreated DynamoDB Local starts empty).
            self.compose()
                .args([
                    "up",
                    "-d",
                    "--no-build",
                    "--no-deps",
                    "--no-recreate",
                    &service,
                ])
                .run()
                .with_context(|| format!("podman-compose up {service}"))?;
        }
        for service in ["server-listing", "register", "website"] {
            check_ready(self.ctx, service, self.port(service))?;
        }
        Ok(())
    }

    /// The services of compose.yaml with their `depends_on` conditions,
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
                let logs = self.logs(service, 20).unwrap_or_default();
                let logs = logs.trim().replace('\n', "; ");
                ensure!(code == "0", "{service} exited {code}: {logs}");
                println!("compose: {service} done: {logs}");
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
    pub(super) fn init_output(&self) -> anyhow::Result<String> {
        Ok(self.logs("init", 2)?.trim().replace('\n', "; "))
    }

    /// How the container of `service` has lived: its id, start, restarts and whether the
    /// kernel killed it for memory. Two readings that differ mean the engine restarted or
    /// recreated it in between (DynamoDB Local then starts empty).
    pub(super) fn life(&self, service: &str) -> anyhow::Result<String> {
        let container = self.container(service)?;
        let format = "{{printf \"%.12s\" .ID}} started {{.State.StartedAt}}, \
            {{.RestartCount}} restart(s), OOM-killed {{.State.OOMKilled}}";
        let life = self
            .ctx
            .podman()
            .args(["container", "inspect", "--format", format, &container])
            .quiet()
            .read()?;
        Ok(life.trim().to_string())
    }

    /// The last `lines` lines a service's container wrote (stdout and stderr).
    pub(super) fn logs(&self, service: &str, lines: u16) -> anyhow::Result<String> {
        let container = self.container(service)?;
        let command = self
            .ctx
            .podman()
            .args(["logs", "--tail", &lines.to_string(), &container]);
        output_of(command, &format!("podman logs {service}"))
    }

    /// `run --rm --no-deps -T SERVICE ARGS` (a one-off container of a service), optionally
    /// of a profile; its output, which is also quoted if it fails.
    pub(super) fn run_once(
        &self,
        profile: Option<&str>,
        service: &str,
        args: &[&str],
    ) -> anyhow::Result<String> {
        let mut compose = self.compose();
        if let Some(profile) = profile {
            compose = compose.args(["--profile", profile]);
        }
        let command = compose
            .args(["run", "--rm", "--no-deps", "-T", service])
            .args(args);
        output_of(
            command,
            &format!("podman-compose run {service} {}", args.join(" ")),
        )
    }

    /// `cuddlekube-admin ARGS` inside the running dynamodb-tls container (the admin image,
    /// with the table's environment and the CA), as an operator would `exec` it. Not a
    /// one-off `run --rm`: podman 4.3 has been seen to fail those after the command ended.
    pub(super) fn admin(&self, args: &[&str]) -> anyhow::Result<String> {
        let container = self.container("dynamodb-tls")?;
        let command = self
            .ctx
            .podman()
            .args(["exec", &container, "/usr/local/bin/cuddlekube-admin"])
            .args(args);
        output_of(command, &format!("cuddlekube-admin {}", args.join(" ")))
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
    /// them to podman; Docker Compose gates the start order on them). Prometheus' runs
    /// once it is ready, with the checks of its metrics (`compose.rs`).
    pub(super) fn healthchecks(&self) -> anyhow::Result<()> {
        for service in [
            "dynamodb",
            "dynamodb-tls",
            "server-listing",
            "register",
            "website",
        ] {
            self.healthcheck(service)?;
        }
        Ok(())
    }

    /// The healthcheck compose.yaml declares for `service`, run now by the engine.
    pub(super) fn healthcheck(&self, service: &str) -> anyhow::Result<()> {
        let container = self.container(service)?;
        healthcheck(self.ctx, &container)
            .map_err(|why| anyhow::anyhow!("{service} unhealthy: {why}"))?;
        println!("compose: {service} healthy");
        Ok(())
    }

    /// The collector and Jaeger run, and each reports healthy on its health port (13133,
    /// not published: reached at the container's address on the compose network, which
    /// the host routes to under rootful podman). Their images have no probe command for
    /// compose to run, so this polls what a healthcheck would.
    pub(super) fn trace_backends_healthy(&self) -> anyhow::Result<()> {
        for (service, path) in [("jaeger", "/status"), ("otel-collector", "/")] {
            let container = self.container(service)?;
            let address = self
                .ctx
                .wait_for(&format!("{service} running"), START_LIMIT, || {
                    match self.state(&container)?.split_once(' ') {
                        Some(("running", _)) => self.address(&container),
                        other => Err(format!("{service} is {other:?}")),
                    }
                })?;
            let url = format!("http://{address}:{TRACE_HEALTH_PORT}{path}");
            self.ctx
                .wait_for(&format!("{service} healthy"), START_LIMIT, || probe(&url))?;
            println!("compose: {service} running, healthy at {url}");
        }
        Ok(())
    }

    /// The container's address on the project's network.
    fn address(&self, container: &str) -> Result<String, String> {
        let addresses = self
            .ctx
            .podman()
            .args([
                "inspect",
                "--format",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                container,
            ])
            .quiet()
            .read()
            .map_err(|e| e.to_string())?;
        addresses
            .split_whitespace()
            .next()
            .map(str::to_owned)
            .ok_or_else(|| format!("{container} has no address yet"))
    }

    /// `down`, then proof that nothing of the project is left.
    pub(super) fn down(&self) -> anyhow::Result<()> {
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

    /// Everything of the project, the certificates' volume too (`down -v`).
    fn remove_project_containers(&self) {
        let _ = self
            .compose()
            .args(["down", "-v"])
            .quiet()
            .ignore_status()
            .output();
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

/// Where the collector's health_check and Jaeger's healthcheckv2 extensions listen
/// (docker/otel-collector.yaml, docker/jaeger/config.yaml).
const TRACE_HEALTH_PORT: u16 = 13133;

/// GET `url`: Ok on a 200, else what came back.
fn probe(url: &str) -> Result<(), String> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(2)))
        .http_status_as_error(false)
        // A container's address: never through a proxy from the environment.
        .proxy(None)
        .build()
        .new_agent();
    match agent.get(url).call() {
        Ok(response) if response.status() == 200 => Ok(()),
        Ok(response) => Err(format!("{url} answered {}", response.status())),
        Err(err) => Err(format!("{url}: {err}")),
    }
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Runs `command`; its stdout and stderr, or an error quoting them.
pub(super) fn output_of(command: Cmd<'_>, what: &str) -> anyhow::Result<String> {
    let output = command
        .quiet()
        .ignore_status()
        .output()
        .with_context(|| what.to_owned())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        output.status.success(),
        "{what}: exited with {}: {}",
        output.status,
        text.trim()
    );
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

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
