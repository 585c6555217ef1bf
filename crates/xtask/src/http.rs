//! Bare HTTP/1.0 requests to services on 127.0.0.1, for the checks (xtask has no HTTP
//! client, and needs none beyond this).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, ensure};
use serde_json::Value;

pub struct HttpResponse {
    pub status: u16,
    head: String,
    pub body: String,
}

impl HttpResponse {
    /// The JSON body of an answer with that status; else an error quoting the answer.
    pub fn expect_json(&self, status: u16, request: &str) -> anyhow::Result<Value> {
        ensure!(
            self.status == status,
            "{request} answered {}: {}",
            self.status,
            self.body
        );
        self.json()
    }

    /// The first header of that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.body).with_context(|| format!("not JSON: {}", self.body))
    }
}

pub fn http_get(port: u16, path: &str) -> anyhow::Result<HttpResponse> {
    http_request("GET", port, path, None)
}

/// A bare HTTP/1.0 request to 127.0.0.1 (xtask has no HTTP client). HTTP/1.0 makes the
/// server close the connection after the body and never use chunked encoding, so the body
/// is everything after the head.
pub fn http_request(
    method: &str,
    port: u16,
    path: &str,
    body: Option<(&str, &str)>,
) -> anyhow::Result<HttpResponse> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))
        .with_context(|| format!("connect to {address}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    if let Some((content_type, body)) = body {
        let _ = write!(
            request,
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    request.push_str("\r\n");
    request.push_str(body.map_or("", |(_, body)| body));
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("read the answer to {method} {path}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("incomplete answer to {method} {path}: {text}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status line: {head}"))?;
    Ok(HttpResponse {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}
