//! The collector in front of Jaeger, as processes on loopback.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{Binaries, JaegerQuery};

/// The local configs, run as they are by compose, `cargo xtask dev` and the tests.
const COLLECTOR_CONFIG: &str = "docker/otel-collector.yaml";
const JAEGER_CONFIG: &str = "docker/jaeger/config.yaml";
/// A cold start of either takes about a second here; more while the machine compiles.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// The two ports a user of the stack sees; the others are picked free.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// The collector's OTLP/HTTP receiver, where the services export.
    pub otlp_http: u16,
    /// Jaeger's query API (and UI).
    pub query: u16,
}

impl Ports {
    /// Both picked free.
    pub fn free() -> std::io::Result<Self> {
        Ok(Self {
            otlp_http: free_port()?,
            query: free_port()?,
        })
    }
}

/// A running collector and Jaeger; both stopped when dropped.
#[derive(Debug)]
pub struct LocalTraces {
    processes: Vec<(&'static str, Child)>,
    ports: Ports,
}

impl LocalTraces {
    /// Starts Jaeger, then the collector exporting to it, each writing its output to a
    /// file in `logs`, and waits until both report healthy.
    pub fn start(
        binaries: &Binaries,
        root: &Path,
        ports: Ports,
        logs: &Path,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(logs)?;
        let loopback = |port: u16| format!("127.0.0.1:{port}");
        let jaeger_otlp = free_port()?;
        let (jaeger_health, collector_health) = (free_port()?, free_port()?);
        let mut traces = Self {
            processes: Vec::new(),
            ports,
        };
        traces.spawn(
            "jaeger",
            &binaries.jaeger,
            &root.join(JAEGER_CONFIG),
            &[
                ("JAEGER_OTLP_GRPC_ENDPOINT", loopback(jaeger_otlp)),
                ("JAEGER_QUERY_ENDPOINT", loopback(ports.query)),
                ("JAEGER_QUERY_GRPC_ENDPOINT", loopback(free_port()?)),
                ("JAEGER_HEALTH_ENDPOINT", loopback(jaeger_health)),
            ],
            logs,
        )?;
        traces.spawn(
            "otel-collector",
            &binaries.collector,
            &root.join(COLLECTOR_CONFIG),
            &[
                ("OTLP_HTTP_ENDPOINT", loopback(ports.otlp_http)),
                ("OTLP_GRPC_ENDPOINT", loopback(free_port()?)),
                ("JAEGER_OTLP_ENDPOINT", loopback(jaeger_otlp)),
                ("COLLECTOR_HEALTH_ENDPOINT", loopback(collector_health)),
            ],
            logs,
        )?;
        traces.wait_until_healthy(&[
            ("jaeger", format!("http://127.0.0.1:{jaeger_health}/status")),
            (
                "otel-collector",
                format!("http://127.0.0.1:{collector_health}/"),
            ),
        ])?;
        Ok(traces)
    }

    /// [`start`](Self::start) on ports picked free, for tests that run many at once. A
    /// port picked free may be taken by another before the process binds it: a start
    /// that fails is tried again on new ports, up to three times.
    pub fn start_on_free_ports(
        binaries: &Binaries,
        root: &Path,
        logs: &Path,
    ) -> std::io::Result<Self> {
        let mut attempt = 1;
        loop {
            match Self::start(binaries, root, Ports::free()?, logs) {
                Err(err) if attempt < 3 => {
                    eprintln!("the collector and Jaeger did not start ({err}); again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT` for the services.
    pub fn otlp_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.otlp_http)
    }

    /// Jaeger's query API and UI.
    pub fn query_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.query)
    }

    pub fn query(&self) -> JaegerQuery {
        JaegerQuery::new(self.query_url())
    }

    /// A process that has exited, if one has: (name, how it ended).
    pub fn exited(&mut self) -> Option<(&'static str, String)> {
        self.processes.iter_mut().find_map(|(name, child)| {
            let status = child.try_wait().ok()??;
            Some((*name, status.to_string()))
        })
    }

    fn spawn(
        &mut self,
        name: &'static str,
        binary: &Path,
        config: &Path,
        env: &[(&str, String)],
        logs: &Path,
    ) -> std::io::Result<()> {
        let log = std::fs::File::create(log_file(logs, name))?;
        let child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| std::io::Error::other(format!("start {}: {e}", binary.display())))?;
        self.processes.push((name, child));
        Ok(())
    }

    fn wait_until_healthy(&mut self, probes: &[(&str, String)]) -> std::io::Result<()> {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .new_agent();
        let started = Instant::now();
        for (name, url) in probes {
            loop {
                if let Some((name, status)) = self.exited() {
                    return Err(std::io::Error::other(format!(
                        "{name} exited at start ({status}); its output is in {name}.log"
                    )));
                }
                if agent.get(url).call().is_ok() {
                    break;
                }
                if started.elapsed() > READY_LIMIT {
                    return Err(std::io::Error::other(format!(
                        "{name} did not report healthy at {url} within {READY_LIMIT:?}"
                    )));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }
}

impl Drop for LocalTraces {
    /// SIGTERM (the collector flushes what it holds), then a kill after 10 s.
    fn drop(&mut self) {
        for (_, child) in self.processes.iter().rev() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (_, child) in self.processes.iter_mut().rev() {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where a process of [`LocalTraces`] writes its output.
pub fn log_file(logs: &Path, name: &str) -> PathBuf {
    logs.join(format!("{name}.log"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}
