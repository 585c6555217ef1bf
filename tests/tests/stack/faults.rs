//! The live-debugging story, tested: each fault scenario switched on with
//! `cuddlekube-admin faults on`, the site visited like a visitor would, and the culprit
//! found from what was exported alone — the trace ID the 503 page quotes, read back
//! through Jaeger's query API after the real collector (the repo's local config) sent it
//! there, as a person's `cargo xtask trace` does: the failing span on the right service
//! with its cause in an `exception` event, and the JSON log line of that trace carrying
//! the whole cause chain. Then `faults off`, and the next request works and nothing was
//! done twice.

use serde_json::Value;
use stack_tests::jaeger::TracePath;
use stack_tests::otlp::ReceivedSpan;
use stack_tests::stack::{Stack, fault_switched, quoted_trace_id};
use store::ResidentReader;

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const ERROR: i32 = 2;

/// Switches `args` (`on NAME ...` or `off NAME`) and waits until `service` has logged
/// that the change took effect there.
async fn switch(stack: &Stack, service: &stack_tests::Service, args: &[&str]) {
    let mut command = vec!["faults"];
    command.extend_from_slice(args);
    stack.admin(&command);
    let (on, name) = (args[0] == "on", args[1]);
    service
        .wait_for_log(&format!("{name} switched {}", args[0]), |line| {
            fault_switched(line, name, on)
        })
        .await;
}

/// The admission form's hidden token, from a fresh copy of the form.
async fn form_token(stack: &Stack) -> String {
    let (status, _, html) = stack.visit("/register").await;
    assert_eq!(status, 200);
    let pattern = regex::Regex::new(r#"name="idempotency_token" value="([^"]+)""#).unwrap();
    pattern.captures(&html).expect("a token in the form")[1].to_owned()
}

fn registration<'a>(name: &'a str, token: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("name", name),
        ("type", "m4.large"),
        ("service", "7"),
        ("petname", "patience"),
        ("os", "linux"),
        ("idempotency_token", token),
    ]
}

/// The 503 page a visitor got, and the trace it quotes (as the OTLP trace ID).
fn quoted_trace(status: u16, html: &str) -> (String, String) {
    assert_eq!(status, 503, "not the 503 page: {html}");
    let xray = quoted_trace_id(html).expect("the 503 page quotes a trace ID");
    let otlp = xray.replace('-', "")[1..].to_owned();
    (xray, otlp)
}

async fn spans_of(
    traces: &TracePath,
    trace: &str,
    what: &str,
    done: impl Fn(&[&ReceivedSpan]) -> bool,
) -> Vec<ReceivedSpan> {
    traces
        .wait_for_trace(trace, what, |spans| done(&spans.iter().collect::<Vec<_>>()))
        .await
}

/// The log line of `service` in trace `xray` that carries an `error`.
fn error_line(service: &stack_tests::Service, xray: &str) -> Value {
    service
        .log()
        .into_iter()
        .find(|line| line["trace_id"] == xray && line.get("error").is_some())
        .unwrap_or_else(|| {
            panic!(
                "{} logged no error in trace {xray}: {:#?}",
                service.name,
                service.log()
            )
        })
}

async fn residents_named(stack: &Stack, name: &str) -> usize {
    let page = stack.store.list(&Default::default()).await.unwrap();
    page.residents.iter().filter(|r| r.name == name).count()
}

#[tokio::test]
async fn missing_ca_certificates_is_found_in_registers_dynamodb_span() {
    let traces = TracePath::start().await;
    let stack = Stack::start_exporting(&traces.env()).await;
    let token = form_token(&stack).await;
    switch(&stack, &stack.register, &["on", "missing-ca-certificates"]).await;

    let (status, _, html) = stack
        .submit("/register", &registration("trust me", &token))
        .await;

    let (xray, trace) = quoted_trace(status, &html);
    let spans = spans_of(&traces, &trace, "register's failed PutItem", |spans| {
        spans
            .iter()
            .any(|s| s.service == "register" && s.name == "DynamoDB.PutItem")
    })
    .await;
    let put = spans
        .iter()
        .find(|s| s.service == "register" && s.kind == CLIENT && s.name == "DynamoDB.PutItem")
        .unwrap();
    assert_eq!(put.status_code, ERROR, "{put:#?}");
    assert_eq!(put.attribute("aws.remote.service"), Some("AWS::DynamoDB"));
    let exception = &put.events("exception")[0].attributes;
    assert_eq!(exception["exception.type"], "tls", "{put:#?}");
    assert!(
        exception["exception.message"].contains("invalid peer certificate: UnknownIssuer"),
        "{exception:#?}"
    );
    assert!(
        put.events("fault injected")
            .iter()
            .any(|e| e.attributes["fault.name"] == "missing-ca-certificates")
    );
    let line = error_line(&stack.register, &xray);
    assert!(
        line["error"].as_str().unwrap().contains("UnknownIssuer"),
        "the log line has the whole chain: {line}"
    );

    switch(&stack, &stack.register, &["off", "missing-ca-certificates"]).await;
    let (status, headers, _) = stack
        .submit("/register", &registration("trust me", &token))
        .await;
    assert_eq!(status, 303, "admitted once the fault is off");
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .starts_with("/register/thanks")
    );
    assert_eq!(
        residents_named(&stack, "trust me").await,
        1,
        "admitted once"
    );
}

#[tokio::test]
async fn dynamodb_throttling_is_found_in_registers_dynamodb_span_with_every_attempt() {
    let traces = TracePath::start().await;
    let stack = Stack::start_exporting(&traces.env()).await;
    let token = form_token(&stack).await;
    switch(
        &stack,
        &stack.register,
        &[
            "on",
            "dynamodb-throttling",
            "--service",
            "register",
            "--rate",
            "1",
        ],
    )
    .await;

    let (status, _, html) = stack
        .submit("/register", &registration("in a hurry", &token))
        .await;

    let (xray, trace) = quoted_trace(status, &html);
    let spans = spans_of(&traces, &trace, "register's throttled PutItem", |spans| {
        spans
            .iter()
            .any(|s| s.service == "register" && s.name == "DynamoDB.PutItem")
    })
    .await;
    let put = spans
        .iter()
        .find(|s| s.service == "register" && s.kind == CLIENT && s.name == "DynamoDB.PutItem")
        .unwrap();
    assert_eq!(put.status_code, ERROR, "{put:#?}");
    let exception = &put.events("exception")[0].attributes;
    assert_eq!(exception["exception.type"], "ThrottlingException");
    // The SDK's own retries ran, each attempt visible.
    let attempts: usize = put.attribute("aws.sdk.attempts").unwrap().parse().unwrap();
    assert_eq!(attempts, 3, "{put:#?}");
    let failed = put.events("attempt failed");
    assert_eq!(failed.len(), attempts);
    assert!(
        failed
            .iter()
            .all(|e| e.attributes["error.type"] == "ThrottlingException")
    );
    assert_eq!(put.events("fault injected").len(), attempts);
    let line = error_line(&stack.register, &xray);
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .contains("ThrottlingException"),
        "{line}"
    );

    switch(&stack, &stack.register, &["off", "dynamodb-throttling"]).await;
    let (status, _, _) = stack
        .submit("/register", &registration("in a hurry", &token))
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        residents_named(&stack, "in a hurry").await,
        1,
        "admitted once"
    );
}

#[tokio::test]
async fn slow_listing_is_found_in_server_listings_span() {
    let traces = TracePath::start().await;
    let stack = Stack::start_exporting(&traces.env()).await;
    stack.admin(&["seed"]);
    // Slower than the website waits for an API (3 s): the visitor gets the 503 page.
    switch(
        &stack,
        &stack.listing,
        &["on", "slow-listing", "--latency", "4s"],
    )
    .await;

    let (status, _, html) = stack.visit("/residents").await;

    let (xray, trace) = quoted_trace(status, &html);
    // The website's call ended (timed out) before server-listing's answer did: wait for
    // both spans, whichever is exported last.
    let spans = spans_of(&traces, &trace, "server-listing's slow answer", |spans| {
        spans
            .iter()
            .any(|s| s.service == "server-listing" && s.kind == SERVER)
            && spans
                .iter()
                .any(|s| s.service == "website" && s.kind == CLIENT)
    })
    .await;
    let slow = spans
        .iter()
        .find(|s| s.service == "server-listing" && s.kind == SERVER)
        .unwrap();
    assert!(
        slow.events("fault injected")
            .iter()
            .any(|e| e.attributes["fault.name"] == "slow-listing")
    );
    // It was still waiting when the website gave up (after 3 s) and hung up.
    assert!(
        slow.duration() >= std::time::Duration::from_millis(2500),
        "{slow:#?}"
    );
    let call = spans
        .iter()
        .find(|s| s.service == "website" && s.kind == CLIENT)
        .unwrap();
    assert_eq!(call.status_code, ERROR);
    assert_eq!(call.attribute("peer.service"), Some("server-listing"));
    assert_eq!(
        call.events("exception")[0].attributes["exception.type"],
        "timeout"
    );
    let line = error_line(&stack.website, &xray);
    assert!(
        line["error"].as_str().unwrap().contains("timed out"),
        "{line}"
    );

    switch(&stack, &stack.listing, &["off", "slow-listing"]).await;
    assert_eq!(stack.visit("/residents").await.0, 200);
}

#[tokio::test]
async fn listing_errors_are_found_in_server_listings_span() {
    let traces = TracePath::start().await;
    let stack = Stack::start_exporting(&traces.env()).await;
    stack.admin(&["seed"]);
    switch(
        &stack,
        &stack.listing,
        &["on", "listing-errors", "--rate", "1"],
    )
    .await;

    let (status, _, html) = stack.visit("/residents").await;

    let (xray, trace) = quoted_trace(status, &html);
    let spans = spans_of(&traces, &trace, "server-listing's 500", |spans| {
        spans
            .iter()
            .any(|s| s.service == "server-listing" && s.kind == SERVER)
    })
    .await;
    let failed = spans
        .iter()
        .find(|s| s.service == "server-listing" && s.kind == SERVER)
        .unwrap();
    assert_eq!(failed.status_code, ERROR);
    assert_eq!(failed.attribute("http.response.status_code"), Some("500"));
    assert!(
        failed
            .events("fault injected")
            .iter()
            .any(|e| e.attributes["fault.name"] == "listing-errors")
    );
    let line = error_line(&stack.listing, &xray);
    assert_eq!(
        line["error"], "injected by the listing-errors fault",
        "{line}"
    );

    switch(&stack, &stack.listing, &["off", "listing-errors"]).await;
    assert_eq!(stack.visit("/residents").await.0, 200);
}

#[tokio::test]
async fn no_public_route_changes_a_fault_and_bad_commands_change_nothing() {
    let stack = Stack::start_exporting(&[]).await;
    for service in [&stack.website, &stack.register, &stack.listing] {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::POST,
            reqwest::Method::PUT,
        ] {
            for path in [
                "/faults",
                "/v1/faults",
                "/admin/faults",
                "/faults/listing-errors",
            ] {
                let response = stack
                    .client
                    .request(method.clone(), service.url(path))
                    .send()
                    .await
                    .unwrap();
                assert!(
                    [404, 405].contains(&response.status().as_u16()),
                    "{} {method} {path}: {}",
                    service.name,
                    response.status()
                );
            }
        }
    }
    for bad in [
        &["faults", "on", "no-such-fault"][..],
        &["faults", "on", "listing-errors", "--rate", "2"],
        &["faults", "on", "slow-listing", "--speed", "slow"],
        &["faults", "off"],
    ] {
        let output = stack_tests::admin(bad, &[("RESIDENTS_TABLE", stack.table().to_string())]);
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        assert!(!output.stderr.is_empty(), "{bad:?} says why");
    }
    let listed = String::from_utf8(stack.admin(&["faults", "list"]).stdout).unwrap();
    assert!(
        !listed.contains("on   "),
        "a bad command switched something on: {listed}"
    );
}
