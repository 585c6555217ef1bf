//! One request followed through a real service and DynamoDB: what the services export
//! over OTLP (to a receiver in this test) and what they log, with the X-Ray trace ID.

use serde_json::{Value, json};
use stack_tests::Service;
use stack_tests::otlp::{OtlpReceiver, ReceivedSpan};
use test_support::fresh_store;

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const ROOT_HEX: &str = "5759e988bd862e3fe1be46a994272793";
const SERVER: i32 = 2;
const CLIENT: i32 = 3;

async fn start(name: &str, table: &str, receiver: Option<&OtlpReceiver>) -> Service {
    let mut env = vec![("RESIDENTS_TABLE", table.to_owned())];
    if let Some(receiver) = receiver {
        env.extend(receiver.env());
    }
    Service::start(name, &env).await
}

/// The nearest ancestor of `span` of the given kind (handler and store spans sit in
/// between, as internal spans).
fn ancestor_of_kind<'a>(
    spans: &'a [ReceivedSpan],
    span: &ReceivedSpan,
    kind: i32,
) -> Option<&'a ReceivedSpan> {
    let mut parent_id = span.parent_span_id.clone();
    while !parent_id.is_empty() {
        let parent = spans
            .iter()
            .find(|s| s.span_id == parent_id && s.trace_id == span.trace_id)?;
        if parent.kind == kind {
            return Some(parent);
        }
        parent_id = parent.parent_span_id.clone();
    }
    None
}

fn in_trace<'a>(spans: &'a [ReceivedSpan], trace: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.trace_id == trace).collect()
}

/// JSON log lines written inside a request (they name their span).
fn request_log_lines(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .filter(|line| line.get("span").is_some())
        .collect()
}

#[tokio::test]
async fn an_alb_trace_id_is_kept_through_every_span_and_log_line() {
    let receiver = OtlpReceiver::start().await;
    let store = fresh_store().await;
    let table = store.table().to_string();
    let listing = start("server-listing", &table, Some(&receiver)).await;
    let register = start("register", &table, Some(&receiver)).await;
    let client = reqwest::Client::new();
    let header = format!("Root={ROOT}; Sampled=1");

    let admitted = client
        .post(register.url("/v1/registrations"))
        .header("x-amzn-trace-id", &header)
        .json(&json!({"name": "traced", "type": "t3.micro", "os": "linux"}))
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), 201);
    assert_eq!(
        admitted.headers()["x-amzn-trace-id"],
        format!("Root={ROOT}").as_str()
    );
    let listed = client
        .get(listing.url("/v1/servers"))
        .header("x-amzn-trace-id", &header)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    assert_eq!(
        listed.headers()["x-amzn-trace-id"],
        format!("Root={ROOT}").as_str()
    );

    let spans = receiver
        .wait_for_spans("both services' server and DynamoDB spans", |spans| {
            let trace = in_trace(spans, ROOT_HEX);
            ["register", "server-listing"].iter().all(|service| {
                trace
                    .iter()
                    .any(|s| s.service == *service && s.kind == SERVER)
                    && trace
                        .iter()
                        .any(|s| s.service == *service && s.kind == CLIENT)
            })
        })
        .await;
    for span in in_trace(&spans, ROOT_HEX) {
        assert_eq!(span.xray_trace_id(), ROOT);
    }
    for (service, route, operation) in [
        ("register", "/v1/registrations", "PutItem"),
        ("server-listing", "/v1/servers", "Query"),
    ] {
        let server = spans
            .iter()
            .find(|s| s.service == service && s.kind == SERVER && s.trace_id == ROOT_HEX)
            .unwrap();
        assert_eq!(server.attribute("http.route"), Some(route));
        assert_eq!(
            server.parent_span_id, "",
            "an ALB header has no parent segment"
        );
        let dynamodb = spans
            .iter()
            .find(|s| {
                s.service == service
                    && s.kind == CLIENT
                    && s.attribute("rpc.method") == Some(operation)
            })
            .unwrap_or_else(|| panic!("no {operation} span from {service}"));
        assert_eq!(dynamodb.trace_id, ROOT_HEX);
        assert_eq!(
            ancestor_of_kind(&spans, dynamodb, SERVER).map(|s| &s.span_id),
            Some(&server.span_id),
            "the DynamoDB span descends from the request's server span"
        );
        assert_eq!(dynamodb.name, format!("DynamoDB.{operation}"));
        assert_eq!(dynamodb.attribute("rpc.system"), Some("aws-api"));
        assert_eq!(dynamodb.attribute("rpc.service"), Some("DynamoDB"));
        assert_eq!(
            dynamodb.attribute("aws.dynamodb.table_names"),
            Some(format!("[{table}]").as_str()),
            "a string array"
        );
    }

    for service in [listing, register] {
        let lines = request_log_lines(&service.terminate());
        assert!(!lines.is_empty(), "no log line inside a request");
        for line in lines {
            assert_eq!(line["trace_id"], ROOT, "{line}");
            assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");
        }
    }
}

#[tokio::test]
async fn an_unsampled_request_is_logged_with_its_trace_id_and_not_exported() {
    const UNSAMPLED: &str = "1-5759e989-0123456789abcdef01234567";
    const UNSAMPLED_HEX: &str = "5759e9890123456789abcdef01234567";
    const MARKER_HEX: &str = "5759e98a76543210fedcba9876543210";
    let receiver = OtlpReceiver::start().await;
    let store = fresh_store().await;
    let register = start("register", &store.table().to_string(), Some(&receiver)).await;
    let client = reqwest::Client::new();
    for (header, name) in [
        (format!("Root={UNSAMPLED};Sampled=0"), "unsampled"),
        (
            "Root=1-5759e98a-76543210fedcba9876543210;Sampled=1".to_owned(),
            "marker",
        ),
    ] {
        let admitted = client
            .post(register.url("/v1/registrations"))
            .header("x-amzn-trace-id", header)
            .json(&json!({"name": name, "type": "t3.micro", "os": "linux"}))
            .send()
            .await
            .unwrap();
        assert_eq!(admitted.status(), 201);
    }
    // Spans are exported in the order they end: once the later, sampled request's spans
    // are in, the unsampled one's would be too, had they been exported.
    let spans = receiver
        .wait_for_spans("the sampled marker request", |spans| {
            in_trace(spans, MARKER_HEX).iter().any(|s| s.kind == SERVER)
        })
        .await;
    assert!(
        in_trace(&spans, UNSAMPLED_HEX).is_empty(),
        "Sampled=0 was exported"
    );
    let lines = request_log_lines(&register.terminate());
    assert!(
        lines.iter().any(|line| line["trace_id"] == UNSAMPLED),
        "no log line carries the unsampled request's trace ID"
    );
}

#[tokio::test]
async fn a_traced_caller_becomes_the_parent() {
    let receiver = OtlpReceiver::start().await;
    let store = fresh_store().await;
    let listing = start("server-listing", store.table().as_str(), Some(&receiver)).await;
    let response = reqwest::Client::new()
        .get(listing.url("/v1/servers?limit=1"))
        .header(
            "x-amzn-trace-id",
            format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let spans = receiver
        .wait_for_spans("the server span", |spans| {
            spans.iter().any(|s| s.kind == SERVER)
        })
        .await;
    let server = spans.iter().find(|s| s.kind == SERVER).unwrap();
    assert_eq!(server.trace_id, ROOT_HEX);
    assert_eq!(server.parent_span_id, "53995c3f42cd8ad8");
}

#[tokio::test]
async fn missing_or_malformed_headers_start_new_traces_and_never_fail() {
    let receiver = OtlpReceiver::start().await;
    let store = fresh_store().await;
    let listing = start("server-listing", store.table().as_str(), Some(&receiver)).await;
    let client = reqwest::Client::new();
    let mut roots = Vec::new();
    for header in [
        None,
        Some("garbage"),
        Some("Root=1-5759e988-nothex;Sampled=1"),
        Some("Root="),
    ] {
        let mut request = client.get(listing.url("/v1/servers"));
        if let Some(header) = header {
            request = request.header("x-amzn-trace-id", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{header:?}");
        let root = response.headers()["x-amzn-trace-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let id = root.strip_prefix("Root=1-").unwrap();
        assert_eq!(id.len(), 33, "{root}");
        roots.push(root);
    }
    roots.sort();
    roots.dedup();
    assert_eq!(roots.len(), 4, "each request got its own new trace");
}

#[tokio::test]
async fn health_checks_are_not_traced_and_metrics_are_exported() {
    let receiver = OtlpReceiver::start().await;
    let store = fresh_store().await;
    let listing = start("server-listing", store.table().as_str(), Some(&receiver)).await;
    for path in ["/health", "/ready", "/health"] {
        assert_eq!(reqwest::get(listing.url(path)).await.unwrap().status(), 200);
    }
    assert_eq!(
        reqwest::get(listing.url("/v1/servers"))
            .await
            .unwrap()
            .status(),
        200
    );
    let spans = receiver
        .wait_for_spans("the listing request", |spans| {
            spans
                .iter()
                .any(|s| s.attribute("http.route") == Some("/v1/servers"))
        })
        .await;
    assert!(
        spans
            .iter()
            .all(|s| !matches!(s.attribute("url.path"), Some("/health" | "/ready"))),
        "a probe was traced: {spans:#?}"
    );
    // Readiness calls DynamoDB too; those calls must not start traces of their own.
    assert!(
        spans
            .iter()
            .all(|s| s.attribute("rpc.method") != Some("DescribeTable"))
    );

    let started = std::time::Instant::now();
    loop {
        let metrics = receiver.metrics();
        // Each service's metrics come from a scope of its own name, not one shared scope.
        for (service, scope, name) in &metrics {
            assert_eq!(
                scope, service,
                "{name} from {service} came from scope {scope}"
            );
        }
        let names: Vec<String> = metrics.into_iter().map(|(_, _, name)| name).collect();
        if [
            "http.server.request.duration",
            "http.server.requests",
            "dynamodb.client.operation.duration",
        ]
        .iter()
        .all(|want| names.iter().any(|n| n == want))
        {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "metrics never arrived: {names:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_exported() {
    let receiver = OtlpReceiver::start().await;
    let store = fresh_store().await;
    let table = store.table().to_string();
    let quiet = start("server-listing", &table, None).await;
    let exporting = start("register", &table, Some(&receiver)).await;
    assert_eq!(
        reqwest::get(quiet.url("/v1/servers"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(exporting.url("/v1/nowhere"))
            .await
            .unwrap()
            .status(),
        404
    );
    // Once the exporting service's span has arrived, the quiet one had as long to send.
    receiver
        .wait_for_spans("the exporting service's span", |spans| {
            spans.iter().any(|s| s.service == "register")
        })
        .await;
    let output = quiet.terminate();
    assert!(output.status.success());
    assert!(
        receiver
            .spans()
            .iter()
            .all(|s| s.service != "server-listing")
    );
    // And it still logged its requests with trace IDs.
    assert!(
        request_log_lines(&output)
            .iter()
            .all(|l| l["trace_id"].as_str().is_some_and(|t| t.starts_with("1-")))
    );
}

/// The website and both APIs as processes, all exporting to `receiver`.
async fn start_stack(table: &str, receiver: &OtlpReceiver) -> (Service, Service, Service) {
    let listing = start("server-listing", table, Some(receiver)).await;
    let register = start("register", table, Some(receiver)).await;
    let mut env = receiver.env();
    env.push(("SERVER_LISTING_URL", listing.url("")));
    env.push(("REGISTER_URL", register.url("")));
    let website = Service::start("website", &env).await;
    (website, listing, register)
}

/// Asserts one unbroken chain in the ALB's trace: the website's server span for
/// `method route` → its client span (from reqwest-tracing) → `api`'s server span, whose
/// parent is that client span → `api`'s DynamoDB `operation` span beneath it.
fn assert_chain(spans: &[ReceivedSpan], (method, route): (&str, &str), api: &str, operation: &str) {
    let website = spans
        .iter()
        .find(|s| {
            s.service == "website"
                && s.kind == SERVER
                && s.attribute("http.route") == Some(route)
                && s.attribute("http.request.method") == Some(method)
        })
        .unwrap_or_else(|| panic!("no website server span for {method} {route}"));
    assert_eq!(website.trace_id, ROOT_HEX, "{route}");
    assert_eq!(
        website.parent_span_id, "",
        "an ALB header has no parent segment"
    );
    let client = spans
        .iter()
        .find(|s| {
            s.service == "website"
                && s.kind == CLIENT
                && ancestor_of_kind(spans, s, SERVER).map(|p| &p.span_id) == Some(&website.span_id)
        })
        .unwrap_or_else(|| panic!("no website client span under {method} {route}"));
    assert_eq!(client.trace_id, ROOT_HEX);
    let server = spans
        .iter()
        .find(|s| s.service == api && s.kind == SERVER && s.parent_span_id == client.span_id)
        .unwrap_or_else(|| panic!("no {api} server span whose parent is the website's call"));
    assert_eq!(server.trace_id, ROOT_HEX);
    let dynamodb = spans
        .iter()
        .find(|s| {
            s.service == api
                && s.kind == CLIENT
                && s.attribute("rpc.method") == Some(operation)
                && ancestor_of_kind(spans, s, SERVER).map(|p| &p.span_id) == Some(&server.span_id)
        })
        .unwrap_or_else(|| panic!("no {operation} span beneath {api}'s server span"));
    assert_eq!(dynamodb.trace_id, ROOT_HEX);
    assert_eq!(dynamodb.name, format!("DynamoDB.{operation}"));
}

#[tokio::test]
async fn one_trace_runs_from_the_website_through_each_api_into_dynamodb() {
    let receiver = OtlpReceiver::start().await;
    let store = fresh_store().await;
    let table = store.table().to_string();
    let (website, _listing, _register) = start_stack(&table, &receiver).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let header = format!("Root={ROOT};Sampled=1");

    let admitted = client
        .post(website.url("/register"))
        .header("x-amzn-trace-id", &header)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            "name=traced+through+the+form&type=t3.micro&service=3&petname=dot&os=linux\
             &idempotency_token=telemetry-chain-1",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), 303);
    assert_eq!(
        admitted.headers()["x-amzn-trace-id"],
        format!("Root={ROOT}").as_str()
    );
    let listed = client
        .get(website.url("/residents"))
        .header("x-amzn-trace-id", &header)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    assert!(
        listed
            .text()
            .await
            .unwrap()
            .contains("traced through the form")
    );

    let spans = receiver
        .wait_for_spans("the website's and both APIs' spans", |spans| {
            let trace = in_trace(spans, ROOT_HEX);
            let has = |service: &str, kind: i32| {
                trace.iter().any(|s| s.service == service && s.kind == kind)
            };
            has("website", SERVER)
                && trace
                    .iter()
                    .filter(|s| s.service == "website" && s.kind == CLIENT)
                    .count()
                    >= 2
                && ["register", "server-listing"]
                    .iter()
                    .all(|api| has(api, SERVER) && has(api, CLIENT))
        })
        .await;
    assert_chain(&spans, ("POST", "/register"), "register", "PutItem");
    assert_chain(&spans, ("GET", "/residents"), "server-listing", "Query");
}

#[tokio::test]
async fn the_websites_503_page_quotes_the_trace_the_alb_started() {
    let receiver = OtlpReceiver::start().await;
    let closed = format!("http://127.0.0.1:{}", stack_tests::free_port());
    let website = Service::start(
        "website",
        &[
            ("SERVER_LISTING_URL", closed.clone()),
            ("REGISTER_URL", closed),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{}", receiver.port),
            ),
        ],
    )
    .await;
    let response = reqwest::Client::new()
        .get(website.url("/residents"))
        .header("x-amzn-trace-id", format!("Root={ROOT};Sampled=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("<code class=\"trace-id\">{ROOT}</code>")));
    let spans = receiver
        .wait_for_spans("the website's failed call", |spans| {
            spans
                .iter()
                .any(|s| s.service == "website" && s.kind == SERVER && s.trace_id == ROOT_HEX)
        })
        .await;
    let server = spans
        .iter()
        .find(|s| s.service == "website" && s.kind == SERVER)
        .unwrap();
    assert_eq!(server.status_code, 2, "a 503 marks the span as an error");
}
