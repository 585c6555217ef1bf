//! The collector in front of Jaeger and, where it is installed, Prometheus scraping the
//! collector: processes on loopback.

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

/// A running collector and Jaeger, and Prometheus once started; all stopped when dropped.
#[derive(Debug)]
pub struct LocalTelemetry {
    processes: Vec<(&'static str, Child)>,
    ports: Ports,
    /// Where the collector serves the metrics it received, for Prometheus to scrape.
    metrics_endpoint: String,
    prometheus_url: Option<String>,
}

impl LocalTelemetry {
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
            metrics_endpoint: loopback(free_port()?),
            prometheus_url: None,
        };
        traces.spawn(
            "jaeger",
            &binaries.jaeger,
            &[config_arg(&root.join(JAEGER_CONFIG))],
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
            &[config_arg(&root.join(COLLECTOR_CONFIG))],
            &[
                ("OTLP_HTTP_ENDPOINT", loopback(ports.otlp_http)),
                (
                    "PROMETHEUS_EXPORTER_ENDPOINT",
                    traces.metrics_endpoint.clone(),
                ),
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

    /// Starts Prometheus (`binary`, Debian's 2.42 or any 2.x with native histograms)
    /// scraping the collector every [`SCRAPE_INTERVAL`] and evaluating `rules` (a rules
    /// file's text, [`crate::SloParameters::rules`]), its data in `data`, the web UI and
    /// API on `port`; waits until it is ready.
    pub fn start_prometheus(
        &mut self,
        binary: &Path,
        rules: &str,
        port: u16,
        data: &Path,
        logs: &Path,
    ) -> std::io::Result<()> {
        let _ = std::fs::remove_dir_all(data);
        std::fs::create_dir_all(data)?;
        let rules_file = data.join("rules.yaml");
        std::fs::write(&rules_file, rules)?;
        let config = data.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "# Written by crates/telemetry-backends (run.rs) for this run.\n\
                 global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  evaluation_interval: {SCRAPE_INTERVAL}\n\
                 rule_files: [{rules}]\n\
                 scrape_configs:\n  - job_name: otel-collector\n    static_configs:\n      - targets: [\"{target}\"]\n",
                rules = rules_file.display(),
                target = self.metrics_endpoint,
            ),
        )?;
        let address = format!("127.0.0.1:{port}");
        let flag = |name: &str, value: &dyn std::fmt::Display| format!("--{name}={value}");
        self.spawn(
            "prometheus",
            binary,
            &[
                flag("config.file", &config.display()),
                flag("storage.tsdb.path", &data.join("tsdb").display()),
                flag("web.listen-address", &address),
                // The services' histograms are exponential; the collector serves them as
                // native histograms, which Prometheus 2.x ingests only with this.
                flag("enable-feature", &"native-histograms"),
            ],
            &[],
            logs,
        )?;
        let url = format!("http://{address}");
        self.wait_until_healthy(&[("prometheus", format!("{url}/-/ready"))])?;
        self.prometheus_url = Some(url);
        Ok(())
    }

    /// Prometheus' API, once started.
    pub fn prometheus_url(&self) -> Option<&str> {
        self.prometheus_url.as_deref()
    }

    /// A page of Prometheus' web UI (`graph`, `alerts`), once started: Debian's build
    /// serves the classic UI under `/classic/` (its `/graph` only redirects there); an
    /// upstream build serves its own at `/`.
    pub fn prometheus_page(&self, page: &str) -> Option<String> {
        let url = self.prometheus_url.as_deref()?;
        let classic = format!("{url}/classic/{page}");
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .max_redirects(0)
            .build()
            .new_agent();
        Some(if agent.get(&classic).call().is_ok() {
            classic
        } else {
            format!("{url}/{page}")
        })
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
        args: &[String],
        env: &[(&str, String)],
        logs: &Path,
    ) -> std::io::Result<()> {
        let log = std::fs::File::create(log_file(logs, name))?;
        let child = Command::new(binary)
            .args(args)
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

impl Drop for LocalTelemetry {
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

/// Where a process of [`LocalTelemetry`] writes its output.
pub fn log_file(logs: &Path, name: &str) -> PathBuf {
    logs.join(format!("{name}.log"))
}

fn config_arg(config: &Path) -> String {
    format!("--config={}", config.display())
}

/// How often Prometheus scrapes the collector and evaluates the rules: often enough for
/// the shortest window of the demo time scale ([`crate::DEMO_TIME_SCALE`]) to hold a few
/// samples.
pub const SCRAPE_INTERVAL: &str = "2s";

/// Prometheus: `PROMETHEUS_BIN`, else `prometheus` on `PATH` (Debian's package).
pub fn find_prometheus() -> Result<PathBuf, String> {
    if let Some(binary) = std::env::var_os(PROMETHEUS_BIN_VAR) {
        return Ok(binary.into());
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("prometheus"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            "Prometheus is not installed: `apt-get install prometheus` (Debian's 2.42, with \
             promtool), or name a binary in PROMETHEUS_BIN"
                .to_owned()
        })
}

/// Where a Prometheus binary can be named.
pub const PROMETHEUS_BIN_VAR: &str = "PROMETHEUS_BIN";

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}
