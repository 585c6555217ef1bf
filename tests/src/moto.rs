//! moto's server as CloudWatch Logs for the collector test: started on a free loopback
//! port, stopped when dropped, and read through CloudWatch Logs' JSON API. moto accepts
//! any signature; requests are signed anyway, since moto takes the Region from the
//! signature's scope.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::free_port;
use crate::sigv4::Signer;

/// Where `moto_server` is: `MOTO_SERVER`, or the first on `PATH`.
fn moto_server() -> PathBuf {
    const HOW: &str = "moto_server not found: set MOTO_SERVER to it, e.g. after \
        `python3 -m venv target/moto-venv && target/moto-venv/bin/pip install -r tests/moto-requirements.txt` \
        MOTO_SERVER=$PWD/target/moto-venv/bin/moto_server (as `cargo xtask test` does)";
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{HOW} (MOTO_SERVER={})", path.display());
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("moto_server"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{HOW}"))
}

/// A running `moto_server`; killed when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub port: u16,
    signer: Signer,
    client: reqwest::Client,
}

impl Moto {
    /// Starts moto and waits until it answers; requests go to `region`.
    pub async fn start(region: &str) -> Self {
        let port = free_port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start moto_server: {e}"));
        let mut moto = Self {
            child,
            port,
            signer: Signer::new("logs", region, "moto-test-key", "moto-test-secret"),
            client: reqwest::Client::new(),
        };
        moto.wait_until_answering().await;
        moto
    }

    /// `http://127.0.0.1:<port>`: an AWS client's endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_until_answering(&mut self) {
        let started = Instant::now();
        let url = format!("{}/moto-api/", self.endpoint());
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait().expect("moto_server's status") {
                panic!("moto_server exited during startup: {status}");
            }
            if let Ok(response) = self.client.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not answer within 30 s");
    }

    /// One CloudWatch Logs action (`CreateLogGroup`, `GetLogEvents`, ...); its answer.
    pub async fn logs(&self, action: &str, request: Value) -> Value {
        let url = format!("{}/", self.endpoint());
        let body = request.to_string();
        let target = format!("Logs_20140328.{action}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let mut call = self.client.post(&url).body(body.clone());
        for (name, value) in headers {
            call = call.header(name, value);
        }
        for (name, value) in
            self.signer
                .sign("POST", &url, &headers, body.as_bytes(), SystemTime::now())
        {
            call = call.header(name, value);
        }
        let response = call
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto {action}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "moto {action}: {status}: {text}");
        if text.is_empty() {
            // What actions that return nothing (CreateLogGroup) answer.
            return json!({});
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("moto {action}: {e}: {text}"))
    }

    pub async fn create_log_group(&self, group: &str) {
        self.logs("CreateLogGroup", json!({ "logGroupName": group }))
            .await;
    }

    /// The names of the group's log streams.
    pub async fn log_streams(&self, group: &str) -> Vec<String> {
        let answer = self
            .logs("DescribeLogStreams", json!({ "logGroupName": group }))
            .await;
        answer["logStreams"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["logStreamName"].as_str().map(str::to_owned))
            .collect()
    }

    /// Every event's message in a stream, oldest first.
    pub async fn log_events(&self, group: &str, stream: &str) -> Vec<String> {
        let mut messages = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = json!({
                "logGroupName": group,
                "logStreamName": stream,
                "startFromHead": true,
            });
            if let Some(token) = &token {
                request["nextToken"] = json!(token);
            }
            let answer = self.logs("GetLogEvents", request).await;
            let events = answer["events"].as_array().cloned().unwrap_or_default();
            messages.extend(
                events
                    .iter()
                    .filter_map(|e| e["message"].as_str().map(str::to_owned)),
            );
            let next = answer["nextForwardToken"].as_str().map(str::to_owned);
            if events.is_empty() || next.is_none() || next == token {
                return messages;
            }
            token = next;
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
