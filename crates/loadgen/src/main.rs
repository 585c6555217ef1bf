//! `cuddlekube-loadgen`: visitors walking a Cuddle Kube site, for a while, then a
//! summary. Bounded by design: at most an hour, at most 200 walks a second.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use loadgen::traffic::{Plan, Report};
use loadgen::visitors::Visitors;

/// Visitors walking a Cuddle Kube site for a while, then a summary per page. Each walk:
/// home, residents, the next page, a resident, feed it; every fifth walk also the
/// admission form (every other time filled in badly). Bounded: at most an hour, at most
/// 200 walks a second.
#[derive(Debug, Parser)]
#[command(name = "cuddlekube-loadgen")]
struct Options {
    /// The site.
    #[arg(long, env = "LOADGEN_TARGET", default_value = "http://127.0.0.1:8080", value_parser = http_url)]
    target: String,
    /// Visitor walks per second, all visitors together.
    #[arg(long, default_value_t = 2.0, value_parser = rate)]
    rate: f64,
    /// How long, e.g. 30s or 10m (at most 1h).
    #[arg(long, default_value = "1m", value_parser = duration)]
    duration: Duration,
    /// Visitors walking at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    visitors: u16,
}

fn http_url(text: &str) -> Result<String, String> {
    if text.starts_with("http://") || text.starts_with("https://") {
        Ok(text.trim_end_matches('/').to_owned())
    } else {
        Err("expected an http:// or https:// URL".into())
    }
}

fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= 200.0 => Ok(rate),
        _ => Err("expected a number above 0 and at most 200".into()),
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() && d <= Duration::from_secs(60 * 60) => Ok(d),
        Ok(_) => Err("expected more than 0 and at most 1h".into()),
        Err(err) => Err(err.to_string()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let target = options.target;
    let plan = Plan {
        workers: usize::from(options.visitors),
        duration: options.duration,
        rate: Some(options.rate),
    };
    let visitors = match Visitors::new(&target) {
        Ok(visitors) => visitors,
        Err(err) => {
            eprintln!("cuddlekube-loadgen: {err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "cuddlekube-loadgen: {} visitor(s) walking {target} at {} walk(s)/s for {}",
        plan.workers,
        plan.rate.unwrap_or_default(),
        humantime::format_duration(plan.duration)
    );
    let progress = |report: &Report| {
        let failures: u64 = report.labels.values().map(|s| s.failures).sum();
        let errors: u64 = report
            .labels
            .values()
            .flat_map(|s| s.statuses.iter())
            .filter(|(status, _)| **status >= 500)
            .map(|(_, n)| n)
            .sum();
        eprintln!(
            "{:>5.0} s  {} requests  {:.1}/s  5xx {errors}  no answer {failures}",
            report.elapsed.as_secs_f64(),
            report.total(),
            report.total() as f64 / report.elapsed.as_secs_f64().max(0.001)
        );
    };
    let report = visitors.walk_by(plan, Some(&progress)).await;
    println!("{}", report.summary());
    if report.total() == 0 {
        eprintln!("cuddlekube-loadgen: no request was answered");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
