//! A real OpenTelemetry Collector as a process, for the collector test: the binary named
//! by `CUDDLEKUBE_OTELCOL_BIN` (a build with the components `infra/collector/*.yaml`
//! uses), run with a config text and exactly the environment given, as an ECS task
//! definition gives its container nothing else.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Lines;

/// The variable naming the collector binary.
pub const BINARY_VAR: &str = "CUDDLEKUBE_OTELCOL_BIN";

/// The collector binary `CUDDLEKUBE_OTELCOL_BIN` names.
pub fn binary() -> PathBuf {
    let path = std::env::var_os(BINARY_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "{BINARY_VAR} is not set: point it at an OpenTelemetry Collector build with the \
             components of infra/collector/*.yaml"
            )
        });
    assert!(
        path.is_file(),
        "{BINARY_VAR}={} is not a file",
        path.display()
    );
    path
}

/// A running collector; killed when dropped, its config folder removed.
#[derive(Debug)]
pub struct Collector {
    child: Child,
    /// What it logged (to stderr), line by line.
    log: Lines,
    dir: PathBuf,
}

impl Collector {
    /// Starts the collector on `config` (YAML) with `env` as its whole environment, and
    /// waits until its `health_check` extension, on `health_port`, says it is ready.
    pub async fn start(config: &str, env: &[(&str, String)], health_port: u16) -> Self {
        let dir = crate::temp_dir("otelcol");
        let file = dir.join("config.yaml");
        std::fs::write(&file, config).expect("write the collector's config");
        let mut child = Command::new(binary())
            .arg("--config")
            .arg(&file)
            .env_clear()
            .env("HOME", &dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary().display()));
        let log = Lines::default();
        log.follow(child.stderr.take().expect("piped stderr"));
        let mut collector = Self { child, log, dir };
        collector.wait_until_ready(health_port).await;
        collector
    }

    async fn wait_until_ready(&mut self, health_port: u16) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{health_port}/");
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait().expect("the collector's status") {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "the collector exited during startup: {status}:\n{}",
                    self.log().join("\n")
                );
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the collector's health check did not answer within 30 s:\n{}",
            self.log().join("\n")
        );
    }

    /// Its process ID (for its CPU time and memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.snapshot()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
