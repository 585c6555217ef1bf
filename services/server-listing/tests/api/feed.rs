//! `POST /v1/servers/{ckid}/feed`.

use reqwest::{Method, StatusCode};

use crate::helpers::{detail, json_ok, problem, spawn_app};

#[tokio::test]
async fn feeding_raises_happiness_counts_and_stamps_the_time() {
    let app = spawn_app().await;
    let stored = app.insert_one(1).await;

    let fed = json_ok(app.feed(stored.ckid.as_str()).await).await;

    assert_eq!(fed["ckid"], stored.ckid.as_str());
    assert_eq!(fed["happiness"], 2);
    assert_eq!(fed["feed_count"], 1);
    assert!(fed["last_fed_at"].is_string(), "{fed}");
    assert_eq!(fed["name"], stored.name.as_str());
    // What was answered is what is stored.
    let read = json_ok(app.get_server(stored.ckid.as_str()).await).await;
    assert_eq!(read, fed);
}

#[tokio::test]
async fn a_resident_at_10_stays_at_10_and_the_feeding_still_counts() {
    let app = spawn_app().await;
    let stored = app.insert_one(10).await;

    let fed = json_ok(app.feed(stored.ckid.as_str()).await).await;

    assert_eq!(fed["happiness"], 10);
    assert_eq!(fed["feed_count"], 1);
    assert!(fed["last_fed_at"].is_string());
}

#[tokio::test]
async fn fifty_concurrent_feeds_all_count_and_cap_at_10() {
    let app = spawn_app().await;
    let stored = app.insert_one(1).await;
    let path = format!("/v1/servers/{}/feed", stored.ckid);

    let mut feeds = tokio::task::JoinSet::new();
    for _ in 0..50 {
        feeds.spawn(app.builder(Method::POST, &path).send());
    }
    let mut counts = Vec::new();
    while let Some(done) = feeds.join_next().await {
        let fed = json_ok(done.unwrap().expect("the service answers")).await;
        counts.push(fed["feed_count"].as_u64().unwrap());
    }

    // Each answer is read after its own feeding (a feeding is a tokened transaction,
    // which returns no item), so concurrent feedings may report the same later count;
    // none may report less than one feeding or more than all fifty.
    assert!(counts.iter().all(|c| (1..=50).contains(c)), "{counts:?}");
    assert_eq!(counts.iter().max(), Some(&50));
    let read = json_ok(app.get_server(stored.ckid.as_str()).await).await;
    assert_eq!(read["happiness"], 10);
    assert_eq!(read["feed_count"], 50);
}

#[tokio::test]
async fn a_request_body_is_ignored() {
    let app = spawn_app().await;
    let stored = app.insert_one(3).await;
    let path = format!("/v1/servers/{}/feed", stored.ckid);

    let response = app
        .builder(Method::POST, &path)
        .header("content-type", "text/plain")
        .body("{ not json at all")
        .send()
        .await
        .unwrap();

    let fed = json_ok(response).await;
    assert_eq!(fed["happiness"], 4);
}

#[tokio::test]
async fn feeding_an_unknown_resident_is_a_404_and_creates_nothing() {
    let app = spawn_app().await;
    let ckid = "01KAV5S1YJ5Z1Q6T2W6M3C8E9R";

    let body = problem(app.feed(ckid).await, StatusCode::NOT_FOUND).await;

    assert_eq!(detail(&body), "no resident has that ckid");
    problem(app.get_server(ckid).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn feeding_a_ckid_no_resident_can_have_is_a_404() {
    let app = spawn_app().await;

    for ckid in ["idempotency%23abc", "%FF", "a%2Fb"] {
        problem(app.feed(ckid).await, StatusCode::NOT_FOUND).await;
    }
}
