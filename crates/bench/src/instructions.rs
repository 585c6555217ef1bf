//! Instructions per request, counted by callgrind: this machine's perf has no hardware
//! counters, and an instruction count, unlike a time, repeats run to run whatever else
//! the machine is doing. Each process runs under `valgrind --tool=callgrind` with
//! counting off; after a warm-up, counting is switched on (`callgrind_control -i on`)
//! for requests sent one at a time, then off, and the process is stopped so callgrind
//! writes its totals. Only the process's own user-space instructions count (not the
//! kernel's), and valgrind's CPU model may take other paths than the real one in a few
//! places (memcpy, SHA-256), so these are for comparing builds and routes with each
//! other, not for converting to time.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::stack::Running;

/// Requests counted per route, after [`WARM_UP`] not counted.
const COUNTED: u64 = 200;
const WARM_UP: u64 = 20;

/// A route to count, in a process of its own.
#[derive(Debug)]
pub struct Counted<'a> {
    pub label: &'static str,
    pub binary: &'static str,
    pub env: &'a [(&'a str, String)],
    pub path: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Instructions {
    pub label: String,
    pub per_request: u64,
}

/// Counts each route; `None` when valgrind is not installed.
pub async fn count(
    http: &reqwest::Client,
    routes: &[Counted<'_>],
    out: &Path,
) -> Result<Option<Vec<Instructions>>, String> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return Ok(None);
    }
    let mut counts = Vec::new();
    for route in routes {
        let file = out.join(format!("callgrind-{}.out", route.binary));
        let _ = std::fs::remove_file(&file);
        let wrapper = [
            "valgrind".to_owned(),
            "--tool=callgrind".to_owned(),
            "--instr-atstart=no".to_owned(),
            format!("--callgrind-out-file={}", file.display()),
        ];
        let log = out.join(format!("callgrind-{}.log", route.binary));
        let mut process = Running::start_under(&wrapper, route.binary, route.env, &log)?;
        let url = process.url(route.path);
        let send = |n: u64| {
            let url = url.clone();
            async move {
                for _ in 0..n {
                    let answer = http.get(&url).send().await.map_err(|e| e.to_string())?;
                    if !answer.status().is_success() {
                        return Err(format!("{url} answered {}", answer.status()));
                    }
                    answer.bytes().await.map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(())
            }
        };
        send(WARM_UP).await?;
        control(process.pid(), "on")?;
        send(COUNTED).await?;
        control(process.pid(), "off")?;
        process.stop()?;
        let total = totals(&file)?;
        counts.push(Instructions {
            label: route.label.to_owned(),
            per_request: total / COUNTED,
        });
    }
    Ok(Some(counts))
}

fn control(pid: u32, instrumentation: &str) -> Result<(), String> {
    let status = Command::new("callgrind_control")
        .args(["-i", instrumentation, &pid.to_string()])
        .output()
        .map_err(|e| format!("callgrind_control: {e}"))?
        .status;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "callgrind_control -i {instrumentation} {pid}: {status}"
        ))
    }
}

/// The instructions callgrind counted: its `totals:` line, at the end of the file (the
/// header's `summary:` line holds what was counted before `--instr-atstart=no` let it
/// start: 0).
fn totals(file: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let total: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("{}: no totals line", file.display()))?;
    if total == 0 {
        return Err(format!("{}: callgrind counted nothing", file.display()));
    }
    Ok(total)
}
