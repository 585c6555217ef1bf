//! `GET /v1/servers/{ckid}`.

use reqwest::StatusCode;

use crate::helpers::{detail, json_ok, problem, resident, spawn_app};

#[tokio::test]
async fn a_stored_resident_is_answered_as_stored() {
    let app = spawn_app().await;
    let stored = app.insert_one(4).await;

    let body = json_ok(app.get_server(stored.ckid.as_str()).await).await;

    assert_eq!(body, serde_json::to_value(&stored).unwrap());
}

#[tokio::test]
async fn a_2019_style_id_is_found() {
    let app = spawn_app().await;
    let mut legacy = resident(0, "linux", 1);
    legacy.ckid = domain::ResidentId::parse("ck1").unwrap();
    app.store().insert(&legacy).await.unwrap();

    let body = json_ok(app.get_server("ck1").await).await;

    assert_eq!(body["ckid"], "ck1");
}

#[tokio::test]
async fn an_unknown_ckid_is_a_404_problem() {
    let app = spawn_app().await;

    let body = problem(
        app.get_server("01KAV5S1YJ5Z1Q6T2W6M3C8E9R").await,
        StatusCode::NOT_FOUND,
    )
    .await;

    assert_eq!(detail(&body), "no resident has that ckid");
}

#[tokio::test]
async fn a_ckid_no_resident_can_have_is_a_404_problem() {
    let app = spawn_app().await;
    let too_long = "a".repeat(65);

    // `#` (store records), a space, bytes that are not UTF-8, too long.
    for ckid in [
        "idempotency%23abc",
        "a%20b",
        "%FF%FE",
        too_long.as_str(),
        "%E2%9C%93",
    ] {
        let body = problem(app.get_server(ckid).await, StatusCode::NOT_FOUND).await;
        assert_eq!(detail(&body), "no resident has that ckid", "{ckid}");
    }
}
