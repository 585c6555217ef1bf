//! The three service binaries as real processes against DynamoDB Local: health,
//! readiness, fail-fast configuration, the self-probe and graceful shutdown.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use stack_tests::{Service, binary, free_port};
use test_support::fresh_store;

const APIS: [&str; 2] = ["register", "server-listing"];

async fn get(url: &str) -> (u16, String, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, content_type, body)
}

#[tokio::test]
async fn apis_report_health_and_readiness_of_their_table() {
    let store = fresh_store().await;
    for name in APIS {
        let service = Service::start(name, &[("RESIDENTS_TABLE", store.table().to_string())]).await;

        let (status, content_type, body) = get(&service.url("/health")).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, "application/json");
        assert_eq!(body["service"], name);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        assert!(body["commit"].is_string());

        let (status, _, body) = get(&service.url("/ready")).await;
        assert_eq!(status, 200, "{name} /ready: {body}");

        let (status, content_type, body) = get(&service.url("/v1/nothing-here")).await;
        assert_eq!(status, 404);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], 404);
        assert_eq!(body["detail"], "There is no resource at /v1/nothing-here.");
    }
}

#[tokio::test]
async fn an_api_without_its_table_is_alive_but_not_ready() {
    let missing = test_support::unique_table_name().to_string();
    for name in APIS {
        let service = Service::start(name, &[("RESIDENTS_TABLE", missing.clone())]).await;
        let response = reqwest::get(service.url("/ready")).await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: Value = response.json().await.unwrap();
        let detail = body["detail"].as_str().unwrap();
        assert!(
            !detail.contains("ResourceNotFound"),
            "SDK text leaked: {detail}"
        );
        assert_eq!(get(&service.url("/health")).await.0, 200);
    }
}

#[tokio::test]
async fn website_is_ready_only_while_both_apis_answer() {
    let store = fresh_store().await;
    let table = [("RESIDENTS_TABLE", store.table().to_string())];
    let listing = Service::start("server-listing", &table).await;
    let register = Service::start("register", &table).await;
    let website = Service::start(
        "website",
        &[
            ("SERVER_LISTING_URL", listing.url("")),
            ("REGISTER_URL", register.url("")),
        ],
    )
    .await;
    let (status, _, body) = get(&website.url("/health")).await;
    assert_eq!((status, body["service"].as_str()), (200, Some("website")));
    assert_eq!(get(&website.url("/ready")).await.0, 200);

    drop(listing);
    assert_eq!(get(&website.url("/ready")).await.0, 503);
    assert_eq!(
        get(&website.url("/health")).await.0,
        200,
        "liveness does not follow the APIs"
    );
}

#[test]
fn bad_configuration_stops_startup_with_one_line_naming_the_variable() {
    // (binary, environment, what its one error line must say)
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
    );
    let cases: [Case; 4] = [
        ("register", &[("PORT", "eighty")], "PORT=\"eighty\""),
        (
            "server-listing",
            &[("RESIDENTS_TABLE", "no spaces allowed")],
            "RESIDENTS_TABLE",
        ),
        (
            "website",
            &[("REGISTER_URL", "http://register:8080")],
            "SERVER_LISTING_URL is not set",
        ),
        ("register", &[("LOG_FORMAT", "xml")], "LOG_FORMAT=\"xml\""),
    ];
    for (name, env, expected) in cases {
        let output = Command::new(binary(name))
            .env_remove("SERVER_LISTING_URL")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{name} with {env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{name}: {stderr:?} does not name {expected}"
        );
    }
}

#[tokio::test]
async fn healthcheck_subcommand_probes_the_running_service() {
    let store = fresh_store().await;
    let service = Service::start(
        "register",
        &[("RESIDENTS_TABLE", store.table().to_string())],
    )
    .await;
    let probe = |port: u16| {
        Command::new(binary("register"))
            .arg("healthcheck")
            .env("PORT", port.to_string())
            .output()
            .unwrap()
    };
    assert!(probe(service.port).status.success());
    let nobody = probe(free_port());
    assert_eq!(nobody.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("did not answer"));
}

#[tokio::test]
async fn sigterm_stops_a_service_cleanly() {
    let store = fresh_store().await;
    for name in APIS {
        let service = Service::start(name, &[("RESIDENTS_TABLE", store.table().to_string())]).await;
        let started = std::time::Instant::now();
        let output = service.terminate();
        assert!(
            output.status.success(),
            "{name} exited with {:?}",
            output.status
        );
        assert!(started.elapsed() < Duration::from_secs(20));
        let logs = String::from_utf8_lossy(&output.stdout);
        let last: Value = serde_json::from_str(logs.lines().last().unwrap()).unwrap();
        assert_eq!(last["message"], "stopped", "{logs}");
    }
}
