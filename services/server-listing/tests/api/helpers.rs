//! `spawn_app()` and a `TestApp` with one method per endpoint.

use std::collections::HashSet;
use std::time::Duration;

use domain::{Resident, ResidentId, Timestamp};
use faults::Faults;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use service_kit::{Application, Limits, health_router};
use store::DynamoStore;
use test_support::TestServer;

pub use test_support::assert_problem as problem;

/// A running server-listing. Dropping it stops the server.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub store: Option<DynamoStore>,
    client: reqwest::Client,
    _server: TestServer,
}

/// The real service (`build_with_store`) on a fresh table.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(test_support::fresh_store().await).await
}

/// The real service (`build_with_store`) on the given store.
pub async fn spawn_app_on(store: DynamoStore) -> TestApp {
    let app = server_listing::build_with_store(0, store.clone(), no_faults())
        .await
        .expect("bind port 0");
    TestApp::serve(app, Some(store))
}

/// The service's router over any `AppState` (fakes included), with the standard
/// middleware and a `/ready` that always answers.
pub async fn spawn_router(state: server_listing::AppState) -> TestApp {
    let health = health_router(server_listing::INFO, || async { Ok(()) });
    let router = server_listing::router(state, no_faults());
    let app = Application::bind(0, router, health, Limits::default())
        .await
        .expect("bind port 0");
    TestApp::serve(app, None)
}

fn no_faults() -> Faults {
    Faults::none(server_listing::INFO.name)
}

impl TestApp {
    fn serve(app: Application, store: Option<DynamoStore>) -> Self {
        let server = TestServer::start(app);
        let client = reqwest::Client::builder()
            // Far beyond the service's own 10 s request timeout: only a hung service
            // trips it.
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        Self {
            address: server.address.clone(),
            store,
            client,
            _server: server,
        }
    }

    pub fn store(&self) -> &DynamoStore {
        self.store.as_ref().expect("this app has a DynamoDB store")
    }

    /// `GET /v1/servers?{query}`; the query is sent exactly as written.
    pub async fn list(&self, query: &str) -> Response {
        self.request(Method::GET, &format!("/v1/servers?{query}"))
            .await
    }

    /// `GET /v1/servers/{ckid}`; `ckid` is sent exactly as written (already encoded).
    pub async fn get_server(&self, ckid: &str) -> Response {
        self.request(Method::GET, &format!("/v1/servers/{ckid}"))
            .await
    }

    /// `POST /v1/servers/{ckid}/feed` without a body.
    pub async fn feed(&self, ckid: &str) -> Response {
        self.request(Method::POST, &format!("/v1/servers/{ckid}/feed"))
            .await
    }

    pub async fn openapi(&self) -> Response {
        self.request(Method::GET, "/openapi.json").await
    }

    pub async fn health(&self) -> Response {
        self.request(Method::GET, "/health").await
    }

    pub async fn ready(&self) -> Response {
        self.request(Method::GET, "/ready").await
    }

    /// Any method on any path (for fallbacks and the OpenAPI cross-check).
    pub async fn request(&self, method: Method, path: &str) -> Response {
        self.client
            .request(method, format!("{}{path}", self.address))
            .send()
            .await
            .expect("the service answers")
    }

    /// A request builder, for requests with bodies or headers.
    pub fn builder(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// Every page of `GET /v1/servers?{query}` following `next_cursor`: the ckids in
    /// order and each page's size.
    pub async fn list_all(&self, query: &str) -> (Vec<String>, Vec<usize>) {
        let mut ids = Vec::new();
        let mut sizes = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let full = match &cursor {
                Some(c) => format!("{query}&cursor={c}"),
                None => query.to_owned(),
            };
            let page = json_ok(self.list(&full).await).await;
            let servers = page["servers"].as_array().expect("servers is an array");
            sizes.push(servers.len());
            ids.extend(
                servers
                    .iter()
                    .map(|s| s["ckid"].as_str().unwrap().to_owned()),
            );
            match &page["next_cursor"] {
                Value::Null => return (ids, sizes),
                Value::String(next) => cursor = Some(next.clone()),
                other => panic!("next_cursor is neither a string nor null: {other}"),
            }
        }
        panic!("more than 100 pages: the cursor does not advance");
    }

    /// Stores `count` residents registered a minute apart (the `i`th at minute `i`),
    /// with `os(i)` as their OS; returns them oldest first.
    pub async fn insert_residents(
        &self,
        count: usize,
        os: fn(usize) -> &'static str,
    ) -> Vec<Resident> {
        let residents: Vec<Resident> = (0..count).map(|i| resident(i, os(i), 5)).collect();
        for chunk in residents.chunks(25) {
            let mut writes = tokio::task::JoinSet::new();
            for r in chunk {
                let (store, r) = (self.store().clone(), r.clone());
                writes.spawn(async move { store.insert(&r).await });
            }
            while let Some(done) = writes.join_next().await {
                assert!(
                    done.unwrap().expect("insert a resident"),
                    "a ckid was taken"
                );
            }
        }
        residents
    }

    /// Stores one resident and returns it.
    pub async fn insert_one(&self, happiness: u8) -> Resident {
        let r = resident(0, "linux", happiness);
        assert!(self.store().insert(&r).await.expect("insert a resident"));
        r
    }
}

/// The `i`th test resident, registered `i` minutes after a fixed instant.
pub fn resident(i: usize, os: &str, happiness: u8) -> Resident {
    let at = Timestamp::parse(&format!("2026-01-01T{:02}:{:02}:00Z", i / 60 % 24, i % 60)).unwrap();
    Resident {
        ckid: ResidentId::generate(at),
        name: format!("resident {i}"),
        server_type: "m5.xlarge".into(),
        service: 3,
        happiness,
        petname: format!("pet {i}"),
        os: os.into(),
        image: Some(format!("https://example.com/{i}.png")),
        registered_at: Some(at),
        feed_count: 0,
        last_fed_at: None,
    }
}

/// ckids newest first.
pub fn newest_first<'a>(residents: impl IntoIterator<Item = &'a Resident>) -> Vec<String> {
    let mut sorted: Vec<&Resident> = residents.into_iter().collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.registered_at));
    sorted.iter().map(|r| r.ckid.to_string()).collect()
}

pub fn assert_no_duplicates(ids: &[String]) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a resident was listed twice");
}

/// Asserts a 200 `application/json` answer and returns its body.
pub async fn json_ok(response: Response) -> Value {
    let status = response.status();
    let ct = test_support::content_type(&response);
    let body = response.text().await.expect("a body");
    assert_eq!(status, StatusCode::OK, "body: {body}");
    assert_eq!(ct, "application/json", "body: {body}");
    serde_json::from_str(&body).expect("a JSON body")
}

pub fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap()
}
