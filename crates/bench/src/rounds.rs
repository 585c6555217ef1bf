//! Side-by-side measurement: the variants of a comparison run in interleaved rounds
//! (A B A B …) on the same machine, so drift in what else the machine is doing touches
//! them alike; each variant's figures are the medians over its rounds, with their range.

use std::sync::Arc;
use std::time::Duration;

use loadgen::traffic::{self, Plan};
use serde::Serialize;

use bench::targets::Target;

/// How much measuring each comparison gets.
#[derive(Debug, Clone, Copy)]
pub struct Rounds {
    pub count: usize,
    pub length: Duration,
    /// Unmeasured traffic before a variant's first round (connections, caches, JIT).
    pub warmup: Duration,
}

/// One variant's figures over its rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub label: String,
    pub workers: usize,
    pub rps: Spread,
    pub p50_ms: Spread,
    pub p99_ms: Spread,
    /// Answers other than 2xx/3xx, and requests with no answer, over all rounds.
    pub errors: u64,
}

/// A median and the range it came from.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let median = match values.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => values[n / 2],
            n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        };
        Self {
            median,
            min: values.first().copied().unwrap_or(f64::NAN),
            max: values.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// Runs every target in `variants` with `workers` workers, interleaved round by round.
pub async fn measure(
    client: &reqwest::Client,
    variants: &[Target],
    workers: usize,
    rounds: Rounds,
) -> Vec<Measured> {
    for target in variants {
        run(client, target, workers, rounds.warmup).await;
    }
    let mut per_variant: Vec<Vec<(f64, f64, f64, u64)>> = vec![Vec::new(); variants.len()];
    for _ in 0..rounds.count {
        for (i, target) in variants.iter().enumerate() {
            per_variant[i].push(run(client, target, workers, rounds.length).await);
        }
    }
    variants
        .iter()
        .zip(per_variant)
        .map(|(target, results)| Measured {
            label: target.label().to_owned(),
            workers,
            rps: Spread::of(results.iter().map(|r| r.0).collect()),
            p50_ms: Spread::of(results.iter().map(|r| r.1).collect()),
            p99_ms: Spread::of(results.iter().map(|r| r.2).collect()),
            errors: results.iter().map(|r| r.3).sum(),
        })
        .collect()
}

/// One round: (requests/s, p50 ms, p99 ms, errors).
pub async fn run(
    client: &reqwest::Client,
    target: &Target,
    workers: usize,
    length: Duration,
) -> (f64, f64, f64, u64) {
    let (client, target) = (client.clone(), Arc::new(target.clone()));
    let plan = Plan {
        workers,
        duration: length,
        rate: None,
    };
    let label = target.label();
    let report = traffic::run(
        plan,
        move |worker, step| {
            let (client, target) = (client.clone(), target.clone());
            async move { vec![target.send(&client, worker, step).await] }
        },
        None,
    )
    .await;
    let Some(stats) = report.labels.get(label) else {
        return (0.0, f64::NAN, f64::NAN, 0);
    };
    let errors = stats.failures
        + stats
            .statuses
            .iter()
            .filter(|(status, _)| !(200..400).contains(*status))
            .map(|(_, n)| n)
            .sum::<u64>();
    (
        report.rate(label),
        stats.quantile_ms(0.5),
        stats.quantile_ms(0.99),
        errors,
    )
}

/// `a` over `b` of a figure, as the report prints it.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { f64::NAN } else { a / b }
}
