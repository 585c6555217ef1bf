//! What the bench runs against: DynamoDB Local and the services as release processes,
//! each instance configured for one side of a comparison.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dynamodb_local::DynamoDbLocal;

/// The region and credentials every process uses with DynamoDB Local (which keeps one
/// database per access key and region, so they must agree); not secrets.
pub const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "bench"),
    ("AWS_SECRET_ACCESS_KEY", "bench"),
];

/// A service binary next to this one (all are built into target/release together).
pub fn binary(name: &str) -> PathBuf {
    let here = std::env::current_exe().expect("the bench's own path");
    here.parent().expect("a folder").join(name)
}

/// A service process on a free port; killed when dropped.
#[derive(Debug)]
pub struct Running {
    pub name: String,
    pub port: u16,
    child: Child,
}

impl Running {
    /// Starts `binary` with `env`, its log written to `log`, and waits until `/ready`.
    pub fn start(binary: &str, env: &[(&str, String)], log: &Path) -> Result<Self, String> {
        Self::start_under(&[], binary, env, log)
    }

    /// [`Running::start`] under a tool (`wrapper` is its command line, the binary
    /// appended): valgrind, for instruction counts.
    pub fn start_under(
        wrapper: &[String],
        binary: &str,
        env: &[(&str, String)],
        log: &Path,
    ) -> Result<Self, String> {
        let port = dynamodb_local::free_port().map_err(|e| e.to_string())?;
        let output = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = match wrapper.split_first() {
            Some((tool, args)) => {
                let mut command = Command::new(tool);
                command.args(args).arg(self::binary(binary));
                command
            }
            None => Command::new(self::binary(binary)),
        };
        let child = command
            .env("PORT", port.to_string())
            .env("LOG_FORMAT", "json")
            .envs(AWS_ENV)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start {binary}: {e}"))?;
        let running = Self {
            name: binary.to_owned(),
            port,
            child,
        };
        // Under valgrind a service takes seconds to start.
        running.wait_until_ready(Duration::from_secs(if wrapper.is_empty() {
            30
        } else {
            180
        }))?;
        Ok(running)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process with SIGINT (a service drains and exits; valgrind writes its
    /// counts) and waits for it.
    pub fn stop(&mut self) -> Result<(), String> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid()).map_err(|e| e.to_string())?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT)
            .map_err(|e| format!("stop {}: {e}", self.name))?;
        self.child
            .wait()
            .map_err(|e| format!("stop {}: {e}", self.name))?;
        Ok(())
    }

    fn wait_until_ready(&self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if ready(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(format!("{} was not ready within {limit:?}", self.name))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `GET /ready` answers 200 on `port`.
pub fn ready(port: u16) -> bool {
    ureq::get(&format!("http://127.0.0.1:{port}/ready"))
        .call()
        .is_ok_and(|r| r.status() == 200)
}

/// DynamoDB Local from the jar in `DYNAMODB_LOCAL_DIR` (`cargo xtask bench` sets it).
pub fn dynamodb() -> Result<DynamoDbLocal, String> {
    let dir = std::env::var_os(dynamodb_local::JAR_DIR_VAR)
        .ok_or("DYNAMODB_LOCAL_DIR is not set: run `cargo xtask bench`")?;
    DynamoDbLocal::start(Path::new(&dir), None).map_err(|e| e.to_string())
}

/// What an OTLP sink received.
#[derive(Debug, Default, Clone, Copy)]
pub struct Received {
    pub trace_bytes: u64,
    pub spans: u64,
    pub metric_bytes: u64,
}

/// A sink for OTLP/HTTP exports: answers every request 200 and keeps only counts, so the
/// telemetry comparison measures the services' cost of exporting, not a collector's.
pub async fn otlp_sink() -> Result<(u16, Arc<Mutex<Received>>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let received = Arc::new(Mutex::new(Received::default()));
    let counts = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let counts = counts.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let counts = counts.clone();
                        async move {
                            use http_body_util::BodyExt as _;
                            use prost::Message as _;
                            let traces = request.uri().path() == "/v1/traces";
                            let body = request
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let mut counts = counts.lock().expect("lock");
                            if traces {
                                counts.trace_bytes += body.len() as u64;
                                let export = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(body)
                                .unwrap_or_default();
                                counts.spans += export
                                    .resource_spans
                                    .iter()
                                    .flat_map(|r| &r.scope_spans)
                                    .map(|s| s.spans.len() as u64)
                                    .sum::<u64>();
                            } else {
                                counts.metric_bytes += body.len() as u64;
                            }
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                http_body_util::Empty::<hyper::body::Bytes>::new(),
                            ))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((port, received))
}
