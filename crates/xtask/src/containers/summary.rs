//! The run's record: each check's outcome and time, printed as the closing summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

pub(super) struct Summary {
    steps: Vec<(String, Outcome, Duration)>,
    /// Set by Ctrl-C: what has not run yet is skipped, what was running counts as failed.
    stop: Arc<AtomicBool>,
}

impl Summary {
    pub(super) fn new(stop: Arc<AtomicBool>) -> Self {
        Self {
            steps: Vec::new(),
            stop,
        }
    }

    /// Runs one check, prints and records its outcome; true when it passed.
    pub(super) fn run(&mut self, name: &str, check: impl FnOnce() -> anyhow::Result<()>) -> bool {
        self.value(name, check).is_some()
    }

    /// Like `run`, for a step whose result later steps use.
    pub(super) fn value<T>(
        &mut self,
        name: &str,
        step: impl FnOnce() -> anyhow::Result<T>,
    ) -> Option<T> {
        if self.stop.load(Ordering::SeqCst) {
            self.skip(name, "interrupted");
            return None;
        }
        println!("\n=== {name}");
        let started = Instant::now();
        let result = step();
        // A step that Ctrl-C cut short failed because of it, whatever it reports.
        let result = match result {
            _ if !self.stop.load(Ordering::SeqCst) => result,
            Ok(_) => Err(anyhow::anyhow!("interrupted")),
            Err(err) if err.to_string() == "interrupted" => Err(err),
            Err(err) => Err(err.context("interrupted")),
        };
        let elapsed = started.elapsed();
        match result {
            Ok(value) => {
                println!("--- PASS {name}");
                self.steps.push((name.into(), Outcome::Pass, elapsed));
                Some(value)
            }
            Err(err) => {
                println!("--- FAIL {name}: {err:#}");
                self.steps
                    .push((name.into(), Outcome::Fail(format!("{err:#}")), elapsed));
                None
            }
        }
    }

    pub(super) fn skip(&mut self, name: &str, reason: &str) {
        println!("--- SKIP {name}: {reason}");
        self.steps
            .push((name.into(), Outcome::Skip(reason.into()), Duration::ZERO));
    }

    pub(super) fn failed(&self) -> usize {
        self.steps
            .iter()
            .filter(|(_, outcome, _)| matches!(outcome, Outcome::Fail(_)))
            .count()
    }

    pub(super) fn print(&self, total: Duration) {
        println!("\n=== containers summary");
        for (name, outcome, elapsed) in &self.steps {
            let secs = elapsed.as_secs();
            match outcome {
                Outcome::Pass => println!("PASS  {name} ({secs} s)"),
                Outcome::Fail(why) => println!("FAIL  {name} ({secs} s): {}", one_line(why)),
                Outcome::Skip(why) => println!("SKIP  {name}: {why}"),
            }
        }
        let count = |f: fn(&Outcome) -> bool| self.steps.iter().filter(|s| f(&s.1)).count();
        println!(
            "{} passed, {} failed, {} skipped in {} s",
            count(|o| matches!(o, Outcome::Pass)),
            count(|o| matches!(o, Outcome::Fail(_))),
            count(|o| matches!(o, Outcome::Skip(_))),
            total.as_secs()
        );
    }
}

/// A failure's whole text on one summary line (a CI log is often read from its tail),
/// cut at `MAX` characters.
fn one_line(why: &str) -> String {
    const MAX: usize = 600;
    let joined = why.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{} …", &joined[..cut]),
        None => joined,
    }
}
