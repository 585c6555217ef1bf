//! The whole stack as processes: the website in front of register and server-listing,
//! both reaching the run's DynamoDB Local through `cuddlekube-admin tls-proxy` (TLS with
//! a CA made for the test, trusted through `AWS_CA_BUNDLE`, as in the local stacks), all
//! exporting to one OTLP receiver (or wherever the caller points them).

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use reqwest::redirect::Policy;
use serde_json::Value;
use store::{DynamoStore, TableName};

use crate::otlp::OtlpReceiver;
use crate::{Service, admin, binary};

/// The three services on one fresh table, and what tests need to drive and inspect them.
#[derive(Debug)]
pub struct Stack {
    pub website: Service,
    pub register: Service,
    pub listing: Service,
    /// A store on the same table, for assertions (plain HTTP to DynamoDB Local).
    pub store: DynamoStore,
    /// A browser-like client: no redirects followed, so a 303 can be asserted.
    pub client: reqwest::Client,
    _tls: TlsProxy,
}

impl Stack {
    /// The stack exporting to `receiver`.
    pub async fn start(receiver: &OtlpReceiver) -> Self {
        Self::start_exporting(&receiver.env()).await
    }

    /// The stack with `telemetry` (`OTEL_*` variables: where to export, how often) added
    /// to every service's environment, e.g. pointing them at a collector.
    pub async fn start_exporting(telemetry: &[(&'static str, String)]) -> Self {
        Self::start_exporting_each(|_| telemetry.to_vec()).await
    }

    /// The stack with `telemetry(service)` added to each service's environment, e.g.
    /// each pointing at its own sidecar collector.
    pub async fn start_exporting_each(
        telemetry: impl Fn(&str) -> Vec<(&'static str, String)>,
    ) -> Self {
        let store = test_support::fresh_store().await;
        let tls = TlsProxy::start();
        let table = store.table().to_string();
        let api_env = vec![
            ("RESIDENTS_TABLE", table.clone()),
            ("AWS_ENDPOINT_URL_DYNAMODB", tls.endpoint.clone()),
            (store::CA_BUNDLE_VAR, tls.ca_bundle().display().to_string()),
        ];
        let with_telemetry = |mut env: Vec<(&'static str, String)>, service: &str| {
            env.extend(telemetry(service));
            env
        };
        let listing = Service::start(
            "server-listing",
            &with_telemetry(api_env.clone(), "server-listing"),
        )
        .await;
        let register = Service::start("register", &with_telemetry(api_env, "register")).await;
        let website_env = vec![
            ("SERVER_LISTING_URL", listing.url("")),
            ("REGISTER_URL", register.url("")),
        ];
        let website = Service::start("website", &with_telemetry(website_env, "website")).await;
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Self {
            website,
            register,
            listing,
            store,
            client,
            _tls: tls,
        }
    }

    pub fn table(&self) -> &TableName {
        self.store.table()
    }

    /// `cuddlekube-admin ARGS` on this stack's table; panics unless it succeeds.
    pub fn admin(&self, args: &[&str]) -> Output {
        let output = admin(args, &[("RESIDENTS_TABLE", self.table().to_string())]);
        assert!(
            output.status.success(),
            "cuddlekube-admin {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// A page of the website: its status, headers and HTML.
    pub async fn visit(&self, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
        let response = self
            .client
            .get(self.website.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (
            response.status().as_u16(),
            response.headers().clone(),
            response.text().await.unwrap_or_default(),
        )
    }

    /// A form sent to the website as a browser on it would.
    pub async fn submit(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let response = self
            .client
            .post(self.website.url(path))
            .header("origin", self.website.url(""))
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        (
            response.status().as_u16(),
            response.headers().clone(),
            response.text().await.unwrap_or_default(),
        )
    }
}

/// A log line that says `fault` was switched on (`on`) or off in that service.
pub fn fault_switched(line: &Value, fault: &str, on: bool) -> bool {
    let message = line["message"].as_str().unwrap_or_default();
    line["fault.name"] == fault
        && message.starts_with(if on {
            "fault switched on"
        } else {
            "fault switched off"
        })
}

/// The X-Ray trace ID a page quotes (`1-xxxxxxxx-yyyy…`), if it quotes one.
pub fn quoted_trace_id(html: &str) -> Option<String> {
    let pattern = regex::Regex::new(r"1-[0-9a-f]{8}-[0-9a-f]{24}").expect("a regex");
    pattern.find(html).map(|m| m.as_str().to_owned())
}

/// `cuddlekube-admin tls-proxy` in front of the run's DynamoDB Local; killed when dropped.
#[derive(Debug)]
pub struct TlsProxy {
    child: Child,
    /// `https://localhost:<port>`
    pub endpoint: String,
    certs: PathBuf,
}

impl TlsProxy {
    pub fn start() -> Self {
        let certs = std::env::temp_dir().join(format!("cuddlekube-tls-{}", crate::unique_name()));
        let (child, endpoint) = dynamodb_local::start_tls_proxy(
            &binary("cuddlekube-admin"),
            &test_support::dynamodb_endpoint(),
            &certs,
            Stdio::null(),
        )
        .expect("start cuddlekube-admin tls-proxy");
        Self {
            child,
            endpoint,
            certs,
        }
    }

    pub fn ca_bundle(&self) -> PathBuf {
        self.certs.join("ca.pem")
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.certs);
    }
}
