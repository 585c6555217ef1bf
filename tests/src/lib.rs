//! Whole-stack tests live in `tests/tests/`: they start the real service binaries as
//! processes against DynamoDB Local. This library holds what they share.

pub mod cfn;
pub mod otlp;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A service binary built by `cargo xtask test` (which runs `cargo build --bins` first).
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running service process; killed when dropped.
#[derive(Debug)]
pub struct Service {
    pub child: Child,
    pub port: u16,
}

impl Service {
    /// Starts `name` on a free port with `env` added and waits until `/health` answers.
    pub async fn start(name: &str, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let child = Command::new(binary(name))
            .env("PORT", port.to_string())
            .env("LOG_FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let mut service = Self { child, port };
        service.wait_until_healthy(name).await;
        service
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_until_healthy(&mut self, name: &str) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{name} exited during startup: {status}");
            }
            if let Ok(response) = client.get(self.url("/health")).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{name} did not answer /health within 30 s");
    }

    /// Sends SIGTERM (as ECS does) and waits for the exit.
    pub fn terminate(mut self) -> std::process::Output {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let child = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap());
        child.wait_with_output().unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
