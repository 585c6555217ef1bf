//! `cargo xtask status [--watch]`: the running dev stack at a glance, from its Prometheus —
//! per service and route: requests/s, the share answered 5xx, p50 and p99; per service and
//! DynamoDB operation: calls/s, failed calls, failed attempts by error type; and which
//! alerts fire. Prometheus' own UI (`/graph`, `/alerts`) shows the same series.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use telemetry_backends::alert_rules::increase;
use telemetry_backends::{MetricsQuery, Sample};

use crate::dev;

/// Where the dev stack's Prometheus is, and its alerts page (in `target/dev/env`).
pub const PROMETHEUS_VAR: &str = "PROMETHEUS_URL";
pub const ALERTS_PAGE_VAR: &str = "PROMETHEUS_ALERTS_PAGE";
/// The window every rate is taken over. A counter's rate is its [`increase`] over it,
/// so a series born in the window (a route's first 5xx) counts from zero.
const WINDOW: &str = "1m";
const WINDOW_SECONDS: u32 = 60;

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let watch = match args.as_slice() {
        [] => false,
        [flag] if flag == "--watch" => true,
        _ => anyhow::bail!("usage: cargo xtask status [--watch]"),
    };
    let url = dev::running_env(PROMETHEUS_VAR)?
        .context("the dev stack runs without Prometheus (`apt-get install prometheus`, then restart `cargo xtask dev`)")?;
    let prometheus = MetricsQuery::new(&url);
    let alerts_page = dev::running_env(ALERTS_PAGE_VAR)?.unwrap_or_else(|| format!("{url}/alerts"));
    loop {
        let view = render(&prometheus, &url, &alerts_page).map_err(anyhow::Error::msg)?;
        if watch {
            // Clear the screen and draw again, like `watch`.
            print!("\x1b[2J\x1b[H{view}");
            std::thread::sleep(Duration::from_secs(2));
        } else {
            print!("{view}");
            return Ok(());
        }
    }
}

/// The whole view as text.
fn render(prometheus: &MetricsQuery, url: &str, alerts_page: &str) -> Result<String, String> {
    let by_route = "service_name, http_request_method, http_route";
    let requests = prometheus.query(&format!(
        "sum by ({by_route}) ({}) / {WINDOW_SECONDS}",
        increase("http_server_requests_total", WINDOW)
    ))?;
    let errors = keyed(
        prometheus.query(&format!(
            "sum by ({by_route}) ({}) / {WINDOW_SECONDS}",
            increase("http_server_errors_total", WINDOW)
        ))?,
        &["service_name", "http_request_method", "http_route"],
    );
    let quantile = |q: f64| {
        prometheus
            .query(&format!(
                "histogram_quantile({q}, sum by ({by_route}) (rate(http_server_request_duration_seconds[{WINDOW}])))"
            ))
            .map(|samples| keyed(samples, &["service_name", "http_request_method", "http_route"]))
    };
    let (p50, p99) = (quantile(0.5)?, quantile(0.99)?);

    let mut out = format!("Cuddle Kube, last {WINDOW} (Prometheus {url})\n\n");
    out += &format!(
        "{:<15} {:<32} {:>8} {:>7} {:>9} {:>9}\n",
        "service", "route", "req/s", "5xx", "p50", "p99"
    );
    let mut rows: Vec<&Sample> = requests.iter().collect();
    rows.sort_by_key(|s| key(s, &["service_name", "http_route", "http_request_method"]));
    for sample in &rows {
        let k = key(
            sample,
            &["service_name", "http_request_method", "http_route"],
        );
        let error_share = errors.get(&k).copied().unwrap_or(0.0) / sample.value.max(f64::EPSILON);
        out += &format!(
            "{:<15} {:<32} {:>8.2} {:>6.1}% {:>9} {:>9}\n",
            sample.label("service_name"),
            format!(
                "{} {}",
                sample.label("http_request_method"),
                sample.label("http_route")
            ),
            sample.value,
            100.0 * error_share,
            millis(p50.get(&k)),
            millis(p99.get(&k)),
        );
    }
    if rows.is_empty() {
        out += "(no requests in the window: run `cargo xtask load`)\n";
    }

    let by_call = ["service_name", "rpc_method"];
    let calls = prometheus.query(&format!(
        "histogram_count(sum by (service_name, rpc_method) (rate(dynamodb_client_operation_duration_seconds[{WINDOW}])))"
    ))?;
    let failed = keyed(
        prometheus.query(&format!(
            "histogram_count(sum by (service_name, rpc_method) (rate(dynamodb_client_operation_duration_seconds{{outcome=\"error\"}}[{WINDOW}])))"
        ))?,
        &by_call,
    );
    let mut attempt_errors: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for sample in prometheus.query(&format!(
        "sum by (service_name, rpc_method, error_type) ({}) / {WINDOW_SECONDS} > 0",
        increase("dynamodb_client_attempt_errors_total", WINDOW)
    ))? {
        attempt_errors
            .entry(key(&sample, &by_call))
            .or_default()
            .push(format!(
                "{} {:.2}/s",
                sample.label("error_type"),
                sample.value
            ));
    }
    out += &format!(
        "\n{:<15} {:<32} {:>8} {:>8}  {}\n",
        "service", "DynamoDB operation", "calls/s", "failed/s", "failed attempts"
    );
    let calls = keyed(calls, &by_call);
    // A call that failed at its first try has an attempt error before it has a rate.
    let operations: std::collections::BTreeSet<&Vec<String>> =
        calls.keys().chain(attempt_errors.keys()).collect();
    for k in operations {
        out += &format!(
            "{:<15} {:<32} {:>8.2} {:>8.2}  {}\n",
            k[0],
            k[1],
            calls.get(k).copied().unwrap_or(0.0),
            failed.get(k).copied().unwrap_or(0.0),
            attempt_errors
                .get(k)
                .map_or("-".to_owned(), |e| e.join(", ")),
        );
    }

    let alerts = prometheus.alerts()?;
    out += &format!("\nalerts ({alerts_page})\n");
    if alerts.is_empty() {
        out += "  none pending or firing\n";
    }
    for alert in alerts {
        // RFC 3339 to the second: the nanoseconds Prometheus gives say nothing here.
        let since = alert.active_at.get(..19).unwrap_or(&alert.active_at);
        out += &format!(
            "  {:<8} {:<34} service={:<15} severity={:<7} since {since}Z  (AWS: {})\n",
            alert.state.to_uppercase(),
            alert.name,
            alert.label("service"),
            alert.label("severity"),
            alert.label("aws_alarm"),
        );
    }
    Ok(out)
}

fn key(sample: &Sample, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| sample.label(n).to_owned()).collect()
}

fn keyed(samples: Vec<Sample>, names: &[&str]) -> BTreeMap<Vec<String>, f64> {
    samples
        .into_iter()
        .map(|sample| (key(&sample, names), sample.value))
        .collect()
}

fn millis(seconds: Option<&f64>) -> String {
    seconds.map_or("-".to_owned(), |s| format!("{:.1} ms", s * 1000.0))
}
