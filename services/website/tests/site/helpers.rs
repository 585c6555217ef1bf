//! `spawn_site()`: both APIs and the website on port 0, on a fresh table; a `TestSite`
//! with one helper per page.

use std::sync::Once;
use std::time::Duration;

use reqwest::Response;
use serde_json::{Value, json};
use service_kit::config::BaseUrl;
use store::DynamoStore;

/// Spans get real trace IDs in this process, as they do in the service (the 503 page
/// shows one): an OpenTelemetry layer without an exporter. Logs only with `TEST_LOG`.
fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("website-tests"));
        let logs = std::env::var_os("TEST_LOG").map(|_| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(tracing_subscriber::EnvFilter::new("info,website=debug"))
        });
        use tracing_subscriber::Layer as _;
        let _ = tracing_subscriber::registry()
            .with(otel)
            .with(logs)
            .try_init();
    });
}

/// A running website, the APIs behind it and the table they share.
#[derive(Debug)]
pub struct TestSite {
    pub address: String,
    pub register_url: String,
    pub listing_url: String,
    pub store: Option<DynamoStore>,
    client: reqwest::Client,
}

/// The APIs (as libraries) on a fresh table, and the website in front of them.
pub async fn spawn_site() -> TestSite {
    init_tracing();
    let store = test_support::fresh_store().await;
    let listing =
        server_listing::build_with_store(0, store.clone(), faults::Faults::none("server-listing"))
            .await
            .expect("bind server-listing");
    let register = register::build_with_store(0, store.clone(), faults::Faults::none("register"))
        .await
        .expect("bind register");
    let listing_url = format!("http://127.0.0.1:{}", listing.port());
    let register_url = format!("http://127.0.0.1:{}", register.port());
    // They stop with the test's runtime.
    tokio::spawn(listing.run_until(std::future::pending()));
    tokio::spawn(register.run_until(std::future::pending()));
    let mut site = spawn_site_on(&listing_url, &register_url).await;
    site.store = Some(store);
    site
}

/// The website in front of whatever answers (or does not) at these URLs.
pub async fn spawn_site_on(listing_url: &str, register_url: &str) -> TestSite {
    init_tracing();
    let config = website::Config {
        port: 0,
        server_listing_url: listing_url.parse::<BaseUrl>().expect("listing URL"),
        register_url: register_url.parse::<BaseUrl>().expect("register URL"),
    };
    let app = website::build_with_config(config)
        .await
        .expect("bind the website");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    TestSite {
        address,
        register_url: register_url.to_owned(),
        listing_url: listing_url.to_owned(),
        store: None,
        client,
    }
}

/// A URL nothing listens on: bound, then released.
pub fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

impl TestSite {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn get_with(&self, path: &str, header: &str, value: &str) -> Response {
        self.client
            .get(self.url(path))
            .header(header, value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// GET, asserting the status, and the body.
    pub async fn page(&self, path: &str, status: u16) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), status, "GET {path}");
        response.text().await.expect("body")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Admits a resident straight through register's API (arrangement, not the form).
    pub async fn admit(&self, name: &str, server_type: &str, os: &str) -> Value {
        let response = self
            .client
            .post(format!("{}/v1/registrations", self.register_url))
            .json(&json!({"name": name, "type": server_type, "os": os, "petname": "pet", "service": 4}))
            .send()
            .await
            .expect("POST /v1/registrations");
        assert_eq!(response.status(), 201);
        response.json().await.expect("a resident")
    }

    /// Every resident the listing API has, newest first.
    pub async fn all_residents(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/v1/servers?limit=100", self.listing_url);
            if let Some(cursor) = &cursor {
                url.push_str("&cursor=");
                url.push_str(cursor);
            }
            let page: Value = self
                .client
                .get(url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            all.extend(page["servers"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return all,
            }
        }
    }
}

/// The value of the hidden idempotency token in a form page.
pub fn token_in(html: &str) -> String {
    let marker = "name=\"idempotency_token\" value=\"";
    let start = html.find(marker).expect("a token field") + marker.len();
    let end = start + html[start..].find('"').expect("end of the token");
    html[start..end].to_owned()
}

/// How many resident cards a page shows.
pub fn cards_in(html: &str) -> usize {
    html.matches("<article class=\"card\"").count()
}
