//! CPU per request, from the serving processes' own accounting: each process's user +
//! system time (`/proc/<pid>/stat`) over a round, divided by the answers of that round,
//! beside a floor measured in the same interleaved rounds (a route of the same process
//! that does no work). Wall times move with the machine; CPU time per request much less.

use serde::Serialize;

use crate::rounds::{Rounds, Spread, run};
use bench::targets::Target;

/// A request and the processes whose CPU it costs.
#[derive(Debug)]
pub struct CpuTarget {
    pub target: Target,
    /// (name, pid) of each process serving it: the service called, and those it calls.
    pub processes: Vec<(String, u32)>,
}

/// One request's CPU in one process, over the rounds.
#[derive(Debug, Clone, Serialize)]
pub struct CpuCost {
    pub label: String,
    pub process: String,
    pub us_per_request: Spread,
}

/// Runs every target with `workers` workers, interleaved round by round.
pub async fn measure(
    client: &reqwest::Client,
    targets: &[CpuTarget],
    workers: usize,
    rounds: Rounds,
) -> Result<Vec<CpuCost>, String> {
    for cpu in targets {
        run(client, &cpu.target, workers, rounds.warmup).await;
    }
    let ticks_per_s = procfs::ticks_per_second() as f64;
    let mut samples: Vec<Vec<Vec<f64>>> = targets
        .iter()
        .map(|t| vec![Vec::new(); t.processes.len()])
        .collect();
    for _ in 0..rounds.count {
        for (cpu, per_process) in targets.iter().zip(&mut samples) {
            let before = ticks(&cpu.processes)?;
            let (rps, ..) = run(client, &cpu.target, workers, rounds.length).await;
            let after = ticks(&cpu.processes)?;
            let answers = rps * rounds.length.as_secs_f64();
            for ((b, a), values) in before.iter().zip(&after).zip(per_process.iter_mut()) {
                values.push((a - b) as f64 / ticks_per_s * 1e6 / answers);
            }
        }
    }
    Ok(targets
        .iter()
        .zip(samples)
        .flat_map(|(cpu, per_process)| {
            cpu.processes
                .iter()
                .zip(per_process)
                .map(|((name, _), values)| CpuCost {
                    label: cpu.target.label().to_owned(),
                    process: name.clone(),
                    us_per_request: Spread::of(values),
                })
                .collect::<Vec<_>>()
        })
        .collect())
}

/// user + system clock ticks of each process.
fn ticks(processes: &[(String, u32)]) -> Result<Vec<u64>, String> {
    processes
        .iter()
        .map(|(name, pid)| process_ticks(*pid).map_err(|e| format!("{name}: {e}")))
        .collect()
}

/// user + system clock ticks of one process.
pub fn process_ticks(pid: u32) -> Result<u64, String> {
    let stat = i32::try_from(pid)
        .ok()
        .and_then(|pid| procfs::process::Process::new(pid).ok())
        .and_then(|process| process.stat().ok())
        .ok_or_else(|| format!("no /proc/{pid}/stat"))?;
    Ok(stat.utime + stat.stime)
}
