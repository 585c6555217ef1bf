use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_created, assert_problem, spawn_app, valid_registration};

#[tokio::test]
async fn a_valid_registration_is_admitted_and_stored_exactly_as_answered() {
    let app = spawn_app().await;

    let response = app.post_registration(&valid_registration()).await;

    let (resident, _location) = assert_created(response).await;
    assert_eq!(resident["name"], "Old Faithful");
    assert_eq!(resident["type"], "m4.large");
    assert_eq!(resident["os"], "linux");
    assert_eq!(resident["petname"], "bessie");
    assert_eq!(resident["service"], 9);
    assert_eq!(resident["happiness"], 8);
    assert_eq!(resident["image"], "https://example.com/old-faithful.png");
    assert_eq!(resident["feed_count"], 0);
    assert_eq!(resident["last_fed_at"], json!(null));
    let registered_at = resident["registered_at"].as_str().expect("registered_at");
    assert!(
        domain::Timestamp::parse(registered_at).is_ok(),
        "{registered_at}"
    );
    let ckid = resident["ckid"].as_str().expect("a ckid");
    assert_eq!(ckid.len(), 26, "a ULID: {ckid}");
    app.assert_stored_as_answered(&resident).await;
    assert_eq!(app.resident_count().await, 1);
}

#[tokio::test]
async fn the_2019_payload_is_accepted_and_its_ckid_ignored() {
    let app = spawn_app().await;
    let legacy = json!({
        "ckid": "ck1", "name": "foo foo cuddly poops", "type": "m2.xlarge", "service": 10,
        "happiness": 1, "petname": "sven", "os": "linux", "image": "https://example.com/ck1.png"
    });

    let (resident, location) = assert_created(app.post_registration(&legacy).await).await;

    assert_ne!(resident["ckid"], "ck1");
    assert_ne!(location, "/v1/servers/ck1");
    for field in [
        "name",
        "type",
        "service",
        "happiness",
        "petname",
        "os",
        "image",
    ] {
        assert_eq!(resident[field], legacy[field], "{field}");
    }
    assert!(app.stored_item("ck1").await.is_none());
    app.assert_stored_as_answered(&resident).await;
}

#[tokio::test]
async fn optional_fields_take_their_defaults_and_unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let body = json!({"name": "Tiny Tim", "type": "t2.micro", "os": "linux", "colour": "red", "feed_count": 99});

    let (resident, _) = assert_created(app.post_registration(&body).await).await;

    assert_eq!(resident["service"], 0);
    assert_eq!(resident["happiness"], 5);
    assert_eq!(resident["petname"], "");
    assert_eq!(resident["image"], json!(null));
    assert_eq!(resident["feed_count"], 0);
    assert!(resident.get("colour").is_none());
    let item = app.assert_stored_as_answered(&resident).await;
    assert!(!item.contains_key("colour"));
}

#[tokio::test]
async fn without_a_key_every_registration_admits_a_new_resident() {
    let app = spawn_app().await;

    let (first, _) = assert_created(app.post_registration(&valid_registration()).await).await;
    let (second, _) = assert_created(app.post_registration(&valid_registration()).await).await;

    assert_ne!(first["ckid"], second["ckid"]);
    assert_eq!(app.resident_count().await, 2);
}

#[tokio::test]
async fn text_is_stored_trimmed_but_otherwise_verbatim_including_markup() {
    let app = spawn_app().await;
    let body = json!({
        "name": "  <script>alert('pwned')</script>  ",
        "type": "\"><img src=x onerror=alert(1)>",
        "os": "&lt;linux&gt; & <b>bsd</b>",
        "petname": "<i>sven</i>",
        "image": "https://example.com/a.png?x=<y>&z=\"w\""
    });

    let (resident, _) = assert_created(app.post_registration(&body).await).await;

    assert_eq!(resident["name"], "<script>alert('pwned')</script>");
    assert_eq!(resident["type"], body["type"]);
    assert_eq!(resident["os"], body["os"]);
    assert_eq!(resident["petname"], body["petname"]);
    assert_eq!(resident["image"], body["image"]);
    app.assert_stored_as_answered(&resident).await;
}

#[tokio::test]
async fn unicode_names_are_counted_in_characters_not_bytes() {
    let app = spawn_app().await;
    let accepted = [
        "鯖".repeat(64),       // 64 characters, 192 bytes
        "👍🏽".repeat(32),       // 64 characters (emoji + skin tone), 256 bytes
        "e\u{301}".repeat(32), // 64 characters (letter + combining acute), 96 bytes
        "Ünïcödé サーバー 🖥️".to_owned(),
    ];
    for name in accepted {
        let (resident, _) = assert_created(
            app.post_registration(&json!({
                "name": name, "type": "m5.large", "os": "linux"
            }))
            .await,
        )
        .await;
        assert_eq!(resident["name"], name.as_str());
        app.assert_stored_as_answered(&resident).await;
    }

    for name in ["鯖".repeat(65), "e\u{301}".repeat(33), "👍🏽".repeat(33)] {
        let response = app
            .post_registration(&json!({"name": name, "type": "m5.large", "os": "linux"}))
            .await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["field"], "name", "{problem}");
        assert_eq!(problem["errors"].as_array().unwrap().len(), 1);
    }
    assert_eq!(app.resident_count().await, 4);
}

#[tokio::test]
async fn health_ready_and_unknown_routes_answer_as_documented() {
    let app = spawn_app().await;

    let health = app.get_health().await;
    assert_eq!(health.status(), StatusCode::OK);
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["service"], "register");
    assert_eq!(health["status"], "ok");

    let ready = app.get_ready().await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready, json!({"service": "register", "status": "ready"}));

    assert_problem(
        app.get("/v1/registrations").await,
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    assert_problem(app.get("/v1/nothing-here").await, StatusCode::NOT_FOUND).await;
}
