//! DynamoDB Local behind TLS: `cuddlekube-admin tls-proxy`, as the native dev stack and
//! the whole-stack tests start it, so that a service's trust store decides its handshake
//! (`missing-ca-certificates` fails a real one).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::{Result, failure};

/// Starts `admin` (the `cuddlekube-admin` binary) as `tls-proxy` in front of DynamoDB
/// Local at `upstream` (its `http://` endpoint), making a new CA and certificate in
/// `certs` (`ca.pem` is the bundle to trust), its stderr to `stderr`. Returns the proxy
/// and the endpoint it serves (`https://localhost:PORT`), read from its first line; the
/// caller stops the proxy.
pub fn start_tls_proxy(
    admin: &Path,
    upstream: &str,
    certs: &Path,
    stderr: Stdio,
) -> Result<(Child, String)> {
    let upstream = upstream.trim_start_matches("http://").trim_end_matches('/');
    let mut proxy = Command::new(admin)
        .args([
            "tls-proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            upstream,
        ])
        .arg("--certs")
        .arg(certs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| failure(format!("start {} tls-proxy: {e}", admin.display())))?;
    let mut first = String::new();
    if let Some(stdout) = proxy.stdout.take() {
        BufReader::new(stdout).read_line(&mut first)?;
    }
    // "tls-proxy: https://127.0.0.1:PORT -> ..."
    let port = first
        .split("https://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next());
    match port {
        Some(port) => Ok((proxy, format!("https://localhost:{port}"))),
        None => {
            let _ = proxy.kill();
            let _ = proxy.wait();
            Err(failure(format!(
                "tls-proxy said {first:?}, not where it listens"
            )))
        }
    }
}
