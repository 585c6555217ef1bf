//! Step 4, compose: the smoke run's steps on the stack (see `stack.rs`), and what they
//! check through it: the listing, a registration through the API, the website's pages
//! and form, the form's admission as one trace in Jaeger, and the services' metrics and
//! the alert rules in Prometheus.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use telemetry_backends::{JaegerQuery, TraceSpan};

use super::images::{check_health, check_ready};
use super::stack::ComposeStack;
use super::summary::Summary;
use super::{Ctx, SEED_COUNT, START_LIMIT};
use crate::http::{HttpResponse, html_text, http_get, http_request};
use crate::project_root;

/// Every service sees a fault switched within 5 s (it polls every 2 s); a generous bound.
const FAULT_LIMIT: Duration = Duration::from_secs(30);
/// The services' SDKs export finished spans every few seconds and the collector sends
/// them on at once; a generous bound for the whole trace to be in Jaeger.
const TRACE_LIMIT: Duration = Duration::from_secs(60);
/// A request reaches Prometheus within about 10 s (the services export every 5 s in
/// compose, Prometheus scrapes every 5 s); a generous bound.
const METRICS_LIMIT: Duration = Duration::from_secs(60);
/// OTLP's span kinds.
const SERVER: i64 = 2;
const CLIENT: i64 = 3;

pub(super) fn compose_checks(ctx: &Ctx, summary: &mut Summary) {
    let stack = match summary.value("compose: prepare (ports, images)", || {
        ComposeStack::new(ctx)
    }) {
        Some(stack) => stack,
        None => return,
    };
    // The resident registered through the API, checked again after the second `up`.
    let registered = std::cell::RefCell::new(String::new());
    // The `X-Amzn-Trace-Id` of the website's answer to the form's admission.
    let admission_trace = std::cell::RefCell::new(String::new());
    // Each step builds on the one before: after a failure the rest are skipped.
    let steps: [(&str, &dyn Fn() -> anyhow::Result<()>); 15] = [
        ("compose: up", &|| stack.up()),
        ("compose: table created and seeded (12)", &|| {
            expect_listing(&stack, SEED_COUNT, &[])
        }),
        ("compose: a registration appears in the listing", &|| {
            let ckid = register_resident(&stack)?;
            expect_listing(&stack, SEED_COUNT + 1, &[ckid.as_str()])?;
            println!("compose: {ckid} is listed with the {SEED_COUNT} seeds");
            *registered.borrow_mut() = ckid;
            Ok(())
        }),
        ("compose: website /health and /ready", &|| {
            check_health(ctx, "website", stack.port("website"))?;
            check_ready(ctx, "website", stack.port("website"))
        }),
        ("compose: healthchecks pass", &|| stack.healthchecks()),
        (
            "compose: otel-collector and jaeger run, report healthy (polled)",
            &|| stack.trace_backends_healthy(),
        ),
        (
            "compose: website lists every resident, admits through its form",
            &|| {
                *admission_trace.borrow_mut() = website_page_checks(&stack)?;
                Ok(())
            },
        ),
        (
            "compose: the form's admission is one trace in Jaeger (website, register, DynamoDB.PutItem)",
            &|| admission_in_jaeger(ctx, &stack, &admission_trace.borrow()),
        ),
        // After the steps above, every service has answered requests.
        (
            "compose: prometheus ready, scrapes the collector, has each service's requests and the rules",
            &|| metrics_in_prometheus(ctx, &stack),
        ),
        (
            "compose: missing-ca-certificates fails register's TLS handshake; off recovers",
            &|| missing_ca_round_trip(ctx, &stack),
        ),
        // init runs again on every `up`; it must add nothing to a seeded table.
        ("compose: second up (no down) seeds nothing twice", &|| {
            let before = stack.life("dynamodb")?;
            let up = stack.up();
            let after = stack.life("dynamodb")?;
            ensure!(
                before == after && before.contains(", 0 restart(s)"),
                "DynamoDB Local's container did not live through the second up (its table \
                 is in memory): before, {before}; after, {after} ({up:?})"
            );
            up?;
            let init = stack.init_output()?;
            ensure!(
                init.contains("seeded 0 demo resident"),
                "init on the second up: {init}"
            );
            // The seeds, the API's registration and the form's.
            expect_listing(&stack, SEED_COUNT + 2, &[registered.borrow().as_str()])
        }),
        // Last before `down`: its visitors admit residents, which the counts above exclude.
        ("compose: loadgen (profile load) walks the site", &|| {
            let output = stack.run_once(
                Some("load"),
                "loadgen",
                &["--duration=10s", "--rate=4", "--visitors=2"],
            )?;
            ensure!(
                output.contains("/residents"),
                "loadgen printed no summary per page: {output}"
            );
            println!("compose: loadgen summary:\n{}", output.trim());
            Ok(())
        }),
        ("compose: down leaves nothing", &|| stack.down()),
        // DynamoDB Local is in memory: a fresh `up` has only the seeds again.
        ("compose: up after down starts fresh (12)", &|| {
            stack.up()?;
            expect_listing(&stack, SEED_COUNT, &[])
        }),
        ("compose: final down", &|| stack.down()),
    ];
    let failures_before = summary.failed();
    for (name, step) in steps {
        if summary.failed() > failures_before {
            summary.skip(name, "an earlier compose step failed");
        } else {
            summary.run(name, step);
        }
    }
}

/// The 2019 outage, for real in compose: with `missing-ca-certificates` on, register's
/// DynamoDB calls fail the TLS handshake with dynamodb-tls (register is not ready, a
/// registration is a 503 problem and writes nothing, the proxy logs register's refusal of
/// its certificate); after `faults off --all`, register is ready again by itself.
fn missing_ca_round_trip(ctx: &Ctx, stack: &ComposeStack<'_>) -> anyhow::Result<()> {
    let port = stack.port("register");
    let ready_status = |wanted: u16| {
        move || match http_get(port, "/ready") {
            Ok(answer) if answer.status == wanted => Ok(()),
            Ok(answer) => Err(format!("register /ready answered {}", answer.status)),
            Err(err) => Err(format!("register /ready: {err:#}")),
        }
    };
    stack.admin(&["faults", "on", "missing-ca-certificates"])?;
    ctx.wait_for(
        "register unready under missing-ca-certificates",
        FAULT_LIMIT,
        ready_status(503),
    )?;
    let answer = post_registration(stack, "Untrusting", "nocerts")?;
    let problem =
        answer.expect_json(503, "POST /v1/registrations under missing-ca-certificates")?;
    ensure!(
        problem["type"].is_string(),
        "the 503 is not a problem document: {}",
        answer.body
    );
    let proxy = stack.logs("dynamodb-tls", 50)?;
    ensure!(
        proxy.contains("UnknownCA"),
        "dynamodb-tls logged no refused certificate (UnknownCA): {proxy}"
    );
    stack.admin(&["faults", "off", "--all"])?;
    ctx.wait_for(
        "register ready after faults off",
        FAULT_LIMIT,
        ready_status(200),
    )?;
    println!("compose: register's TLS handshake failed under the fault (503), and recovered");
    Ok(())
}

/// The form's admission, followed through compose's own trace path (the services export
/// to otel-collector, which sends to jaeger) and read back from Jaeger's query API on its
/// published port: the trace the website's answer named holds the website's spans,
/// register's server span as a child of one of them (the trace crossed the call), and
/// register's `DynamoDB.PutItem` client span (the write itself).
fn admission_in_jaeger(
    ctx: &Ctx,
    stack: &ComposeStack<'_>,
    trace_header: &str,
) -> anyhow::Result<()> {
    let (_, trace_id) = crate::trace::parse_reference(trace_header).with_context(|| {
        format!("the admission's X-Amzn-Trace-Id {trace_header:?} names no X-Ray trace ID")
    })?;
    let query = JaegerQuery::new(format!("http://127.0.0.1:{}", stack.port("jaeger")));
    let mut spans = ctx.wait_for(
        &format!("trace {trace_id} whole in Jaeger"),
        TRACE_LIMIT,
        || {
            let spans = query.trace(&trace_id).map_err(|e| e.to_string())?;
            match admission_gaps(&spans) {
                gaps if gaps.is_empty() => Ok(spans),
                gaps => Err(format!("{} span(s), {}", spans.len(), gaps.join("; "))),
            }
        },
    )?;
    spans.sort_by_key(|span| span.start_unix_nano);
    println!(
        "compose: trace {trace_id} ({trace_header}) in Jaeger, {} spans:",
        spans.len()
    );
    for span in &spans {
        let kind = match span.kind {
            SERVER => "server",
            CLIENT => "client",
            _ => "internal",
        };
        println!("  {:<15} {kind:<8} {}", span.service, span.name);
    }
    Ok(())
}

/// Prometheus through its published port: ready (and so is its compose healthcheck);
/// the scrape of the collector's exporter up; every service's requests in
/// `http_server_requests_total` by `service_name`, and their latency as native histograms;
/// the alert rules loaded, as many as docker/prometheus/rules.yaml declares.
fn metrics_in_prometheus(ctx: &Ctx, stack: &ComposeStack<'_>) -> anyhow::Result<()> {
    let port = stack.port("prometheus");
    let ready = ctx.wait_for("prometheus /-/ready", START_LIMIT, || {
        match http_get(port, "/-/ready") {
            Ok(answer) if answer.status == 200 => Ok(()),
            Ok(answer) => Err(format!(
                "/-/ready answered {}: {}",
                answer.status,
                answer.body.trim()
            )),
            Err(err) => Err(format!("{err:#}")),
        }
    });
    if let Err(err) = ready {
        let logs = stack.logs("prometheus", 20).unwrap_or_default();
        bail!("{err:#}; its last lines:\n{}", logs.trim());
    }
    stack.healthcheck("prometheus")?;

    let up = r#"up{job="otel-collector"}"#;
    ctx.wait_for(
        &format!("{up} == 1"),
        METRICS_LIMIT,
        || match prometheus_query(port, up)?.as_slice() {
            [sample] if sample.value == "1" => Ok(()),
            samples => Err(format!("{up} is {}", describe(samples))),
        },
    )?;
    let requests = "sum by (service_name) (http_server_requests_total)";
    let by_service = ctx.wait_for(
        "every service's requests in Prometheus",
        METRICS_LIMIT,
        || {
            let samples = prometheus_query(port, requests)?;
            let missing: Vec<&str> = super::SERVICES
                .into_iter()
                .filter(|service| {
                    !samples.iter().any(|sample| {
                        sample
                            .labels
                            .get("service_name")
                            .and_then(|name| name.as_str())
                            == Some(*service)
                    })
                })
                .collect();
            match missing[..] {
                [] => Ok(describe(&samples)),
                _ => Err(format!(
                    "no requests of {missing:?}; {requests} is {}",
                    describe(&samples)
                )),
            }
        },
    )?;
    let latency = "http_server_request_duration_seconds";
    let histograms = prometheus_query(port, latency).map_err(anyhow::Error::msg)?;
    ensure!(
        !histograms.is_empty() && histograms.iter().all(|s| s.value == "native histogram"),
        "{latency} is {} (native histograms were expected: is \
         --enable-feature=native-histograms on?)",
        describe(&histograms)
    );

    let rules = http_get(port, "/api/v1/rules")?.expect_json(200, "GET /api/v1/rules")?;
    ensure!(
        rules["status"] == "success",
        "GET /api/v1/rules: status {}",
        rules["status"]
    );
    let groups = rules["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let loaded: usize = groups
        .iter()
        .map(|group| group["rules"].as_array().map_or(0, Vec::len))
        .sum();
    let file = project_root().join("docker/prometheus/rules.yaml");
    let declared = rules_declared(
        &std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?,
    );
    ensure!(
        loaded == declared,
        "Prometheus loaded {loaded} rule(s) in {} group(s); {} declares {declared}",
        groups.len(),
        file.display()
    );
    println!(
        "compose: prometheus at 127.0.0.1:{port}: the collector's scrape is up; requests \
         {by_service}; {} latency histogram(s); {loaded} rule(s) in {} group(s) loaded",
        histograms.len(),
        groups.len()
    );
    Ok(())
}

/// One sample of an instant query's answer: its labels, and its value (a native
/// histogram's is the words "native histogram").
struct Sample {
    labels: serde_json::Map<String, serde_json::Value>,
    value: String,
}

/// An instant query on Prometheus' published port; the error says what went wrong.
fn prometheus_query(port: u16, query: &str) -> Result<Vec<Sample>, String> {
    let path = format!("/api/v1/query?query={}", percent_encoded(query));
    let answer = http_get(port, &path)
        .and_then(|answer| answer.expect_json(200, &format!("query {query}")))
        .map_err(|err| format!("{err:#}"))?;
    let result = answer["data"]["result"]
        .as_array()
        .ok_or_else(|| format!("query {query}: no result vector: {answer}"))?;
    Ok(result
        .iter()
        .map(|sample| Sample {
            labels: sample["metric"].as_object().cloned().unwrap_or_default(),
            value: match sample["value"][1].as_str() {
                Some(value) => value.to_owned(),
                None if sample["histogram"].is_array() => "native histogram".to_owned(),
                None => sample.to_string(),
            },
        })
        .collect())
}

/// Samples as `{labels} value` items, for messages.
fn describe(samples: &[Sample]) -> String {
    if samples.is_empty() {
        return "empty".to_owned();
    }
    let items: Vec<String> = samples
        .iter()
        .map(|sample| {
            let labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            format!("{{{}}} {}", labels.join(","), sample.value)
        })
        .collect();
    items.join(", ")
}

/// The query string's escaping: every byte but the unreserved ones (RFC 3986) as %XX.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// How many rules a rules file declares: its `alert:` and `record:` keys (each rule has
/// exactly one), read from the text (no YAML parser here; the file is generated, one key
/// per line).
fn rules_declared(rules_file: &str) -> usize {
    rules_file
        .lines()
        .map(|line| line.trim_start().trim_start_matches("- ").trim_start())
        .filter(|line| line.starts_with("alert:") || line.starts_with("record:"))
        .count()
}

/// What the admission's trace still lacks; nothing when it is whole.
fn admission_gaps(spans: &[TraceSpan]) -> Vec<&'static str> {
    let of = |service: &'static str| spans.iter().filter(move |s| s.service == service);
    let mut gaps = Vec::new();
    if spans.is_empty() {
        gaps.push("not in Jaeger (yet)");
        return gaps;
    }
    if of("website").next().is_none() {
        gaps.push("no span of website");
    }
    let register_server: Vec<&TraceSpan> = of("register").filter(|s| s.kind == SERVER).collect();
    if register_server.is_empty() {
        gaps.push("no server span of register");
    } else if !register_server.iter().any(|server| {
        of("website").any(|client| client.kind == CLIENT && client.span_id == server.parent_span_id)
    }) {
        gaps.push("register's server span is no child of a website client span");
    }
    if !of("register").any(|s| s.kind == CLIENT && s.name == "DynamoDB.PutItem") {
        gaps.push("no DynamoDB.PutItem client span of register");
    }
    gaps
}

/// Checks of the website's pages through the compose stack: the residents pages list
/// every resident the API knows (seeds included), and a registration through the form
/// (with the form's own idempotency token) lands on the thank-you page and then on the
/// residents page. Returns the `X-Amzn-Trace-Id` of the website's answer to the form.
fn website_page_checks(stack: &ComposeStack<'_>) -> anyhow::Result<String> {
    let port = stack.port("website");
    let listing = http_get(stack.port("server-listing"), "/v1/servers?limit=100")?
        .expect_json(200, "GET /v1/servers")?;
    let names: Vec<String> = listing["servers"]
        .as_array()
        .context("no `servers` array in the listing")?
        .iter()
        .filter_map(|server| server["name"].as_str().map(html_text))
        .collect();
    ensure!(
        names.len() > SEED_COUNT,
        "the listing has {} residents",
        names.len()
    );
    let shown = residents_pages(port)?;
    let missing: Vec<&String> = names.iter().filter(|name| !shown.contains(*name)).collect();
    ensure!(missing.is_empty(), "/residents does not show {missing:?}");

    let form = http_get(port, "/register")?;
    ensure!(form.status == 200, "GET /register answered {}", form.status);
    let token = form
        .body
        .split_once(r#"name="idempotency_token" value=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_owned())
        .context("no idempotency_token in the register form")?;
    let name = format!("Compose Form {}", std::process::id());
    let body = format!(
        "idempotency_token={token}&name={}&type=t3.micro&service=3&petname=formy&os=linux",
        name.replace(' ', "+")
    );
    let posted = http_request(
        "POST",
        port,
        "/register",
        Some(("application/x-www-form-urlencoded", &body)),
    )?;
    let location = posted.header("location").unwrap_or_default();
    let trace = posted
        .header("x-amzn-trace-id")
        .context("the answer to POST /register carries no X-Amzn-Trace-Id")?
        .to_owned();
    ensure!(
        posted.status == 303 && location.starts_with("/register/thanks"),
        "POST /register answered {} (Location {location:?}): {}",
        posted.status,
        posted.body
    );
    let thanks = http_get(port, location)?;
    ensure!(
        thanks.status == 200 && thanks.body.contains(&name),
        "{location} answered {} without the new resident's name",
        thanks.status
    );
    let first_page = http_get(port, "/residents")?;
    ensure!(
        first_page.body.contains(&name),
        "the form's resident {name:?} is not on /residents"
    );
    println!(
        "compose: /residents shows all {} residents; the form admitted {name:?} ({trace})",
        names.len()
    );
    Ok(trace)
}

/// Every residents page, first to last (following rel="next"), as one string.
fn residents_pages(port: u16) -> anyhow::Result<String> {
    let mut path = "/residents".to_owned();
    let mut pages = String::new();
    for _ in 0..20 {
        let page = http_get(port, &path)?;
        ensure!(page.status == 200, "GET {path} answered {}", page.status);
        let next = page
            .body
            .split_once(r#"rel="next""#)
            .and_then(|(before, _)| before.rsplit_once(r#"href=""#))
            .and_then(|(_, href)| href.split_once('"'))
            .map(|(href, _)| href.replace("&amp;", "&"));
        pages.push_str(&page.body);
        match next {
            Some(next) => path = next,
            None => return Ok(pages),
        }
    }
    bail!("/residents has more than 20 pages")
}

/// GET /v1/servers?limit=100 on server-listing: exactly `expected` residents, all distinct,
/// including every id in `must_include`.
fn expect_listing(
    stack: &ComposeStack<'_>,
    expected: usize,
    must_include: &[&str],
) -> anyhow::Result<()> {
    let response = http_get(stack.port("server-listing"), "/v1/servers?limit=100")?;
    let page = response.expect_json(200, "GET /v1/servers")?;
    let servers = page["servers"]
        .as_array()
        .context("no `servers` array in the listing")?;
    ensure!(
        page["next_cursor"].is_null(),
        "more than 100 residents (a next_cursor came back)"
    );
    let ids: std::collections::BTreeSet<&str> =
        servers.iter().filter_map(|s| s["ckid"].as_str()).collect();
    ensure!(
        ids.len() == servers.len(),
        "duplicate or missing ckids in the listing: {}",
        response.body
    );
    ensure!(
        servers.len() == expected,
        "the listing has {} residents, expected {expected}",
        servers.len()
    );
    for id in must_include {
        ensure!(ids.contains(id), "{id} is not in the listing");
    }
    Ok(())
}

/// POST /v1/registrations on register; returns the new resident's ckid.
fn register_resident(stack: &ComposeStack<'_>) -> anyhow::Result<String> {
    let response = post_registration(stack, "Smoke Test", "smokey")?;
    let resident = response.expect_json(201, "POST /v1/registrations")?;
    let ckid = resident["ckid"]
        .as_str()
        .context("the 201 has no ckid")?
        .to_string();
    Ok(ckid)
}

/// POST /v1/registrations on register, for a resident named after this run.
fn post_registration(
    stack: &ComposeStack<'_>,
    name: &str,
    petname: &str,
) -> anyhow::Result<HttpResponse> {
    let body = serde_json::json!({
        "name": format!("{name} {}", std::process::id()),
        "type": "m5.large",
        "os": "linux",
        "petname": petname,
    })
    .to_string();
    http_request(
        "POST",
        stack.port("register"),
        "/v1/registrations",
        Some(("application/json", &body)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(service: &str, name: &str, kind: i64, id: &str, parent: &str) -> TraceSpan {
        TraceSpan {
            service: service.into(),
            scope: String::new(),
            name: name.into(),
            kind,
            trace_id: "5759e988bd862e3fe1be46a994272793".into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            start_unix_nano: 0,
            end_unix_nano: 0,
            attributes: Default::default(),
            status_code: 0,
            status_message: String::new(),
            events: Vec::new(),
        }
    }

    #[test]
    fn escapes_promql_for_a_query_string() {
        assert_eq!(
            percent_encoded(r#"sum by (service_name) (up{job="x"})"#),
            "sum%20by%20%28service_name%29%20%28up%7Bjob%3D%22x%22%7D%29"
        );
    }

    #[test]
    fn counts_the_rules_a_rules_file_declares() {
        let file = "groups:\n  - name: slo\n    rules:\n      - alert: WebsiteFastBurn\n        \
                    expr: x > 1\n        annotations:\n          summary: \"alert: fast\"\n      \
                    - record: job:x:rate5m\n        expr: rate(x[5m])\n      - expr: y\n        \
                    alert: Late\n";
        assert_eq!(rules_declared(file), 3);
        assert_eq!(rules_declared("groups: []\n"), 0);
    }

    #[test]
    fn an_admission_trace_is_whole_with_both_services_and_the_write() {
        let whole = vec![
            span("website", "POST /register", SERVER, "a1", ""),
            span("website", "POST register", CLIENT, "a2", "a1"),
            span("register", "POST /v1/registrations", SERVER, "b1", "a2"),
            span("register", "DynamoDB.PutItem", CLIENT, "b2", "b1"),
        ];
        assert!(admission_gaps(&whole).is_empty());
        assert_eq!(admission_gaps(&[]), ["not in Jaeger (yet)"]);
        assert_eq!(
            admission_gaps(&whole[..2]),
            [
                "no server span of register",
                "no DynamoDB.PutItem client span of register"
            ]
        );
        let mut unlinked = whole.clone();
        unlinked[2].parent_span_id = "zz".into();
        assert_eq!(
            admission_gaps(&unlinked),
            ["register's server span is no child of a website client span"]
        );
    }
}
