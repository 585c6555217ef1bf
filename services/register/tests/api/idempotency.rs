//! The Idempotency-Key contract: same key and body → the same answer and one resident,
//! also under concurrency; same key, other body → 409; keys expire after 24 hours.

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;

use crate::helpers::{
    assert_created, assert_problem, spawn_app, valid_registration, with, without,
};

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_answer() {
    let app = spawn_app().await;
    let key = "form-7f3a9c";

    let first = app
        .post_registration_with_key(key, &valid_registration())
        .await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (first, first_location) = assert_created(first).await;
    let again = app
        .post_registration_with_key(key, &valid_registration())
        .await;
    assert_eq!(
        again.headers().get("idempotent-replayed"),
        Some(&HeaderValue::from_static("true"))
    );
    let (again, again_location) = assert_created(again).await;

    assert_eq!(again, first);
    assert_eq!(again_location, first_location);
    assert_eq!(app.resident_count().await, 1);
}

#[tokio::test]
async fn bodies_that_normalise_alike_count_as_the_same() {
    let app = spawn_app().await;
    let key = "normalised";

    let (first, _) = assert_created(
        app.post_registration_with_key(key, &valid_registration())
            .await,
    )
    .await;
    // Extra spaces, an ignored ckid and an unknown field change nothing that is stored.
    let mut same = with("name", json!("  Old Faithful  "));
    same["ckid"] = json!("ck1");
    same["unknown"] = json!(true);
    let (again, _) = assert_created(app.post_registration_with_key(key, &same).await).await;

    assert_eq!(again, first);
    assert_eq!(app.resident_count().await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_409_and_writes_nothing() {
    let app = spawn_app().await;
    let key = "reused";
    let (first, _) = assert_created(
        app.post_registration_with_key(key, &valid_registration())
            .await,
    )
    .await;
    let items_before = app.scan_all().await.len();

    for other in [
        with("name", json!("Someone Else")),
        with("happiness", json!(9)),
        without("image"),
    ] {
        let response = app.post_registration_with_key(key, &other).await;
        let problem = assert_problem(response, StatusCode::CONFLICT).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key"),
            "{problem}"
        );
    }

    assert_eq!(app.scan_all().await.len(), items_before);
    assert_eq!(app.resident_count().await, 1);
    // The key still replays its first registration.
    let (again, _) = assert_created(
        app.post_registration_with_key(key, &valid_registration())
            .await,
    )
    .await;
    assert_eq!(again, first);
}

#[tokio::test]
async fn different_keys_admit_different_residents() {
    let app = spawn_app().await;

    let (a, _) = assert_created(
        app.post_registration_with_key("key-a", &valid_registration())
            .await,
    )
    .await;
    let (b, _) = assert_created(
        app.post_registration_with_key("key-b", &valid_registration())
            .await,
    )
    .await;

    assert_ne!(a["ckid"], b["ckid"]);
    assert_eq!(app.resident_count().await, 2);
}

#[tokio::test]
async fn an_invalid_registration_does_not_use_up_its_key() {
    let app = spawn_app().await;
    let key = "retry-after-fixing-the-form";

    let response = app
        .post_registration_with_key(key, &with("name", json!("")))
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(app.scan_all().await.is_empty(), "nothing is written");

    assert_created(
        app.post_registration_with_key(key, &valid_registration())
            .await,
    )
    .await;
    assert_eq!(app.resident_count().await, 1);
}

#[tokio::test]
async fn an_invalid_idempotency_key_is_a_400_naming_the_header() {
    let app = spawn_app().await;
    let invalid: Vec<HeaderValue> = vec![
        HeaderValue::from_static(""),
        HeaderValue::from_str(&"k".repeat(129)).unwrap(),
        HeaderValue::from_static("has space"),
        HeaderValue::from_static("tab\there"),
        HeaderValue::from_bytes("clé".as_bytes()).unwrap(),
        HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
    ];
    for value in invalid {
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", value.clone());
        let response = app.post_registration_with_headers(headers).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            problem["detail"], "Idempotency-Key must be 1 to 128 visible ASCII characters.",
            "{value:?}"
        );
    }
    // Sent twice, the key is ambiguous.
    let mut headers = HeaderMap::new();
    headers.append("idempotency-key", HeaderValue::from_static("one"));
    headers.append("idempotency-key", HeaderValue::from_static("two"));
    let response = app.post_registration_with_headers(headers).await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );

    assert!(app.scan_all().await.is_empty(), "nothing is written");
    // The longest key, 128 visible characters, is fine.
    let longest = "~".repeat(64) + &"K".repeat(64);
    assert_created(
        app.post_registration_with_key(&longest, &valid_registration())
            .await,
    )
    .await;
}

#[tokio::test]
async fn a_key_is_remembered_for_24_hours_on_the_resident_it_admitted() {
    let app = spawn_app().await;
    let key = "expiring";
    let before = now_unix_seconds();

    let (resident, _) = assert_created(
        app.post_registration_with_key(key, &valid_registration())
            .await,
    )
    .await;

    let after = now_unix_seconds();
    let item = app
        .stored_item(resident["ckid"].as_str().unwrap())
        .await
        .expect("the resident");
    let Some(AttributeValue::N(until)) = item.get("key_until") else {
        panic!("key_until is not a number: {item:?}");
    };
    let until: i64 = until.parse().unwrap();
    let day = 24 * 60 * 60;
    assert!(
        (before + day..=after + day).contains(&until),
        "{until} is not 24 h after {before}..={after}"
    );
    // One item: the resident remembers its key; there is no record beside it.
    assert_eq!(app.scan_all().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_with_one_key_admit_one_resident() {
    let app = std::sync::Arc::new(spawn_app().await);
    let key = "double-double-click";

    let requests = (0..20).map(|_| {
        let app = app.clone();
        tokio::spawn(async move {
            let response = app
                .post_registration_with_key(key, &valid_registration())
                .await;
            assert_created(response).await
        })
    });
    let mut answers = Vec::new();
    for request in requests.collect::<Vec<_>>() {
        answers.push(request.await.expect("a 201"));
    }

    let (first, first_location) = &answers[0];
    for (answer, location) in &answers {
        assert_eq!(answer, first);
        assert_eq!(location, first_location);
    }
    assert_eq!(app.resident_count().await, 1);
    let items = app.scan_all().await.len();
    assert_eq!(items, 1, "one item: the resident, which remembers its key");

    let response = app
        .post_registration_with_key(key, &with("name", json!("Not The Same")))
        .await;
    assert_problem(response, StatusCode::CONFLICT).await;
    assert_eq!(app.scan_all().await.len(), items, "nothing written");
}

fn now_unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
