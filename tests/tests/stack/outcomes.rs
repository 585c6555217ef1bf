//! Honest answers when DynamoDB hangs mid-write: the real services as processes on a
//! DynamoDB Local of the test's own, frozen (SIGSTOP) while a write is sent and thawed
//! (SIGCONT) after the answer, so the write sits unanswered in DynamoDB's socket and is
//! applied once the service has given up — what a timeout in production looks like.
//!
//! No answer may claim that a write which then appears did not happen, and repeating the
//! request with the same Idempotency-Key must leave exactly one resident / one feeding.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stack_tests::Service;
use store::ResidentReader;
use test_support::PrivateDynamoDbLocal;

const OUTCOME_UNKNOWN: &str = service_kit::OUTCOME_UNKNOWN;

async fn service_on(name: &str, dynamodb: &PrivateDynamoDbLocal, table: &str) -> Service {
    Service::start(
        name,
        &[
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.endpoint()),
            ("RESIDENTS_TABLE", table.to_owned()),
        ],
    )
    .await
}

/// Waits (at most 30 s) until `done` holds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(30), "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The answer to a request sent while DynamoDB is frozen, with DynamoDB thawed after.
async fn while_frozen(
    dynamodb: &PrivateDynamoDbLocal,
    request: reqwest::RequestBuilder,
) -> (u16, Value) {
    dynamodb.pause();
    let response = request.send().await;
    dynamodb.resume();
    let response = response.expect("an answer, not a hang");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_admission_whose_outcome_is_unknown_says_so_and_its_retry_admits_once() {
    let dynamodb = PrivateDynamoDbLocal::start();
    let store = dynamodb.fresh_store().await;
    let register = service_on("register", &dynamodb, store.table().as_str()).await;
    let client = reqwest::Client::new();
    let body = json!({"name": "frozen in time", "type": "t3.micro", "os": "linux"});
    let post = |key: Option<&str>| {
        let request = client.post(register.url("/v1/registrations")).json(&body);
        match key {
            Some(key) => request.header("Idempotency-Key", key),
            None => request,
        }
    };

    let (status, problem) = while_frozen(&dynamodb, post(Some("frozen-1"))).await;

    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["type"], OUTCOME_UNKNOWN, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        !detail.contains("nothing"),
        "claims nothing happened: {detail}"
    );
    // The write was in DynamoDB's socket: it lands now that DynamoDB runs again.
    let residents = async || store.list(&Default::default()).await.unwrap().residents;
    eventually("the frozen admission lands", async || {
        !residents().await.is_empty()
    })
    .await;

    let retried = post(Some("frozen-1")).send().await.unwrap();
    assert_eq!(retried.status(), 201);
    let retried: Value = retried.json().await.unwrap();
    let stored = residents().await;
    assert_eq!(stored.len(), 1, "one resident, however often it was sent");
    assert_eq!(retried["ckid"], stored[0].ckid.as_str());

    // Without a key the answer is as honest, though a repeat cannot be made safe.
    let (status, problem) = while_frozen(&dynamodb, post(None)).await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["type"], OUTCOME_UNKNOWN, "{problem}");
    eventually("the keyless admission lands", async || {
        residents().await.len() == 2
    })
    .await;
}

#[tokio::test]
async fn a_feeding_whose_outcome_is_unknown_says_so_and_its_retry_feeds_once() {
    let dynamodb = PrivateDynamoDbLocal::start();
    let store = dynamodb.fresh_store().await;
    store::seed::seed(&store).await.unwrap();
    let listing = service_on("server-listing", &dynamodb, store.table().as_str()).await;
    let resident = store.list(&Default::default()).await.unwrap().residents[0].clone();
    let client = reqwest::Client::new();
    let feed = |key: Option<&str>| {
        let request = client.post(listing.url(&format!("/v1/servers/{}/feed", resident.ckid)));
        match key {
            Some(key) => request.header("Idempotency-Key", key),
            None => request,
        }
    };
    let feed_count = async || store.get(&resident.ckid).await.unwrap().feed_count;

    let (status, problem) = while_frozen(&dynamodb, feed(Some("frozen-feed"))).await;

    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["type"], OUTCOME_UNKNOWN, "{problem}");
    assert_eq!(problem["idempotency_key"], "frozen-feed", "{problem}");
    eventually("the frozen feeding lands", async || {
        feed_count().await == resident.feed_count + 1
    })
    .await;
    let retried = feed(Some("frozen-feed")).send().await.unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    assert_eq!(feed_count().await, resident.feed_count + 1, "fed once");

    // Sent without a key, the answer names the key the service chose: repeating with it
    // is safe too.
    let (status, problem) = while_frozen(&dynamodb, feed(None)).await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["type"], OUTCOME_UNKNOWN, "{problem}");
    let key = problem["idempotency_key"]
        .as_str()
        .expect("the service's key")
        .to_owned();
    eventually("the keyless feeding lands", async || {
        feed_count().await == resident.feed_count + 2
    })
    .await;
    let retried = feed(Some(&key)).send().await.unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    assert_eq!(
        feed_count().await,
        resident.feed_count + 2,
        "fed once more, not twice"
    );
}
