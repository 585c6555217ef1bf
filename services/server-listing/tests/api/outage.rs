//! DynamoDB goes away and comes back while the service keeps running.

use reqwest::StatusCode;
use test_support::PrivateDynamoDbLocal;

use crate::helpers::{json_ok, problem, spawn_app_on};

#[tokio::test]
async fn an_outage_is_a_503_with_retry_after_and_the_service_recovers_without_restart() {
    let mut dynamodb = PrivateDynamoDbLocal::start();
    let store = dynamodb.fresh_store().await;
    let app = spawn_app_on(store.clone()).await;
    let stored = app.insert_one(3).await;
    json_ok(app.get_server(stored.ckid.as_str()).await).await;

    dynamodb.stop();

    // Each request is answered (within the service's own request timeout; the client's
    // is far longer), as a 503 problem with Retry-After.
    problem(app.list("").await, StatusCode::SERVICE_UNAVAILABLE).await;
    problem(
        app.get_server(stored.ckid.as_str()).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    problem(
        app.feed(stored.ckid.as_str()).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    problem(app.ready().await, StatusCode::SERVICE_UNAVAILABLE).await;
    // Liveness does not depend on DynamoDB.
    json_ok(app.health().await).await;

    // DynamoDB Local is back (in memory, so empty): until the table exists the service
    // is still unavailable, then it answers again — the same process throughout.
    dynamodb.restart();
    problem(app.list("").await, StatusCode::SERVICE_UNAVAILABLE).await;
    store::table::create_table(store.client(), store.table())
        .await
        .expect("recreate the table");

    let page = json_ok(app.list("").await).await;
    assert_eq!(
        page,
        serde_json::json!({"servers": [], "next_cursor": null})
    );
    json_ok(app.ready().await).await;
    let again = app.insert_one(5).await;
    let fed = json_ok(app.feed(again.ckid.as_str()).await).await;
    assert_eq!(fed["happiness"], 6);
}
