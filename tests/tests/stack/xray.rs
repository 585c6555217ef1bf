//! A contract test against X-Ray's own translation rules: the spans the real services
//! export, through opentelemetry-aws's X-Ray translator (what its exporter sends to
//! X-Ray), read as X-Ray reads them — one trace ID in X-Ray form across the services, a
//! segment per service, DynamoDB as an AWS subsegment with its table and operation, each
//! call between services a remote subsegment named after the callee, a 5xx a fault and a
//! 4xx an error (on the call that got it).

use serde_json::Value;
use stack_tests::otlp::OtlpReceiver;
use stack_tests::stack::{Stack, fault_switched};
use stack_tests::xray::segment_documents;

const ALB_ROOTS: [&str; 4] = [
    "1-67500001-00000000000000000000000a",
    "1-67500002-00000000000000000000000b",
    "1-67500003-00000000000000000000000c",
    "1-67500004-00000000000000000000000d",
];

fn in_trace<'a>(documents: &'a [Value], root: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["trace_id"] == root).collect()
}

fn named<'a>(documents: &[&'a Value], name: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .copied()
        .filter(|d| d["name"] == name)
        .collect()
}

/// The segment of `service`: its server span's document (no `namespace`).
fn segment<'a>(documents: &[&'a Value], service: &str) -> &'a Value {
    named(documents, service)
        .into_iter()
        .find(|d| d.get("namespace").is_none() && d["http"]["response"]["status"].is_number())
        .unwrap_or_else(|| panic!("no segment for {service}: {documents:#?}"))
}

#[tokio::test]
async fn x_ray_reads_the_services_spans_as_one_trace_of_segments_and_subsegments() {
    let receiver = OtlpReceiver::start().await;
    let stack = Stack::start(&receiver).await;
    stack.admin(&["seed"]);
    let header = |root: &str| format!("Root={root};Sampled=1");
    let visit = |root: &'static str, path: &'static str| {
        stack
            .client
            .get(stack.website.url(path))
            .header("x-amzn-trace-id", header(root))
            .send()
    };
    let form = |root: &'static str, name: &'static str| {
        stack
            .client
            .post(stack.website.url("/register"))
            .header("x-amzn-trace-id", header(root))
            .header("origin", stack.website.url(""))
            .form(&[
                ("name", name),
                ("type", "m4.large"),
                ("os", "linux"),
                ("idempotency_token", root),
            ])
            .send()
    };

    assert_eq!(
        visit(ALB_ROOTS[0], "/residents").await.unwrap().status(),
        200
    );
    assert_eq!(
        form(ALB_ROOTS[1], "Segment Fault").await.unwrap().status(),
        303
    );
    // register refuses an empty name (422): an error in X-Ray's terms, not a fault.
    assert_eq!(form(ALB_ROOTS[2], "").await.unwrap().status(), 422);
    stack.admin(&["faults", "on", "listing-errors", "--rate", "1"]);
    stack
        .listing
        .wait_for_log("listing-errors on", |l| {
            fault_switched(l, "listing-errors", true)
        })
        .await;
    // server-listing answers 500: a fault there, and on the website's 503.
    assert_eq!(
        visit(ALB_ROOTS[3], "/residents").await.unwrap().status(),
        503
    );

    let spans = receiver
        .wait_for_spans("every request's DynamoDB or failing span", |spans| {
            let has = |root: &str, service: &str| {
                spans
                    .iter()
                    .any(|s| s.xray_trace_id() == root && s.service == service)
            };
            has(ALB_ROOTS[0], "server-listing")
                && spans
                    .iter()
                    .any(|s| s.xray_trace_id() == ALB_ROOTS[1] && s.name == "DynamoDB.PutItem")
                && has(ALB_ROOTS[2], "register")
                && has(ALB_ROOTS[3], "server-listing")
                && ALB_ROOTS.iter().all(|root| has(root, "website"))
        })
        .await;
    // Let the website's server spans, which end last, arrive.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let documents = segment_documents(&receiver.spans()).await;
    assert!(
        documents.len() >= spans.len(),
        "every span becomes a document"
    );

    // One trace ID, in X-Ray's form, across every service of a request.
    for root in ALB_ROOTS {
        let trace = in_trace(&documents, root);
        assert!(!trace.is_empty(), "no document of {root}");
        assert!(trace.iter().all(|d| d["trace_id"] == root));
    }

    // The listing: website → server-listing (remote) → DynamoDB (aws, the table, Query).
    let listing = in_trace(&documents, ALB_ROOTS[0]);
    segment(&listing, "website");
    // The first listing also reads the OS filter's choices (cold cache): two calls to
    // server-listing in this trace, each with its own segment beneath.
    let calls: Vec<_> = named(&listing, "server-listing")
        .into_iter()
        .filter(|d| d["namespace"] == "remote")
        .collect();
    assert!(
        !calls.is_empty(),
        "no remote subsegment named server-listing: {listing:#?}"
    );
    assert!(
        calls
            .iter()
            .all(|call| call["http"]["response"]["status"] == 200)
    );
    segment(&listing, "server-listing");
    for listed in named(&listing, "server-listing")
        .into_iter()
        .filter(|d| d.get("namespace").is_none())
    {
        assert!(
            calls.iter().any(|call| listed["parent_id"] == call["id"]),
            "the callee's segment hangs off a call: {listed:#?} under none of {calls:#?}"
        );
    }
    let query = named(&listing, "DynamoDB")[0];
    assert_eq!(query["namespace"], "aws");
    assert_eq!(query["aws"]["operation"], "Query");
    assert_eq!(query["aws"]["table_name"], stack.table().as_str());

    // The admission: website → register (remote) → DynamoDB PutItem.
    let admission = in_trace(&documents, ALB_ROOTS[1]);
    assert!(
        named(&admission, "register")
            .iter()
            .any(|d| d["namespace"] == "remote")
    );
    let put = named(&admission, "DynamoDB")[0];
    assert_eq!(put["namespace"], "aws");
    assert_eq!(put["aws"]["operation"], "PutItem");
    assert_eq!(put["aws"]["table_name"], stack.table().as_str());

    // A 4xx is an error, not a fault: on the call that was refused (the server's own span
    // leaves its status unset for a 4xx, as the semantic conventions say).
    let refused = named(&in_trace(&documents, ALB_ROOTS[2]), "register")
        .into_iter()
        .find(|d| d["namespace"] == "remote")
        .expect("the website's call to register");
    assert_eq!(refused["http"]["response"]["status"], 422);
    assert_eq!(refused["error"], true, "{refused:#}");
    assert_ne!(refused["fault"], true, "{refused:#}");

    // A 5xx is a fault, where it happened and where it showed.
    let failing = in_trace(&documents, ALB_ROOTS[3]);
    for service in ["server-listing", "website"] {
        let failed = segment(&failing, service);
        assert_eq!(failed["fault"], true, "{service}: {failed:#}");
    }
}
