//! DynamoDB going away and coming back, under a running service.

use reqwest::StatusCode;
use serde_json::json;
use test_support::PrivateDynamoDbLocal;

use crate::helpers::{assert_created, assert_problem, spawn_app_on, valid_registration, with};

#[tokio::test]
async fn an_outage_is_a_503_with_retry_after_and_the_service_recovers() {
    let mut dynamodb = PrivateDynamoDbLocal::start();
    let store = dynamodb.fresh_store().await;
    let app = spawn_app_on(store.clone()).await;
    let key = "during-the-outage";

    dynamodb.stop();
    for response in [
        app.post_registration(&valid_registration()).await,
        app.post_registration_with_key(key, &valid_registration())
            .await,
    ] {
        let retry_after = response
            .headers()
            .get("retry-after")
            .expect("a Retry-After header")
            .to_str()
            .unwrap()
            .parse::<u32>()
            .expect("Retry-After in seconds");
        assert!(retry_after > 0);
        let problem = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
        let detail = problem["detail"].as_str().unwrap();
        assert_eq!(
            detail,
            "The residents database is unavailable and nothing was changed; please retry shortly."
        );
    }
    assert_eq!(
        app.get_ready().await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    // Back, but without its table (DynamoDB Local kept it in memory): still a 503.
    dynamodb.restart();
    let response = app
        .post_registration_with_key(key, &valid_registration())
        .await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;

    store::table::create_table(store.client(), store.table())
        .await
        .expect("recreate the table");
    assert!(
        app.scan_all().await.is_empty(),
        "the refused requests wrote nothing"
    );

    // The same running service admits again. The key used during the outage was never
    // recorded, so a different body under it is a new registration, not a 409.
    let (resident, _) = assert_created(
        app.post_registration_with_key(key, &with("name", json!("After The Outage")))
            .await,
    )
    .await;
    assert_eq!(resident["name"], "After The Outage");
    assert_eq!(app.resident_count().await, 1);
    assert_eq!(app.get_ready().await.status(), StatusCode::OK);
}
