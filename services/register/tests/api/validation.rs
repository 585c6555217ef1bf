//! Every rule at and beyond its bounds, over HTTP. The rules live in `crates/domain`;
//! these tests pin what a client of the API sees.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_created, assert_problem, assert_stored_as_answered, spawn_app, with, without,
};

/// Asserts `body` is admitted with `field` answered (and stored) as `expected`.
async fn accepts(app: &TestApp, body: Value, field: &str, expected: Value) {
    let sent = body.to_string();
    let (resident, _) = assert_created(app.post_registration(&body).await).await;
    assert_eq!(resident[field], expected, "{field} from {sent}");
    let item = app
        .stored_item(resident["ckid"].as_str().unwrap())
        .await
        .expect("stored");
    assert_stored_as_answered(&item, &resident);
}

/// Asserts `body` is refused with one problem, on `field`, and nothing is stored.
async fn refuses(app: &TestApp, body: Value, field: &str) {
    let before = app.resident_count().await;
    let sent = body.to_string();
    let response = app.post_registration(&body).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let errors = problem["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{sent} -> {problem}");
    assert_eq!(errors[0]["field"], field, "{sent} -> {problem}");
    let message = errors[0]["message"].as_str().expect("a message");
    assert!(message.contains(field), "{message:?} should name {field}");
    assert_eq!(
        app.resident_count().await,
        before,
        "{sent} stored something"
    );
}

#[tokio::test]
async fn name_is_required_1_to_64_characters_trimmed_without_control_characters() {
    let app = spawn_app().await;
    accepts(&app, with("name", json!("a")), "name", json!("a")).await;
    accepts(
        &app,
        with("name", json!("n".repeat(64))),
        "name",
        json!("n".repeat(64)),
    )
    .await;
    // Trimmed before counting: 64 characters inside spaces still fit.
    let padded = format!("  {}  ", "n".repeat(64));
    accepts(
        &app,
        with("name", json!(padded)),
        "name",
        json!("n".repeat(64)),
    )
    .await;
    accepts(
        &app,
        with("name", json!("\t sven \n")),
        "name",
        json!("sven"),
    )
    .await;

    refuses(&app, with("name", json!("n".repeat(65))), "name").await;
    refuses(&app, with("name", json!("")), "name").await;
    refuses(&app, with("name", json!("   ")), "name").await;
    refuses(&app, with("name", Value::Null), "name").await;
    refuses(&app, without("name"), "name").await;
    refuses(&app, with("name", json!(42)), "name").await;
    refuses(&app, with("name", json!(["a"])), "name").await;
    refuses(&app, with("name", json!("bad\u{0}name")), "name").await;
    refuses(&app, with("name", json!("two\nlines")), "name").await;
    refuses(&app, with("name", json!("bell\u{7}")), "name").await;
    refuses(&app, with("name", json!("del\u{7f}ete")), "name").await;
    refuses(&app, with("name", json!("c1\u{85}control")), "name").await;
}

#[tokio::test]
async fn type_is_required_1_to_32_characters() {
    let app = spawn_app().await;
    accepts(&app, with("type", json!("t")), "type", json!("t")).await;
    accepts(
        &app,
        with("type", json!("t".repeat(32))),
        "type",
        json!("t".repeat(32)),
    )
    .await;
    accepts(
        &app,
        with("type", json!(" m5.xlarge ")),
        "type",
        json!("m5.xlarge"),
    )
    .await;

    refuses(&app, with("type", json!("t".repeat(33))), "type").await;
    refuses(&app, with("type", json!("")), "type").await;
    refuses(&app, without("type"), "type").await;
    refuses(&app, with("type", json!(5)), "type").await;
    refuses(&app, with("type", json!("m5\u{0}.large")), "type").await;
}

#[tokio::test]
async fn os_is_required_1_to_32_characters() {
    let app = spawn_app().await;
    accepts(&app, with("os", json!("o")), "os", json!("o")).await;
    accepts(
        &app,
        with("os", json!("o".repeat(32))),
        "os",
        json!("o".repeat(32)),
    )
    .await;
    accepts(&app, with("os", json!("Linux")), "os", json!("Linux")).await;

    refuses(&app, with("os", json!("o".repeat(33))), "os").await;
    refuses(&app, with("os", json!(" ")), "os").await;
    refuses(&app, without("os"), "os").await;
    refuses(&app, with("os", json!(true)), "os").await;
    refuses(&app, with("os", json!("li\nnux")), "os").await;
}

#[tokio::test]
async fn petname_is_optional_up_to_32_characters() {
    let app = spawn_app().await;
    accepts(&app, without("petname"), "petname", json!("")).await;
    accepts(&app, with("petname", Value::Null), "petname", json!("")).await;
    accepts(&app, with("petname", json!("")), "petname", json!("")).await;
    accepts(&app, with("petname", json!("   ")), "petname", json!("")).await;
    accepts(
        &app,
        with("petname", json!("p".repeat(32))),
        "petname",
        json!("p".repeat(32)),
    )
    .await;

    refuses(&app, with("petname", json!("p".repeat(33))), "petname").await;
    refuses(&app, with("petname", json!(7)), "petname").await;
    refuses(&app, with("petname", json!("sv\u{1b}[31men")), "petname").await;
}

#[tokio::test]
async fn service_is_whole_years_from_0_to_100_defaulting_to_0() {
    let app = spawn_app().await;
    accepts(&app, without("service"), "service", json!(0)).await;
    accepts(&app, with("service", Value::Null), "service", json!(0)).await;
    accepts(&app, with("service", json!(0)), "service", json!(0)).await;
    accepts(&app, with("service", json!(100)), "service", json!(100)).await;

    refuses(&app, with("service", json!(-1)), "service").await;
    refuses(&app, with("service", json!(101)), "service").await;
    refuses(&app, with("service", json!(1.5)), "service").await;
    refuses(&app, with("service", json!("10")), "service").await;
    refuses(&app, with("service", json!(u64::MAX)), "service").await;
    refuses(&app, with("service", json!(i64::MIN)), "service").await;
}

#[tokio::test]
async fn happiness_is_1_to_10_defaulting_to_5() {
    let app = spawn_app().await;
    accepts(&app, without("happiness"), "happiness", json!(5)).await;
    accepts(&app, with("happiness", json!(1)), "happiness", json!(1)).await;
    accepts(&app, with("happiness", json!(10)), "happiness", json!(10)).await;

    refuses(&app, with("happiness", json!(0)), "happiness").await;
    refuses(&app, with("happiness", json!(11)), "happiness").await;
    refuses(&app, with("happiness", json!("7")), "happiness").await;
    refuses(&app, with("happiness", json!(5.5)), "happiness").await;
    refuses(&app, with("happiness", json!({"level": 5})), "happiness").await;
}

#[tokio::test]
async fn image_is_an_optional_https_url_up_to_2048_characters() {
    let app = spawn_app().await;
    accepts(&app, without("image"), "image", Value::Null).await;
    accepts(&app, with("image", Value::Null), "image", Value::Null).await;
    accepts(&app, with("image", json!("")), "image", Value::Null).await;
    let prefix = "https://example.com/";
    let longest = format!("{prefix}{}", "a".repeat(2048 - prefix.len()));
    accepts(&app, with("image", json!(longest)), "image", json!(longest)).await;

    let too_long = format!("{prefix}{}", "a".repeat(2049 - prefix.len()));
    refuses(&app, with("image", json!(too_long)), "image").await;
    refuses(
        &app,
        with("image", json!("http://example.com/a.png")),
        "image",
    )
    .await;
    refuses(&app, with("image", json!("javascript:alert(1)")), "image").await;
    refuses(
        &app,
        with("image", json!("data:image/png;base64,AAAA")),
        "image",
    )
    .await;
    refuses(&app, with("image", json!("not a url")), "image").await;
    refuses(&app, with("image", json!("/relative.png")), "image").await;
    refuses(&app, with("image", json!(5)), "image").await;
    // The URL reader drops tabs and newlines, so these would parse; they are refused
    // rather than stored as sent.
    refuses(
        &app,
        with("image", json!("https://exa\nmple.com/a.png")),
        "image",
    )
    .await;
    refuses(
        &app,
        with("image", json!("https://example.com/a\tb.png")),
        "image",
    )
    .await;
    refuses(
        &app,
        with("image", json!("\u{0}https://example.com/a.png")),
        "image",
    )
    .await;
    refuses(
        &app,
        with("image", json!("https://example.com/a\u{1b}.png")),
        "image",
    )
    .await;
    let padded = " https://example.com/a.png\n";
    accepts(
        &app,
        with("image", json!(padded)),
        "image",
        json!("https://example.com/a.png"),
    )
    .await;
}

#[tokio::test]
async fn every_invalid_field_is_reported_in_one_answer() {
    let app = spawn_app().await;
    let body = json!({
        "name": "", "type": 5, "petname": "p".repeat(33), "service": 101, "happiness": 0,
        "image": "http://insecure.example"
    });

    let response = app.post_registration(&body).await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<_> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("a field"))
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "type",
            "os",
            "petname",
            "service",
            "happiness",
            "image"
        ]
    );
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
    );
    assert_eq!(
        problem["detail"],
        "7 fields of the registration are invalid."
    );
    // Each problem also says what kind it is, so a client can word its own message.
    let codes: Vec<_> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap_or("-"),
                e.get("min"),
                e.get("max"),
            )
        })
        .collect();
    let (zero, one, ten, limit, hundred) = (json!(0), json!(1), json!(10), json!(32), json!(100));
    assert_eq!(
        codes,
        [
            ("required", None, None),
            ("not_text", None, None),
            ("required", None, None),
            ("too_long", None, Some(&limit)),
            ("out_of_range", Some(&zero), Some(&hundred)),
            ("out_of_range", Some(&one), Some(&ten)),
            ("invalid_url", None, None),
        ]
    );
    assert_eq!(app.resident_count().await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_as_the_wrong_shape() {
    let app = spawn_app().await;
    for body in [
        "[]",
        r#"["Old Faithful","m4.large","linux"]"#,
        r#""x""#,
        "null",
        "42",
        "true",
    ] {
        let response = app
            .post_registration_raw(Some("application/json"), body, None)
            .await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("a JSON object"),
            "{body} -> {problem}"
        );
    }
    assert_eq!(app.resident_count().await, 0);
}

#[tokio::test]
async fn a_field_sent_twice_is_refused_rather_than_guessed() {
    let app = spawn_app().await;
    let body = r#"{"name":"a","name":"b","type":"t","os":"o"}"#;

    let response = app
        .post_registration_raw(Some("application/json"), body, None)
        .await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("duplicate field"),
        "{problem}"
    );
    assert_eq!(app.resident_count().await, 0);
}
