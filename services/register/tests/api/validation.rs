//! Every rule at and beyond its bounds, over HTTP. The rules live in `crates/domain`;
//! these tests pin what a client of the API sees.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_created, assert_problem, spawn_app, with, without};

/// Asserts `body` is admitted with `field` answered (and stored) as `expected`.
async fn accepts(app: &TestApp, body: Value, field: &str, expected: Value) {
    let sent = body.to_string();
    let (resident, _) = assert_created(app.post_registration(&body).await).await;
    assert_eq!(resident[field], expected, "{field} from {sent}");
    app.assert_stored_as_answered(&resident).await;
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

/// A field's rules: the values it admits (sent, then answered and stored; `None` sent
/// leaves the field out) and the values it refuses (`None`: left out).
struct Rules {
    admits: Vec<(Option<Value>, Value)>,
    refuses: Vec<Option<Value>>,
}

/// Every field's rules at and beyond their bounds.
fn rules(field: &str) -> Rules {
    let image = |path: &str| json!(format!("https://example.com/{path}"));
    let image_of_length = |len: usize| image(&"a".repeat(len - "https://example.com/".len()));
    let (admits, refuses) = match field {
        "name" => (
            vec![
                (json!("a"), json!("a")),
                (json!("n".repeat(64)), json!("n".repeat(64))),
                // Trimmed before counting: 64 characters inside spaces still fit.
                (
                    json!(format!("  {}  ", "n".repeat(64))),
                    json!("n".repeat(64)),
                ),
                (json!("\t sven \n"), json!("sven")),
            ],
            vec![
                json!("n".repeat(65)),
                json!(""),
                json!("   "),
                Value::Null,
                json!(42),
                json!(["a"]),
                json!("bad\u{0}name"),
                json!("two\nlines"),
                json!("bell\u{7}"),
                json!("del\u{7f}ete"),
                json!("c1\u{85}control"),
            ],
        ),
        "type" => (
            vec![
                (json!("t"), json!("t")),
                (json!("t".repeat(32)), json!("t".repeat(32))),
                (json!(" m5.xlarge "), json!("m5.xlarge")),
            ],
            vec![
                json!("t".repeat(33)),
                json!(""),
                json!(5),
                json!("m5\u{0}.large"),
            ],
        ),
        "os" => (
            vec![
                (json!("o"), json!("o")),
                (json!("o".repeat(32)), json!("o".repeat(32))),
                (json!("Linux"), json!("Linux")),
            ],
            vec![
                json!("o".repeat(33)),
                json!(" "),
                json!(true),
                json!("li\nnux"),
            ],
        ),
        "petname" => (
            vec![
                (Value::Null, json!("")),
                (json!(""), json!("")),
                (json!("   "), json!("")),
                (json!("p".repeat(32)), json!("p".repeat(32))),
            ],
            vec![json!("p".repeat(33)), json!(7), json!("sv\u{1b}[31men")],
        ),
        "service" => (
            vec![
                (Value::Null, json!(0)),
                (json!(0), json!(0)),
                (json!(100), json!(100)),
            ],
            vec![
                json!(-1),
                json!(101),
                json!(1.5),
                json!("10"),
                json!(u64::MAX),
                json!(i64::MIN),
            ],
        ),
        "happiness" => (
            vec![(json!(1), json!(1)), (json!(10), json!(10))],
            vec![
                json!(0),
                json!(11),
                json!("7"),
                json!(5.5),
                json!({"level": 5}),
            ],
        ),
        "image" => (
            vec![
                (Value::Null, Value::Null),
                (json!(""), Value::Null),
                (image_of_length(2048), image_of_length(2048)),
                (json!(" https://example.com/a.png\n"), image("a.png")),
            ],
            vec![
                image_of_length(2049),
                json!("http://example.com/a.png"),
                json!("javascript:alert(1)"),
                json!("data:image/png;base64,AAAA"),
                json!("not a url"),
                json!("/relative.png"),
                json!(5),
                // The URL reader drops tabs and newlines, so these would parse; they are
                // refused rather than stored as sent.
                json!("https://exa\nmple.com/a.png"),
                image("a\tb.png"),
                json!("\u{0}https://example.com/a.png"),
                image("a\u{1b}.png"),
            ],
        ),
        other => panic!("no rules for {other}"),
    };
    // Left out: the required fields are refused, the optional ones take their default.
    let absent = match field {
        "petname" => Some(json!("")),
        "service" => Some(json!(0)),
        "happiness" => Some(json!(5)),
        "image" => Some(Value::Null),
        _ => None,
    };
    let mut rules = Rules {
        admits: admits.into_iter().map(|(s, a)| (Some(s), a)).collect(),
        refuses: refuses.into_iter().map(Some).collect(),
    };
    match absent {
        Some(default) => rules.admits.insert(0, (None, default)),
        None => rules.refuses.insert(0, None),
    }
    rules
}

/// Checks `field` against its [`rules`] over HTTP.
async fn check_rules(field: &str) {
    let app = spawn_app().await;
    let body = |value: Option<Value>| value.map_or_else(|| without(field), |v| with(field, v));
    let Rules { admits, refuses } = rules(field);
    for (sent, answered) in admits {
        accepts(&app, body(sent), field, answered).await;
    }
    for value in refuses {
        self::refuses(&app, body(value), field).await;
    }
}

#[tokio::test]
async fn name_is_required_1_to_64_characters_trimmed_without_control_characters() {
    check_rules("name").await;
}

#[tokio::test]
async fn type_is_required_1_to_32_characters() {
    check_rules("type").await;
}

#[tokio::test]
async fn os_is_required_1_to_32_characters() {
    check_rules("os").await;
}

#[tokio::test]
async fn petname_is_optional_up_to_32_characters() {
    check_rules("petname").await;
}

#[tokio::test]
async fn service_is_whole_years_from_0_to_100_defaulting_to_0() {
    check_rules("service").await;
}

#[tokio::test]
async fn happiness_is_1_to_10_defaulting_to_5() {
    check_rules("happiness").await;
}

#[tokio::test]
async fn image_is_an_optional_https_url_up_to_2048_characters() {
    check_rules("image").await;
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
