//! Whole traces on AWS, proven locally: the real services, each exporting to its own
//! sidecar collector (`infra/collector/sidecar.yaml`), the sidecars routing every span
//! by trace ID to one of two gateways (`infra/collector/gateway.yaml`), each gateway
//! tail-sampling and exporting to its own X-Ray stand-in (SigV4 checked). Real
//! collector binaries, the repository's configs but for their addresses
//! (`stack_tests::trace_tier`).
//!
//! Each scripted visit carries its trace ID (as the ALB's header would), chosen inside or
//! outside the sampled fraction, so what keeps a trace is known: a trace outside the
//! fraction is kept only for an error or for its whole duration. Then visitors walk the
//! site while faults come and go, and every trace that reached X-Ray is checked whole.
//!
//! Waits: the gateways decide 20 s after a trace's first span (as on AWS), so the test
//! takes about a minute and a half.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loadgen::traffic::{Plan, Report};
use loadgen::visitors::Visitors;
use stack_tests::Service;
use stack_tests::emf::wait_for_emf;
use stack_tests::metric_reads::{MetricRead, Writer, alarm_reads, dashboard_reads};
use stack_tests::otlp::ReceivedSpan;
use stack_tests::stack::{Stack, fault_switched};
use stack_tests::trace_tier::{
    LOG_GROUP, Sampling, TASK_ID, TraceTier, fraction_salt, in_fraction,
};
use store::ResidentReader;

const SAMPLING: Sampling = Sampling {
    percent: 10.0,
    slow_trace_ms: 4500,
};
const ERROR: i32 = 2;
const SERVER: i32 = 2;
/// A trace's decision (20 s), its batch (5 s), the sidecar's and the app's batches,
/// with room for a busy machine.
const SETTLE: Duration = Duration::from_secs(35);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_keep_every_sampled_trace_whole_and_judge_the_whole_trace() {
    let tier = TraceTier::start(2, SAMPLING).await;
    let stack = Stack::start_exporting_each(|service| {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", tier.otlp_endpoint(service)),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
            ("OTEL_BSP_SCHEDULE_DELAY", "500".into()),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=test".into(),
            ),
            // Every second rather than every minute: the services' metrics reach their
            // sidecars well before the first metrics batch leaves.
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000".into()),
        ]
    })
    .await;
    stack.admin(&["seed"]);
    let resident = any_resident(&stack).await;
    let mut ids = TraceIds::new();

    // Ordinary visits: one outside the fraction, one inside.
    let ordinary_out = ids.outside();
    assert_eq!(visit(&stack, "/residents", &ordinary_out).await, 200);
    let ordinary_in = ids.inside();
    assert_eq!(visit(&stack, "/residents", &ordinary_in).await, 200);

    // The failure is the API's: server-listing answers 500.
    switch(
        &stack,
        &stack.listing,
        &["on", "listing-errors", "--rate", "1"],
    )
    .await;
    let api_failure = ids.outside();
    assert_eq!(visit(&stack, "/residents", &api_failure).await, 503);
    switch(&stack, &stack.listing, &["off", "listing-errors"]).await;

    // The failure is the website's only: server-listing answers, 3.5 s late and well,
    // after the website gave up on it (its call timeout is 3 s).
    let slow = |latency: &'static str| ["on", "slow-listing", "--latency", latency, "--rate", "1"];
    switch(&stack, &stack.listing, &slow("3500ms")).await;
    let website_failure = ids.outside();
    assert_eq!(visit(&stack, "/residents", &website_failure).await, 503);
    switch(&stack, &stack.listing, &["off", "slow-listing"]).await;

    // Slow only as a whole: a resident's page asks server-listing twice, one after the
    // other (the resident, then its neighbours), each 2.5 s late: each piece is under
    // the 4.5 s threshold, the trace is over it. The listing asks twice at once: its
    // trace stays under it.
    switch(&stack, &stack.listing, &slow("2500ms")).await;
    let slow_whole = ids.outside();
    assert_eq!(
        visit(&stack, &format!("/residents/{resident}"), &slow_whole).await,
        200
    );
    let slow_pieces = ids.outside();
    assert_eq!(visit(&stack, "/residents", &slow_pieces).await, 200);
    switch(&stack, &stack.listing, &["off", "slow-listing"]).await;

    let load = visitor_load(&stack).await;
    let last_visit = Instant::now();

    wait_for(
        &tier,
        &[&ordinary_in, &api_failure, &website_failure, &slow_whole],
    )
    .await;
    tokio::time::sleep(SETTLE.saturating_sub(last_visit.elapsed())).await;
    let kept = Kept::from(&tier.exported());

    for dropped in [&ordinary_out, &slow_pieces] {
        assert!(
            !kept.contains(dropped),
            "trace {dropped} (ordinary, outside the fraction) was dropped by every gateway; \
             kept: {:#?}",
            kept.traces[dropped]
        );
    }
    let whole = |trace: &str, services: &[&str]| -> Vec<ReceivedSpan> {
        let spans = kept.whole(trace).unwrap_or_else(|why| panic!("{why}"));
        let seen: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(
            seen,
            services.iter().copied().collect(),
            "trace {trace}: the services' spans"
        );
        spans
    };
    whole(&ordinary_in, &["website", "server-listing"]);

    let spans = whole(&api_failure, &["website", "server-listing"]);
    assert!(
        spans
            .iter()
            .any(|s| s.service == "server-listing" && s.kind == SERVER && s.status_code == ERROR),
        "server-listing's 500: {spans:#?}"
    );

    let spans = whole(&website_failure, &["website", "server-listing"]);
    let listing_failed: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.service == "server-listing" && s.status_code == ERROR)
        .collect();
    assert!(
        listing_failed.is_empty(),
        "only the website failed: {listing_failed:#?}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.service == "website" && s.status_code == ERROR),
        "the website's timeout: {spans:#?}"
    );

    let spans = whole(&slow_whole, &["website", "server-listing"]);
    let threshold = Duration::from_millis(SAMPLING.slow_trace_ms);
    assert!(
        spans.iter().all(|s| s.status_code != ERROR),
        "kept for its duration, not for an error: {spans:#?}"
    );
    let listing_calls: Vec<Duration> = spans
        .iter()
        .filter(|s| s.service == "server-listing" && s.kind == SERVER)
        .map(ReceivedSpan::duration)
        .collect();
    assert_eq!(listing_calls.len(), 2, "{spans:#?}");
    assert!(
        listing_calls.iter().all(|d| *d < threshold),
        "each piece is under the threshold: {listing_calls:?}"
    );
    assert!(trace_duration(&spans) >= threshold, "{spans:#?}");

    // Under load: every trace that reached X-Ray is whole, on one gateway.
    let incomplete: Vec<String> = kept
        .traces
        .keys()
        .filter_map(|trace| kept.whole(trace).err())
        .collect();
    let failed_pages: u64 = load
        .labels
        .values()
        .flat_map(|stats| stats.statuses.iter())
        .filter(|(status, _)| **status >= 500)
        .map(|(_, count)| count)
        .sum();
    let with_errors = kept
        .traces
        .values()
        .filter(|spans| spans.iter().any(|(_, s)| s.status_code == ERROR))
        .count();
    println!(
        "kept N = {} traces ({with_errors} with an error; {failed_pages} pages answered 5xx \
         under load), incomplete: {}; per gateway: {:?}",
        kept.traces.len(),
        incomplete.len(),
        kept.per_gateway()
    );
    assert!(incomplete.is_empty(), "{}", incomplete.join("\n"));
    assert!(
        failed_pages > 0,
        "the faults made pages fail:\n{}",
        load.summary()
    );
    assert!(
        with_errors as u64 >= failed_pages,
        "every failed page's trace is kept ({with_errors} < {failed_pages})"
    );
    assert!(
        kept.per_gateway().iter().all(|n| *n > 0),
        "both gateways kept traces: {:?}",
        kept.per_gateway()
    );
    assert!(tier.refusals().is_empty(), "{:?}", tier.refusals());

    // What the alarms and the dashboard read reached CloudWatch: the services' metrics
    // from their sidecars, the gateways' health from the gateways.
    let reads: Vec<MetricRead> = alarm_reads().into_iter().chain(dashboard_reads()).collect();
    let (gateway_reads, service_reads): (Vec<MetricRead>, Vec<MetricRead>) =
        reads.into_iter().partition(|r| r.writer == Writer::Gateway);
    let (on_failure, always): (Vec<MetricRead>, Vec<MetricRead>) = gateway_reads
        .into_iter()
        .partition(|r| ONLY_ON_FAILURE.contains(&r.metric.as_str()));
    assert!(
        !always.is_empty(),
        "the gateway's alarms and widgets read its metrics"
    );
    let expected: Vec<MetricRead> = service_reads.into_iter().chain(always).collect();
    let events = wait_for_emf(&tier.moto, LOG_GROUP, TASK_ID, &expected, || tier.logs()).await;
    let sent_by: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["service.name"].as_str())
        .collect();
    assert_eq!(
        sent_by,
        BTreeSet::from(["register", "server-listing", "trace-gateway", "website"]),
        "every service's metrics and the gateways' own"
    );
    for event in &events {
        assert_eq!(event["deployment.environment.name"], "test", "{event}");
    }
    // A failure counter is first written when it first counts; its name must still be
    // one the collector has.
    let binary = std::fs::read(stack_tests::otelcol::binary()).expect("the collector binary");
    for read in &on_failure {
        assert!(
            binary
                .windows(read.metric.len())
                .any(|w| w == read.metric.as_bytes()),
            "{}: the collector has no metric {}",
            read.reader,
            read.metric
        );
    }

    let complaints = tier.complaints();
    assert!(
        complaints.is_empty(),
        "the collectors logged no error and no deprecated name: {complaints:#?}"
    );
}

/// The gateway's metrics that count only failures: not written before the first one.
const ONLY_ON_FAILURE: [&str; 4] = [
    "otelcol_exporter_send_failed_spans",
    "otelcol_exporter_enqueue_failed_spans",
    "otelcol_processor_refused_spans",
    "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
];

/// Trace IDs in the ALB's form, chosen by whether the gateways' `fraction` keeps them.
struct TraceIds {
    salt: String,
    epoch: u64,
    rng: fastrand::Rng,
}

impl TraceIds {
    fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970");
        Self {
            salt: fraction_salt(),
            epoch: now.as_secs(),
            rng: fastrand::Rng::with_seed(now.as_nanos() as u64),
        }
    }

    fn inside(&mut self) -> String {
        self.next(true)
    }

    fn outside(&mut self) -> String {
        self.next(false)
    }

    /// `1-xxxxxxxx-yyyy…` (24 hex digits after the time).
    fn next(&mut self, inside: bool) -> String {
        loop {
            let random = format!("{:08x}{:016x}", self.rng.u32(..), self.rng.u64(..));
            let otlp = format!("{:08x}{random}", self.epoch);
            if in_fraction(&otlp, &self.salt, SAMPLING.percent) == inside {
                return otlp;
            }
        }
    }
}

/// GETs `path` as a visitor the ALB gave `trace` (32 hex digits); the status.
async fn visit(stack: &Stack, path: &str, trace: &str) -> u16 {
    stack
        .client
        .get(stack.website.url(path))
        .header(
            "x-amzn-trace-id",
            format!("Root=1-{}-{}", &trace[..8], &trace[8..]),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .status()
        .as_u16()
}

/// `cuddlekube-admin faults ARGS`, waiting until `service` logged the switch.
async fn switch(stack: &Stack, service: &Service, args: &[&str]) {
    let (on, name) = (args[0] == "on", args[1]);
    let count = || {
        service
            .log()
            .iter()
            .filter(|line| fault_switched(line, name, on))
            .count()
    };
    let before = count();
    let mut command = vec!["faults"];
    command.extend(args);
    stack.admin(&command);
    let done = stack_tests::poll_until(Duration::from_secs(20), Duration::from_millis(100), || {
        (count() > before).then_some(())
    });
    assert!(
        done.await.is_some(),
        "{} never switched {args:?}",
        service.name
    );
}

async fn any_resident(stack: &Stack) -> String {
    let page = stack
        .store
        .list(&store::ListQuery::default())
        .await
        .expect("the seeded residents");
    page.residents.first().expect("a resident").ckid.to_string()
}

/// Two visitors walking the site for 20 s while listing errors, then DynamoDB throttling,
/// come and go.
async fn visitor_load(stack: &Stack) -> Report {
    let visitors = Visitors::new(&stack.website.url("")).expect("visitors");
    let plan = Plan {
        workers: 2,
        duration: Duration::from_secs(20),
        rate: None,
    };
    let walks = visitors.walk_by(plan, None);
    let faults = async {
        for args in [
            &["on", "listing-errors", "--rate", "0.5"][..],
            &["off", "listing-errors"],
            &["on", "dynamodb-throttling", "--rate", "0.7"],
            &["off", "dynamodb-throttling"],
        ] {
            tokio::time::sleep(Duration::from_secs(4)).await;
            switch(stack, &stack.listing, args).await;
        }
    };
    let (report, ()) = tokio::join!(walks, faults);
    report
}

/// Waits (at most 90 s) until every one of `traces` reached some gateway's X-Ray.
async fn wait_for(tier: &TraceTier, traces: &[&str]) {
    let found =
        stack_tests::poll_until(Duration::from_secs(90), Duration::from_millis(500), || {
            let kept = Kept::from(&tier.exported());
            traces.iter().all(|t| kept.contains(t)).then_some(())
        });
    found.await.unwrap_or_else(|| {
        panic!(
            "not every expected trace was kept: {traces:?}; kept {:?}; refused {:?}",
            Kept::from(&tier.exported())
                .traces
                .keys()
                .collect::<Vec<_>>(),
            tier.refusals()
        )
    })
}

/// What reached X-Ray: each trace's spans with the gateway that exported each.
#[derive(Debug, Default)]
struct Kept {
    traces: BTreeMap<String, Vec<(usize, ReceivedSpan)>>,
    gateways: usize,
}

impl Kept {
    fn from(exported: &[Vec<ReceivedSpan>]) -> Self {
        let mut traces: BTreeMap<String, Vec<(usize, ReceivedSpan)>> = BTreeMap::new();
        for (gateway, spans) in exported.iter().enumerate() {
            for span in spans {
                traces
                    .entry(span.trace_id.clone())
                    .or_default()
                    .push((gateway, span.clone()));
            }
        }
        Self {
            traces,
            gateways: exported.len(),
        }
    }

    fn contains(&self, trace: &str) -> bool {
        self.traces.contains_key(trace)
    }

    /// How many traces each gateway exported.
    fn per_gateway(&self) -> Vec<usize> {
        (0..self.gateways)
            .map(|g| {
                self.traces
                    .values()
                    .filter(|spans| spans.iter().any(|(by, _)| *by == g))
                    .count()
            })
            .collect()
    }

    /// The trace's spans if they are whole: all from one gateway, one root, every
    /// parent there, every server span of an API under a website call.
    fn whole(&self, trace: &str) -> Result<Vec<ReceivedSpan>, String> {
        let entries = self
            .traces
            .get(trace)
            .ok_or_else(|| format!("trace {trace} never reached X-Ray"))?;
        let by: BTreeSet<usize> = entries.iter().map(|(g, _)| *g).collect();
        let spans: Vec<ReceivedSpan> = entries.iter().map(|(_, s)| s.clone()).collect();
        let names = || {
            spans
                .iter()
                .map(|s| format!("{} {} (parent {:?})", s.service, s.name, s.parent_span_id))
                .collect::<Vec<_>>()
        };
        if by.len() != 1 {
            return Err(format!(
                "trace {trace} split over gateways {by:?}: {:#?}",
                names()
            ));
        }
        let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        let roots = spans.iter().filter(|s| s.parent_span_id.is_empty()).count();
        let orphans = spans
            .iter()
            .filter(|s| !s.parent_span_id.is_empty() && !ids.contains(s.parent_span_id.as_str()))
            .count();
        if roots != 1 || orphans > 0 {
            return Err(format!(
                "trace {trace} incomplete: {roots} roots, {orphans} spans without their parent: {:#?}",
                names()
            ));
        }
        Ok(spans)
    }
}

/// From the trace's first span's start to its last span's end.
fn trace_duration(spans: &[ReceivedSpan]) -> Duration {
    let start = spans
        .iter()
        .map(|s| s.raw.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|s| s.raw.end_time_unix_nano)
        .max()
        .unwrap_or(0);
    Duration::from_nanos(end.saturating_sub(start))
}
