//! `spawn_app()`: the real service on port 0 against a fresh DynamoDB Local table, and a
//! `TestApp` with one helper per endpoint plus direct reads of the table.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use store::DynamoStore;
use test_support::TestServer;
pub use test_support::{assert_problem, content_type};

pub type Item = HashMap<String, AttributeValue>;

/// A running register service and the table it writes to. Dropping it stops the
/// server.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub store: DynamoStore,
    client: reqwest::Client,
    _server: TestServer,
}

/// Starts the service on a fresh table of the run's DynamoDB Local.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(test_support::fresh_store().await).await
}

/// Starts the service on `store` (for tests that bring their own DynamoDB Local).
pub async fn spawn_app_on(store: DynamoStore) -> TestApp {
    let faults = faults::Faults::none(register::INFO.name);
    let app = register::build_with_store(0, store.clone(), faults)
        .await
        .expect("bind the register service");
    let server = TestServer::start(app);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    TestApp {
        address: server.address.clone(),
        store,
        client,
        _server: server,
    }
}

impl TestApp {
    /// `POST /v1/registrations` with a JSON body and no Idempotency-Key.
    pub async fn post_registration(&self, body: &Value) -> Response {
        self.post_registration_raw(Some("application/json"), body.to_string(), None)
            .await
    }

    /// `POST /v1/registrations` with a JSON body and an Idempotency-Key.
    pub async fn post_registration_with_key(&self, key: &str, body: &Value) -> Response {
        self.post_registration_raw(Some("application/json"), body.to_string(), Some(key))
            .await
    }

    /// `POST /v1/registrations` exactly as given: any body, any (or no) Content-Type.
    pub async fn post_registration_raw(
        &self,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
        key: Option<&str>,
    ) -> Response {
        let mut request = self
            .client
            .post(format!("{}/v1/registrations", self.address))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.expect("POST /v1/registrations")
    }

    /// `POST /v1/registrations` with a valid body and these headers (for odd
    /// Idempotency-Key values that `&str` cannot carry).
    pub async fn post_registration_with_headers(&self, headers: HeaderMap) -> Response {
        self.client
            .post(format!("{}/v1/registrations", self.address))
            .header(CONTENT_TYPE, "application/json")
            .headers(headers)
            .body(valid_registration().to_string())
            .send()
            .await
            .expect("POST /v1/registrations")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {err}"))
    }

    pub async fn get_openapi(&self) -> Response {
        self.get("/openapi.json").await
    }

    pub async fn get_health(&self) -> Response {
        self.get("/health").await
    }

    pub async fn get_ready(&self) -> Response {
        self.get("/ready").await
    }

    /// The table's item under `ckid` (strongly consistent), if any.
    pub async fn stored_item(&self, ckid: &str) -> Option<Item> {
        self.store
            .client()
            .get_item()
            .table_name(self.store.table().as_str())
            .key("ckid", AttributeValue::S(ckid.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item
    }

    /// Every item of the table (a test may scan; the service never does).
    pub async fn scan_all(&self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .store
                .client()
                .scan()
                .table_name(self.store.table().as_str())
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Scan");
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return items,
            }
        }
    }

    /// Residents stored: items with a `listing` attribute.
    pub async fn resident_count(&self) -> usize {
        self.scan_all()
            .await
            .iter()
            .filter(|item| item.contains_key("listing"))
            .count()
    }
}

/// A registration every rule accepts, with every field set.
pub fn valid_registration() -> Value {
    json!({
        "name": "Old Faithful",
        "type": "m4.large",
        "os": "linux",
        "petname": "bessie",
        "service": 9,
        "happiness": 8,
        "image": "https://example.com/old-faithful.png"
    })
}

/// `valid_registration()` with `field` set to `value` (`Value::Null`... is sent as
/// null; use [`without`] to leave a field out).
pub fn with(field: &str, value: Value) -> Value {
    let mut body = valid_registration();
    body[field] = value;
    body
}

/// `valid_registration()` without `field`.
pub fn without(field: &str) -> Value {
    let mut body = valid_registration();
    body.as_object_mut().expect("an object").remove(field);
    body
}

/// Asserts a 201 with a resident body and `Location: /v1/servers/{ckid}`; returns the
/// body and the Location.
pub async fn assert_created(response: Response) -> (Value, String) {
    let status = response.status();
    if status != StatusCode::CREATED {
        let body = response.text().await.unwrap_or_default();
        panic!("expected 201, got {status}: {body}");
    }
    assert_eq!(content_type(&response), "application/json");
    let location = response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .expect("an ASCII Location")
        .to_owned();
    let body: Value = response.json().await.expect("a JSON resident");
    let ckid = body["ckid"].as_str().expect("a ckid");
    assert_eq!(location, format!("/v1/servers/{ckid}"));
    (body, location)
}

impl TestApp {
    /// Asserts that the table holds exactly the resident `answered` (the 201 body), plus
    /// the store's own attributes; the stored item.
    pub async fn assert_stored_as_answered(&self, answered: &Value) -> Item {
        let ckid = answered["ckid"].as_str().expect("a ckid");
        let item = self
            .stored_item(ckid)
            .await
            .expect("the resident is stored");
        assert_item_is(&item, answered);
        item
    }
}

fn assert_item_is(item: &Item, answered: &Value) {
    let answered = answered.as_object().expect("a resident object");
    for (name, value) in answered {
        match (value, item.get(name)) {
            (Value::Null, None) => {}
            (Value::String(text), Some(AttributeValue::S(stored))) => {
                assert_eq!(stored, text, "attribute {name}");
            }
            (Value::Number(number), Some(AttributeValue::N(stored))) => {
                assert_eq!(stored, &number.to_string(), "attribute {name}");
            }
            (answered, stored) => {
                panic!("attribute {name}: answered {answered}, stored {stored:?}")
            }
        }
    }
    // Beside the resident's own fields, only the two index keys and what makes writes
    // to it idempotent: the registration's fingerprint, the key's lifetime, the tokens of
    // its last feedings.
    let os = answered["os"].as_str().expect("an os");
    assert_eq!(
        item.get("listing"),
        Some(&AttributeValue::S("resident".into()))
    );
    assert_eq!(
        item.get("os_key"),
        Some(&AttributeValue::S(os.to_lowercase()))
    );
    let extra: Vec<_> = item
        .keys()
        .filter(|k| {
            !answered.contains_key(*k)
                && ![
                    "listing",
                    "os_key",
                    "fingerprint",
                    "key_until",
                    "recent_feeds",
                ]
                .contains(&k.as_str())
        })
        .collect();
    assert!(extra.is_empty(), "unexpected attributes {extra:?}");
}
