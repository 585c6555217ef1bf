//! The visitor load against the real stack: every step of the walk is taken and
//! answered as a visitor expects (no 5xx, nothing unanswered), and the walks change what
//! they should (residents fed, servers admitted; the badly filled forms refused).

use std::time::Duration;

use loadgen::traffic::Plan;
use loadgen::visitors::Visitors;
use stack_tests::otlp::OtlpReceiver;
use stack_tests::stack::Stack;
use store::ResidentReader;

#[tokio::test]
async fn visitors_walk_every_page_and_their_feedings_and_admissions_land() {
    let receiver = OtlpReceiver::start().await;
    let stack = Stack::start(&receiver).await;
    stack.admin(&["seed"]);
    let visitors = Visitors::new(&stack.website.url("")).unwrap();
    let plan = Plan {
        workers: 2,
        duration: Duration::from_secs(4),
        rate: None,
    };

    let report = visitors.walk_by(plan, None).await;

    for label in [
        "GET /",
        "GET /residents",
        "GET /residents/{ckid}",
        "POST /residents/{ckid}/feed",
        "GET /register",
        "POST /register (valid)",
        "POST /register (invalid)",
    ] {
        let stats = report
            .labels
            .get(label)
            .unwrap_or_else(|| panic!("the walk never took {label}:\n{}", report.summary()));
        assert_eq!(
            stats.failures,
            0,
            "{label} went unanswered:\n{}",
            report.summary()
        );
        assert!(
            stats.statuses.keys().all(|status| *status < 500),
            "{label}:\n{}",
            report.summary()
        );
    }
    let statuses = |label: &str| {
        report.labels[label]
            .statuses
            .keys()
            .copied()
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses("POST /residents/{ckid}/feed"), [303]);
    assert_eq!(statuses("POST /register (valid)"), [303]);
    assert_eq!(statuses("POST /register (invalid)"), [422]);

    let everyone = store::ListQuery {
        limit: domain::PageSize::parse(100).unwrap(),
        ..Default::default()
    };
    let residents = stack.store.list(&everyone).await.unwrap().residents;
    assert!(residents.len() < 100, "more residents than one page holds");
    let fed: u64 = residents.iter().map(|r| r.feed_count).sum();
    assert_eq!(
        fed,
        report.labels["POST /residents/{ckid}/feed"].count(),
        "one feeding per POST"
    );
    let admitted = residents
        .iter()
        .filter(|r| r.name.starts_with("visitor "))
        .count() as u64;
    assert_eq!(admitted, report.labels["POST /register (valid)"].count());
}
