//! `cuddlekube-loadgen`: visitors walking a Cuddle Kube site, for a while, then a
//! summary. Bounded by design: at most an hour, at most 200 walks a second.

use std::process::ExitCode;
use std::time::Duration;

use loadgen::traffic::{self, Plan, Report};
use loadgen::visitors::Visitors;

const USAGE: &str = "usage: cuddlekube-loadgen [--target URL] [--rate WALKS_PER_SECOND] [--duration DURATION] [--visitors N]

  --target     the site (default http://127.0.0.1:8080; LOADGEN_TARGET)
  --rate       visitor walks per second, all visitors together (default 2, at most 200)
  --duration   how long (default 1m, at most 1h), e.g. 30s, 10m
  --visitors   visitors walking at once (default 4, at most 64)

Each walk: home, residents, the next page, a resident, feed it; every fifth walk also
the admission form (every other time filled in badly).";

const MAX_RATE: f64 = 200.0;
const MAX_DURATION: Duration = Duration::from_secs(60 * 60);
const MAX_VISITORS: usize = 64;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (target, plan) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("cuddlekube-loadgen: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
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
    let report = traffic::run(
        plan,
        move |visitor, walk| {
            let visitors = visitors.clone();
            async move { visitors.walk(visitor, walk).await }
        },
        Some(&progress),
    )
    .await;
    println!("{}", report.summary());
    if report.total() == 0 {
        eprintln!("cuddlekube-loadgen: no request was answered");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn parse(args: &[String]) -> Result<(String, Plan), String> {
    let mut target =
        std::env::var("LOADGEN_TARGET").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let mut plan = Plan {
        workers: 4,
        duration: Duration::from_secs(60),
        rate: Some(2.0),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--target" => target = value()?,
            "--rate" => {
                let text = value()?;
                let rate: f64 = text
                    .parse()
                    .map_err(|_| format!("--rate {text:?} is not a number"))?;
                if !(rate > 0.0 && rate <= MAX_RATE) {
                    return Err(format!("--rate must be above 0 and at most {MAX_RATE}"));
                }
                plan.rate = Some(rate);
            }
            "--duration" => {
                let text = value()?;
                let duration = humantime::parse_duration(&text)
                    .map_err(|e| format!("--duration {text:?}: {e}"))?;
                if duration.is_zero() || duration > MAX_DURATION {
                    return Err("--duration must be more than 0 and at most 1h".into());
                }
                plan.duration = duration;
            }
            "--visitors" => {
                let text = value()?;
                let visitors: usize = text
                    .parse()
                    .map_err(|_| format!("--visitors {text:?} is not a whole number"))?;
                if !(1..=MAX_VISITORS).contains(&visitors) {
                    return Err(format!("--visitors must be 1 to {MAX_VISITORS}"));
                }
                plan.workers = visitors;
            }
            "-h" | "--help" => return Err("help".into()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if !(target.starts_with("http://") || target.starts_with("https://")) {
        return Err(format!("--target {target:?} is not an http(s) URL"));
    }
    Ok((target, plan))
}
