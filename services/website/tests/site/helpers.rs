//! `spawn_app()`: both APIs (as libraries) and the website on port 0, on a fresh table;
//! a `TestApp` with one helper per page. `spawn_app_on()` puts the website in front of
//! whatever answers at two URLs: nothing (`test_support::closed_url()`), or a fake API
//! (`spawn_fake_api()`) that answers what a test needs.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use reqwest::Response;
use serde_json::{Value, json};
use service_kit::Limits;
use service_kit::config::BaseUrl;
use test_support::TestServer;

/// A running website and the APIs behind it; they stop when it is dropped.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub register_url: String,
    pub listing_url: String,
    client: reqwest::Client,
    /// The website, and the real APIs when there are any.
    _servers: Vec<TestServer>,
}

/// The real APIs on a fresh table, and the website in front of them.
pub async fn spawn_app() -> TestApp {
    // First, so that spans have trace IDs (the 503 page shows one).
    test_support::init_tracing_with_trace_ids();
    let store = test_support::fresh_store().await;
    let listing =
        server_listing::build_with_store(0, store.clone(), faults::Faults::none("server-listing"))
            .await
            .expect("bind server-listing");
    let register = register::build_with_store(0, store, faults::Faults::none("register"))
        .await
        .expect("bind register");
    let (listing, register) = (TestServer::start(listing), TestServer::start(register));
    let mut app = spawn_app_on(&listing.address, &register.address).await;
    app._servers.extend([listing, register]);
    app
}

/// The website in front of whatever answers (or does not) at these URLs.
pub async fn spawn_app_on(listing_url: &str, register_url: &str) -> TestApp {
    spawn_app_with_limits(listing_url, register_url, Limits::default()).await
}

/// [`spawn_app_on`] with other bounds (a short request timeout shows the busy page).
pub async fn spawn_app_with_limits(
    listing_url: &str,
    register_url: &str,
    limits: Limits,
) -> TestApp {
    test_support::init_tracing_with_trace_ids();
    let config = website::Config {
        port: 0,
        server_listing_url: listing_url.parse::<BaseUrl>().expect("listing URL"),
        register_url: register_url.parse::<BaseUrl>().expect("register URL"),
        trace_lookup: None,
    };
    let app = website::build_with_limits(config, limits)
        .await
        .expect("bind the website");
    let port = app.port();
    let website = TestServer::start(app);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    TestApp {
        address: website.address.clone(),
        port,
        register_url: register_url.to_owned(),
        listing_url: listing_url.to_owned(),
        client,
        _servers: vec![website],
    }
}

/// Serves `router` on a free port until the test's runtime ends; its base URL.
pub async fn spawn_fake_api(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a fake API");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// The ckid of the resident every fake API knows.
pub const FAKE_CKID: &str = "01KAS5V3TPJ6B4ZQ8M2N7R1XYC";

/// The resident every fake API knows.
pub fn fake_resident() -> Value {
    json!({
        "ckid": FAKE_CKID, "name": "Fakey", "type": "t3.micro", "service": 3,
        "happiness": 5, "petname": "fk", "os": "linux",
        "registered_at": "2026-01-02T03:04:05.000000Z", "feed_count": 0
    })
}

/// An API that reads fine (one resident) and answers every write with `status` and a
/// problem+json body of `problem_type`, as both APIs do.
pub fn fake_api(status: u16, problem_type: &'static str) -> axum::Router {
    let write = move || async move {
        let status = StatusCode::from_u16(status).expect("a status");
        let body = json!({
            "type": problem_type, "title": "Fake", "status": status.as_u16(),
            "detail": "A fake API's answer."
        });
        (
            status,
            [
                ("content-type", "application/problem+json"),
                ("retry-after", "2"),
            ],
            Json(body),
        )
            .into_response()
    };
    fake_reads()
        .route("/v1/servers/{ckid}/feed", post(write))
        .route("/v1/registrations", post(write))
}

/// An API that reads fine (one resident) and has no write routes: add them.
pub fn fake_reads() -> axum::Router {
    axum::Router::new()
        .route(
            "/v1/servers",
            get(|| async { Json(json!({"servers": [fake_resident()], "next_cursor": null})) }),
        )
        .route(
            "/v1/servers/{ckid}",
            get(|| async { Json(fake_resident()) }),
        )
        .route("/health", get(|| async { "ok" }))
}

/// An API whose every answer, reads too, is `status` with a problem+json body.
pub fn failing_api(status: u16) -> axum::Router {
    axum::Router::new().fallback(move || async move {
        let status = StatusCode::from_u16(status).expect("a status");
        (
            status,
            [("content-type", "application/problem+json")],
            Json(json!({"type": "about:blank", "status": status.as_u16(), "detail": "fake"})),
        )
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
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
        self.post_form_with(path, form, &[]).await
    }

    /// A form POST with extra headers (`Origin`, `Sec-Fetch-Site`, `Host`).
    pub async fn post_form_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.post_body(path, &body, headers).await
    }

    /// A form POST of a body exactly as given (already form-encoded).
    pub async fn post_body(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// The admittance form's token, from a fresh form.
    pub async fn form_token(&self) -> String {
        token_in(&self.page("/register", 200).await)
    }

    /// Sends the admittance form with these fields and a fresh token.
    pub async fn register(&self, fields: &[(&str, &str)]) -> Response {
        let token = self.form_token().await;
        let mut form = fields.to_vec();
        form.push(("idempotency_token", &token));
        self.post_form("/register", &form).await
    }

    /// Presses a resident's feed button as a page rendered it: its token, back to
    /// `return_to`.
    pub async fn feed(&self, ckid: &str, token: &str, return_to: &str) -> Response {
        self.post_form(
            &format!("/residents/{ckid}/feed"),
            &[("idempotency_token", token), ("return_to", return_to)],
        )
        .await
    }

    /// Admits a resident straight through register's API (arrangement, not the form).
    pub async fn admit(&self, name: &str, server_type: &str, os: &str) -> Value {
        self.admit_with(
            json!({"name": name, "type": server_type, "os": os, "petname": "pet", "service": 4}),
        )
        .await
    }

    pub async fn admit_with(&self, registration: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/v1/registrations", self.register_url))
            .json(&registration)
            .send()
            .await
            .expect("POST /v1/registrations");
        assert_eq!(response.status(), 201, "{registration}");
        response.json().await.expect("a resident")
    }

    /// A resident as server-listing has it.
    pub async fn resident(&self, ckid: &str) -> Value {
        self.client
            .get(format!("{}/v1/servers/{ckid}", self.listing_url))
            .send()
            .await
            .expect("GET /v1/servers/{ckid}")
            .json()
            .await
            .expect("a resident")
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

/// The value of the first hidden idempotency token in a page.
pub fn token_in(html: &str) -> String {
    tokens_in(html).into_iter().next().expect("a token field")
}

/// Every hidden idempotency token in a page, in order.
pub fn tokens_in(html: &str) -> Vec<String> {
    let marker = "name=\"idempotency_token\" value=\"";
    html.match_indices(marker)
        .map(|(at, _)| {
            let start = at + marker.len();
            let end = start + html[start..].find('"').expect("end of the token");
            html[start..end].to_owned()
        })
        .collect()
}

/// The feed button's token on a resident's card.
pub fn feed_token_in(html: &str, ckid: &str) -> String {
    let form = format!("action=\"/residents/{ckid}/feed\"");
    let at = html
        .find(&form)
        .unwrap_or_else(|| panic!("no feed button for {ckid}"));
    token_in(&html[at..])
}

/// How many resident cards a page shows.
pub fn cards_in(html: &str) -> usize {
    html.matches("<article class=\"card").count()
}

/// The text of the first element with this class: tags dropped (block tags read as a
/// space), whitespace collapsed.
pub fn text_of(html: &str, class: &str) -> Option<String> {
    let marker = format!("class=\"{class}\"");
    let at = html.find(&marker)?;
    let start = at + html[at..].find('>')? + 1;
    let tag_start = html[..at].rfind('<')?;
    let tag: String = html[tag_start + 1..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let end = start + html[start..].find(&format!("</{tag}>"))?;
    let mut text = String::new();
    let mut rest = &html[start..end];
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let close = open + rest[open..].find('>')?;
        let name: String = rest[open + 1..close]
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if !matches!(
            name.as_str(),
            "a" | "span" | "strong" | "em" | "code" | "time" | "b"
        ) {
            text.push(' ');
        }
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    Some(
        decoded(&text)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// HTML with its character references read back (`&#39;` → `'`), for assertions on
/// text as a visitor reads it.
pub fn decoded(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|end| *end <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let character = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix('#')
                .and_then(|n| n.parse::<u32>().ok())
                .and_then(char::from_u32),
        };
        match character {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
