//! `GET /openapi.json` describes every endpoint, parameter, schema and error, and
//! agrees with what the service actually routes and sends.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{json_ok, spawn_app};

const PROBLEM_REF: &str = "#/components/schemas/ProblemDetails";

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// Asserts that `operation` documents `status` as a problem+json answer.
fn assert_problem_response(operation: &Value, status: u16) {
    let response = &operation["responses"][status.to_string()];
    assert_eq!(
        response["content"]["application/problem+json"]["schema"]["$ref"], PROBLEM_REF,
        "{status} of {operation}"
    );
    assert!(response["description"].is_string());
    if status == 503 {
        assert!(
            response["headers"]["Retry-After"].is_object(),
            "503 without Retry-After: {response}"
        );
    }
}

#[tokio::test]
async fn the_document_describes_every_endpoint() {
    let app = spawn_app().await;

    let doc = json_ok(app.openapi().await).await;

    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "server-listing");
    let paths = &doc["paths"];
    assert_eq!(
        keys(paths),
        set(&[
            "/health",
            "/openapi.json",
            "/ready",
            "/v1/servers",
            "/v1/servers/{ckid}",
            "/v1/servers/{ckid}/feed",
        ])
    );
    assert_eq!(keys(&paths["/v1/servers"]), set(&["get"]));
    assert_eq!(keys(&paths["/v1/servers/{ckid}"]), set(&["get"]));
    assert_eq!(keys(&paths["/v1/servers/{ckid}/feed"]), set(&["post"]));

    let list = &paths["/v1/servers"]["get"];
    let params: BTreeSet<String> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|p| assert_eq!(p["in"], "query"))
        .inspect(|p| assert_ne!(p["required"], true))
        .inspect(|p| {
            assert!(
                p["description"].is_string() || p["schema"]["description"].is_string(),
                "{p}"
            )
        })
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(params, set(&["cursor", "limit", "os"]));
    let limit = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    // A page size, or empty for the default (an empty value counts as absent).
    let size = &limit["schema"]["anyOf"][0];
    assert_eq!(size["type"], "integer");
    assert_eq!(size["minimum"], 1);
    assert_eq!(size["maximum"], 100);
    assert_eq!(size["default"], 12);
    assert_eq!(limit["schema"]["anyOf"][1]["enum"], serde_json::json!([""]));
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ServerPage"
    );
    assert_problem_response(list, 400);
    assert_problem_response(list, 500);
    assert_problem_response(list, 503);

    for operation in [
        &paths["/v1/servers/{ckid}"]["get"],
        &paths["/v1/servers/{ckid}/feed"]["post"],
    ] {
        let ckid = &operation["parameters"][0];
        assert_eq!(ckid["name"], "ckid");
        assert_eq!(ckid["in"], "path");
        assert_eq!(ckid["required"], true);
        assert_eq!(
            operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Resident"
        );
        assert_problem_response(operation, 404);
        assert_problem_response(operation, 500);
        assert_problem_response(operation, 503);
    }

    assert_eq!(
        paths["/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Health"
    );
    assert_problem_response(&paths["/ready"]["get"], 503);

    let schemas = keys(&doc["components"]["schemas"]);
    for name in [
        "Resident",
        "ServerPage",
        "ProblemDetails",
        "Health",
        "Ready",
    ] {
        assert!(schemas.contains(name), "no {name} schema in {schemas:?}");
    }
}

#[tokio::test]
async fn the_resident_schema_matches_a_resident_as_sent() {
    let app = spawn_app().await;
    let stored = app.insert_one(2).await;
    let sent = json_ok(app.get_server(stored.ckid.as_str()).await).await;
    let page = json_ok(app.list("").await).await;

    let doc = json_ok(app.openapi().await).await;

    let resident = &doc["components"]["schemas"]["Resident"];
    assert_eq!(keys(&resident["properties"]), keys(&sent));
    let page_schema = &doc["components"]["schemas"]["ServerPage"];
    assert_eq!(keys(&page_schema["properties"]), keys(&page));
    let happiness = &resident["properties"]["happiness"];
    assert_eq!(
        (happiness["minimum"].as_u64(), happiness["maximum"].as_u64()),
        (Some(1), Some(10))
    );
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_200() {
    let app = spawn_app().await;
    let stored = app.insert_one(2).await;
    let doc = json_ok(app.openapi().await).await;

    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in keys(item) {
            let concrete = path.replace("{ckid}", stored.ckid.as_str());
            let method: Method = method.to_uppercase().parse().unwrap();
            let response = app.request(method.clone(), &concrete).await;
            assert_eq!(response.status(), StatusCode::OK, "{method} {concrete}");
        }
    }
}

/// The `pattern` of the list operation's query parameter `name`.
fn query_pattern(doc: &Value, name: &str) -> regex::Regex {
    let parameter = doc["paths"]["/v1/servers"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name} parameter"));
    let pattern = parameter["schema"]["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} has no pattern: {parameter}"));
    regex::Regex::new(pattern).unwrap()
}

#[tokio::test]
async fn the_documented_patterns_describe_what_the_service_sends_and_takes() {
    let app = spawn_app().await;
    app.insert_residents(3, |_| "linux").await;
    let doc = json_ok(app.openapi().await).await;
    let cursor = query_pattern(&doc, "cursor");
    let os = query_pattern(&doc, "os");

    let page = json_ok(app.list("limit=1").await).await;
    let next = page["next_cursor"].as_str().unwrap();
    assert!(cursor.is_match(next), "{next} does not match {cursor}");
    assert!(cursor.is_match("") && !cursor.is_match("garbage"));
    assert_eq!(app.list("cursor=").await.status(), StatusCode::OK);

    // What the pattern allows is answered 200; what it refuses, 400.
    for value in ["linux", "", "Debian GNU/Linux 12", "鯖 OS"] {
        assert!(os.is_match(value), "{value:?}");
        let query = format!("os={}", urlencode(value));
        assert_eq!(app.list(&query).await.status(), StatusCode::OK, "{query}");
    }
    for value in [" ", "li\nnux", "\u{202E}xunil", "\u{200B}"] {
        assert!(!os.is_match(value), "{value:?}");
        let query = format!("os={}", urlencode(value));
        assert_eq!(
            app.list(&query).await.status(),
            StatusCode::BAD_REQUEST,
            "{query}"
        );
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
