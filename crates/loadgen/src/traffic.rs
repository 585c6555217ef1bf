//! The traffic engine shared by the visitor load (`cuddlekube-loadgen`, `cargo xtask
//! load`) and the benchmark (`cargo xtask bench`): a fixed number of concurrent workers,
//! each running a step again and again until the time is up (as fast as it can, or at a
//! share of a target rate), every request's latency recorded per label in an
//! HdrHistogram.
//!
//! Written on tokio + reqwest rather than taken from goose: the bench needs dozens of
//! short interleaved rounds in one process, and goose's attack is configured through
//! process-wide state and spends about a second starting and stopping each run; its
//! default TLS also pulls in OpenSSL, which a fresh machine may lack.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// How much traffic, for how long.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Workers running at once (each has at most one request in flight).
    pub workers: usize,
    pub duration: Duration,
    /// Steps per second across all workers; `None` for as fast as they go.
    pub rate: Option<f64>,
}

/// What one request came to.
#[derive(Debug, Clone)]
pub struct Sample {
    /// What the request was (`GET /residents`, `feed`, ...): results are kept per label.
    pub label: &'static str,
    /// The HTTP status, or `None` when no answer came (connection error, timeout).
    pub status: Option<u16>,
    pub latency: Duration,
}

/// The results of one run, per label.
#[derive(Debug, Clone)]
pub struct Report {
    pub elapsed: Duration,
    pub labels: BTreeMap<&'static str, LabelStats>,
}

#[derive(Debug, Clone)]
pub struct LabelStats {
    /// Latencies in microseconds.
    pub latency: Histogram<u64>,
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer.
    pub failures: u64,
}

impl LabelStats {
    fn new() -> Self {
        Self {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            statuses: BTreeMap::new(),
            failures: 0,
        }
    }

    pub fn count(&self) -> u64 {
        self.latency.len()
    }

    /// A latency quantile (0.5 for the median), in milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }
}

impl Report {
    /// Requests per second of `label` over the run.
    pub fn rate(&self, label: &str) -> f64 {
        let count = self.labels.get(label).map_or(0, LabelStats::count);
        count as f64 / self.elapsed.as_secs_f64()
    }

    pub fn total(&self) -> u64 {
        self.labels.values().map(LabelStats::count).sum()
    }

    /// A table: per label, requests, their statuses, p50 and p99.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{:<28} {:>8} {:>9} {:>9}  statuses\n",
            "request", "count", "p50 ms", "p99 ms"
        );
        for (label, stats) in &self.labels {
            let statuses: Vec<String> = stats
                .statuses
                .iter()
                .map(|(status, n)| format!("{status}×{n}"))
                .chain((stats.failures > 0).then(|| format!("no answer×{}", stats.failures)))
                .collect();
            text.push_str(&format!(
                "{label:<28} {:>8} {:>9.2} {:>9.2}  {}\n",
                stats.count(),
                stats.quantile_ms(0.5),
                stats.quantile_ms(0.99),
                statuses.join(" ")
            ));
        }
        text
    }
}

/// Runs `step` (given the worker's number and its step count) in `plan.workers`
/// workers until `plan.duration` is over; `progress`, if given, is called about every
/// second with what has happened so far.
pub async fn run<S, F>(plan: Plan, step: S, progress: Option<&(dyn Fn(&Report) + Sync)>) -> Report
where
    S: Fn(usize, u64) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<Sample>> + Send,
{
    let step = Arc::new(step);
    let results = Arc::new(Mutex::new(BTreeMap::<&'static str, LabelStats>::new()));
    let started = Instant::now();
    let deadline = started + plan.duration;
    // At a target rate each worker takes its share: one step per `pace`.
    let pace = plan
        .rate
        .filter(|r| *r > 0.0)
        .map(|rate| Duration::from_secs_f64(plan.workers as f64 / rate));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..plan.workers {
        let (step, results) = (step.clone(), results.clone());
        workers.spawn(async move {
            // Spread the workers' first steps over one pace so they do not march in step.
            if let Some(pace) = pace {
                tokio::time::sleep(pace.mul_f64(worker as f64 / plan.workers as f64)).await;
            }
            let mut count = 0;
            while Instant::now() < deadline {
                let began = Instant::now();
                let samples = step(worker, count).await;
                record(&results, samples);
                count += 1;
                if let Some(pace) = pace {
                    tokio::time::sleep_until((began + pace).into()).await;
                }
            }
        });
    }
    let snapshot = |results: &Mutex<BTreeMap<&'static str, LabelStats>>| Report {
        elapsed: started.elapsed(),
        labels: results.lock().expect("lock").clone(),
    };
    loop {
        tokio::select! {
            done = workers.join_next() => if done.is_none() { break },
            () = tokio::time::sleep(Duration::from_secs(1)), if progress.is_some() => {
                if let Some(progress) = progress {
                    progress(&snapshot(&results));
                }
            }
        }
    }
    let mut report = snapshot(&results);
    // A step that started before the deadline may end after it; count the time it took.
    report.elapsed = report.elapsed.max(plan.duration);
    report
}

fn record(results: &Mutex<BTreeMap<&'static str, LabelStats>>, samples: Vec<Sample>) {
    let mut results = results.lock().expect("lock");
    for sample in samples {
        let stats = results.entry(sample.label).or_insert_with(LabelStats::new);
        let micros = u64::try_from(sample.latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let _ = stats.latency.record(micros.min(60_000_000));
        match sample.status {
            Some(status) => *stats.statuses.entry(status).or_default() += 1,
            None => stats.failures += 1,
        }
    }
}

/// Times one request: its status (or `None` when it got no answer) and latency.
pub async fn timed<T>(
    label: &'static str,
    request: impl Future<Output = Result<T, reqwest::Error>>,
    status: impl Fn(&T) -> u16,
) -> (Sample, Option<T>) {
    let began = Instant::now();
    let result = request.await;
    let latency = began.elapsed();
    match result {
        Ok(answer) => (
            Sample {
                label,
                status: Some(status(&answer)),
                latency,
            },
            Some(answer),
        ),
        Err(_) => (
            Sample {
                label,
                status: None,
                latency,
            },
            None,
        ),
    }
}
