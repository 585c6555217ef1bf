//! The game day, as a player meets it: `cuddlekube-admin gameday` as a process on a fresh
//! table's switchboard (DynamoDB Local), its visitors walking a stand-in site, its alerts
//! read from a stand-in Prometheus; `gameday answer` judging right and wrong answers; and
//! on AWS, the environment's alarms read from moto's CloudWatch.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use domain::Timestamp;
use faults::{Fault, Scenario, Service, Switchboard, SwitchedOn};
use serde_json::json;
use stack_tests::moto::Moto;
use stack_tests::{admin, binary, poll_until, serve_on_loopback};
use store::TableName;

/// `cuddlekube-admin gameday ARGS` running, its stdout read as it comes; killed when dropped.
struct Game {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Game {
    fn start(args: &[&str], env: &[(&str, String)]) -> Self {
        let mut child = Command::new(binary("cuddlekube-admin"))
            .arg("gameday")
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start cuddlekube-admin gameday");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = stdout.clone();
        let pipe = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().expect("lock").push(line);
            }
        });
        Self { child, stdout }
    }

    fn printed(&self) -> String {
        self.stdout.lock().expect("lock").join("\n")
    }

    /// Waits (at most 20 s) for the game to end by itself; its exit code.
    async fn ended(&mut self) -> Option<i32> {
        let status = poll_until(Duration::from_secs(20), Duration::from_millis(100), || {
            self.child.try_wait().expect("the game's status")
        })
        .await;
        let status = status.unwrap_or_else(|| panic!("the game went on:\n{}", self.printed()));
        // The last lines may still be on their way through the pipe.
        tokio::time::sleep(Duration::from_millis(200)).await;
        status.code()
    }
}

impl Drop for Game {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Panics unless `text` says every one of `expected`.
fn assert_says(text: &str, expected: &[&str]) {
    for expected in expected {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
}

/// The fault switched on now (waiting at most 10 s for one), by the switchboard itself.
async fn live_fault(switchboard: &Switchboard) -> Option<SwitchedOn> {
    for _ in 0..100 {
        let now = Timestamp::now();
        let on = switchboard.read().await.expect("read the switchboard");
        if let Some(live) = on.into_iter().find(|f| f.is_live(now)) {
            return Some(live);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn answer(args: [&str; 3], env: &[(&str, String)]) -> (Option<i32>, String) {
    let [service, operation, cause] = args;
    let Output { status, stdout, .. } = admin(
        &[
            "gameday",
            "answer",
            "--service",
            service,
            "--operation",
            operation,
            "--cause",
            cause,
        ],
        env,
    );
    (status.code(), String::from_utf8(stdout).expect("UTF-8"))
}

/// The answer a player who read the trace gives, written here from the runbook
/// (docs/debugging.md), apart from the game's own table.
fn right_answer(fault: &Fault) -> [&'static str; 3] {
    // Exhaustive: a new scenario fails to compile here until it has its answer.
    let operation = match fault.scenario() {
        Scenario::SlowListing | Scenario::ListingErrors => "GET /v1/servers",
        Scenario::MissingCaCertificates | Scenario::DynamodbThrottling => match fault.service() {
            Service::Register => "DynamoDB.PutItem",
            Service::ServerListing => "DynamoDB.Query",
        },
    };
    [fault.service().name(), operation, fault.scenario().name()]
}

/// A stand-in Prometheus: one alert firing, one pending (not yet an alert to show).
async fn prometheus() -> String {
    let alerts = json!({"status": "success", "data": {"alerts": [
        {"labels": {"alertname": "ServerListingAvailabilityFastBurn", "service": "server-listing",
                    "severity": "page"},
         "state": "firing", "activeAt": "2026-11-01T10:00:00Z", "value": "20"},
        {"labels": {"alertname": "WebsiteLatencyFastBurn", "service": "website"},
         "state": "pending", "activeAt": "2026-11-01T10:01:00Z", "value": "2"},
    ]}});
    let app = axum::Router::new().route(
        "/api/v1/alerts",
        axum::routing::get(move || async move { axum::Json(alerts) }),
    );
    format!("http://127.0.0.1:{}", serve_on_loopback(app).await.0)
}

/// A stand-in site that counts the requests the game's visitors make.
async fn site(visits: Arc<AtomicUsize>) -> String {
    let app = axum::Router::new().fallback(move || async move {
        visits.fetch_add(1, Ordering::Relaxed);
        "a page"
    });
    format!("http://127.0.0.1:{}", serve_on_loopback(app).await.0)
}

// Threads: the stand-ins answer while the test waits on `cuddlekube-admin` (blocking).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_game_hides_its_fault_and_the_answer_judges_it_and_ends_the_game() {
    let store = test_support::fresh_store().await;
    let switchboard = Switchboard::new(store.client().clone(), store.table().as_str());
    let prometheus = prometheus().await;
    let visits = Arc::new(AtomicUsize::new(0));
    let site = site(visits.clone()).await;
    let env = [
        ("RESIDENTS_TABLE", store.table().to_string()),
        ("PROMETHEUS_URL", prometheus.clone()),
    ];
    let play = format!("--seed 7 --for 5m --site {site} --visitors 2");
    let play: Vec<&str> = play.split_whitespace().collect();

    let mut game = Game::start(&play, &env);
    let on = live_fault(&switchboard)
        .await
        .expect("the game switched a fault on");
    assert_eq!(
        on.until.unix_seconds() - on.since.unix_seconds(),
        300,
        "the fault lasts the game's --for: {on:?}"
    );
    poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        (visits.load(Ordering::Relaxed) > 0).then_some(())
    })
    .await
    .expect("the game's visitors walk the site");
    let told = game.printed();
    assert_says(
        &told,
        &[
            "seed 7",
            "Something is wrong with Cuddle Kube since",
            &format!("{prometheus}/alerts"),
            "gameday answer --service SERVICE --operation OPERATION --cause CAUSE",
        ],
    );
    assert!(
        !told.contains(on.fault.scenario().name()),
        "the game gave its scenario away:\n{told}"
    );

    let (code, verdict) = answer(["website", "GET /", "gremlins"], &env);
    assert_eq!(code, Some(1), "{verdict}");
    let scenario = on.fault.scenario().name();
    assert_says(
        &verdict,
        &[
            "service    wrong",
            "operation  wrong",
            "cause      wrong",
            &format!("it was {}", on.fault),
            // The runbook's section, and the evidence: the alert firing, the way to the trace.
            &format!("### `{scenario}`\n- **Visitor**"),
            "ServerListingAvailabilityFastBurn",
            "cargo xtask trace REFERENCE",
            &format!("switched off: {scenario}"),
        ],
    );
    assert!(
        verdict
            .lines()
            .any(|l| l.contains("ServerListingAvailabilityFastBurn")
                && l.contains("service=server-listing")),
        "the alert's service: {verdict}"
    );
    assert!(
        !verdict.contains("WebsiteLatencyFastBurn"),
        "a pending alert is not:\n{verdict}"
    );
    assert_eq!(game.ended().await, Some(0), "{}", game.printed());
    assert_says(&game.printed(), &["The game is over"]);
    assert!(
        live_fault_now(&switchboard).await.is_none(),
        "the answer switched it off"
    );

    // The same seed, the same game; and this time the right answer.
    let mut again = Game::start(&play, &env);
    let replayed = live_fault(&switchboard)
        .await
        .expect("the game switched a fault on");
    assert_eq!(
        replayed.fault, on.fault,
        "the same seed picks the same fault"
    );
    let (code, verdict) = answer(right_answer(&on.fault), &env);
    assert_eq!(code, Some(0), "{verdict}");
    assert_says(
        &verdict,
        &["service    right", "operation  right", "cause      right"],
    );
    assert_eq!(again.ended().await, Some(0), "{}", again.printed());

    let (code, said) = answer(["register", "PutItem", "tls"], &env);
    assert_eq!(code, Some(1), "no game is on: {said}");
}

async fn live_fault_now(switchboard: &Switchboard) -> Option<SwitchedOn> {
    let now = Timestamp::now();
    let on = switchboard.read().await.expect("read the switchboard");
    on.into_iter().find(|f| f.is_live(now))
}

#[tokio::test]
async fn on_aws_the_evidence_is_the_environments_cloudwatch_alarms_in_alarm() {
    let moto = Moto::start("us-east-1").await;
    let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(moto.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "test"))
            .build(),
    );
    let long = "cuddlekube-test-slo-register-availability-fast-long";
    let alarms = [
        (long, StateValue::Alarm),
        ("cuddlekube-test-website-5xx-rate", StateValue::Ok),
        (
            "cuddlekube-test-dynamodb-unreachable",
            StateValue::InsufficientData,
        ),
        // Another environment's alarm: not this game's evidence.
        (
            "cuddlekube-other-slo-register-availability-fast-long",
            StateValue::Alarm,
        ),
    ];
    for (name, state) in &alarms {
        cloudwatch
            .put_metric_alarm()
            .alarm_name(*name)
            .namespace("CuddleKube")
            .metric_name("http.server.errors")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutMetricAlarm {name}: {e:?}"));
        set_state(&cloudwatch, name, state.clone()).await;
    }
    // moto has no PutCompositeAlarm: the composite alarms (the SLO fast and slow burns)
    // are read by the same call, but not tested here.
    let store = test_support::fresh_store().await;
    let table: &TableName = store.table();
    let env = [
        ("RESIDENTS_TABLE", table.to_string()),
        ("ENVIRONMENT_NAME", "test".to_owned()),
        ("AWS_ENDPOINT_URL_CLOUDWATCH", moto.endpoint()),
        // Empty: not a local stack's Prometheus, whatever the shell has.
        ("PROMETHEUS_URL", String::new()),
    ];
    let on = admin(&["faults", "on", "listing-errors", "--for", "5m"], &env);
    assert!(on.status.success(), "{on:?}");

    let (code, verdict) = answer(["server-listing", "GET /v1/servers", "errors"], &env);

    assert_eq!(code, Some(0), "{verdict}");
    let evidence: Vec<&str> = verdict
        .split("How the evidence could have been found:")
        .nth(1)
        .unwrap_or_else(|| panic!("no evidence in:\n{verdict}"))
        .lines()
        .filter(|line| line.starts_with("    "))
        .collect();
    let named: Vec<&str> = evidence
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(named, [long], "{verdict}");
    assert!(
        evidence.iter().all(|l| l.contains("service=register")),
        "{verdict}"
    );
    assert!(
        verdict
            .contains("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1")
            && verdict.contains("cuddlekube-test-…"),
        "{verdict}"
    );
    assert!(verdict.contains("Transaction Search"), "{verdict}");
}

async fn set_state(cloudwatch: &aws_sdk_cloudwatch::Client, name: &str, state: StateValue) {
    cloudwatch
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason("set by the game day test")
        .send()
        .await
        .unwrap_or_else(|e| panic!("SetAlarmState {name}: {e:?}"));
}
