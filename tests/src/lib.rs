//! Whole-stack tests live in `tests/tests/stack/` (one test binary): they start the real
//! binaries as processes against DynamoDB Local. This library holds what they share: [`Service`] (a binary
//! as a process, its log lines read as they come), [`admin`] (the operator's tool),
//! [`stack::Stack`] (the three services together), the OTLP receiver ([`otlp`]), the
//! X-Ray translation of what it received ([`xray`]), the CloudFormation reader
//! ([`cfn`]), what the alarms and dashboard read ([`metric_reads`]) and the runbook's
//! per-scenario tables and sections ([`runbook`]); and for the
//! gateway test, the AWS trace path as real collectors ([`trace_tier`]: sidecars and
//! gateways on the repository's configs, [`collector_config`], [`otelcol`]) before
//! stand-ins for what they talk to on AWS: X-Ray's OTLP endpoint ([`xray_standin`],
//! checking SigV4 with [`sigv4`]), CloudWatch Logs ([`moto`], read by [`emf`]) and the ECS
//! task metadata ([`ecs_metadata`]).

pub mod cfn;
pub mod collector_config;
pub mod ecs_metadata;
pub mod emf;
pub mod jaeger;
pub mod metric_reads;
pub mod moto;
pub mod otelcol;
pub mod otlp;
pub mod runbook;
pub mod sigv4;
pub mod stack;
pub mod trace_tier;
pub mod xray;
pub mod xray_standin;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

pub use test_support::free_port;

/// A binary built by `cargo xtask test` (which runs `cargo build --bins` first).
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let path = target.join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo xtask test`, which builds the binaries",
        path.display()
    );
    path
}

/// A name no other run uses, for temporary folders.
pub fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}

/// A new empty folder under the system's temporary directory; the caller removes it.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cuddlekube-{prefix}-{}", unique_name()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// `app` served on a free loopback port in this test's runtime: (port, the server task,
/// to abort when done).
pub async fn serve_on_loopback(app: axum::Router) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, server)
}

/// Polls `probe` every `interval` until it gives a value, for at most `within`; `None`
/// when it never did (the caller panics with what it saw instead).
pub async fn poll_until<T>(
    within: Duration,
    interval: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if started.elapsed() > within {
            return None;
        }
        tokio::time::sleep(interval).await;
    }
}

/// Runs `cuddlekube-admin` with `args` and the environment `env` added; its output.
pub fn admin(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(binary("cuddlekube-admin"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run cuddlekube-admin")
}

/// What a process wrote to stdout so far, line by line (read by a thread as it comes).
#[derive(Debug, Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn follow(&self, source: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<()> {
        let lines = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(source).lines().map_while(Result::ok) {
                lines.0.lock().expect("lock").push(line);
            }
        })
    }

    fn snapshot(&self) -> Vec<String> {
        self.0.lock().expect("lock").clone()
    }
}

/// A running service process; killed when dropped.
#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub child: Child,
    pub port: u16,
    stdout: Lines,
    /// Only startup errors go there.
    stderr: Lines,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    /// Starts `name` on a free port with `env` added and waits until `/health` answers.
    pub async fn start(name: &str, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut child = Command::new(binary(name))
            .env("PORT", port.to_string())
            .env("LOG_FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let (stdout, stderr) = (Lines::default(), Lines::default());
        let reader = stdout.follow(child.stdout.take().expect("piped stdout"));
        stderr.follow(child.stderr.take().expect("piped stderr"));
        let mut service = Self {
            name: name.to_owned(),
            child,
            port,
            stdout,
            stderr,
            reader: Some(reader),
        };
        service.wait_until_healthy().await;
        service
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_until_healthy(&mut self) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "{} exited during startup: {status}: {}",
                    self.name,
                    self.stderr.snapshot().join("\n")
                );
            }
            if let Ok(response) = client.get(self.url("/health")).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} did not answer /health within 30 s", self.name);
    }

    /// The JSON log lines written so far.
    pub fn log(&self) -> Vec<Value> {
        self.stdout
            .snapshot()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}: {line:?}: {e}", self.name))
            })
            .collect()
    }

    /// Waits (at most 20 s) for a log line that `wanted` accepts, and returns it.
    pub async fn wait_for_log(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            if let Some(line) = self.log().into_iter().find(|line| wanted(line)) {
                return line;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{} never logged {what}; it logged {:#?}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM (as ECS does) and waits for the exit; the whole stdout.
    pub fn terminate(mut self) -> Output {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        kill(pid, Signal::SIGTERM).expect("SIGTERM");
        let status = self.child.wait().expect("wait");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let stdout = self.stdout.snapshot().join("\n").into_bytes();
        Output {
            status,
            stdout,
            stderr: Vec::new(),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
