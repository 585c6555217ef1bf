//! The bench's results: what was measured, the footprint figures, and the report as
//! Markdown tables of ratios (printed, and written with the JSON to target/bench/).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use procfs::Current as _;
use serde::Serialize;
use store::TableName;

use crate::rounds::{Measured, Rounds, ratio};
use crate::stack::{self, ready};

#[derive(Debug, Serialize)]
pub struct Results {
    pub machine: String,
    pub quick: bool,
    pub large_table: usize,
    pub small_table: usize,
    pub rounds: usize,
    pub round_seconds: f64,
    pub listing: Vec<Measured>,
    /// At 1 and at 8 workers: DynamoDB Query, server-listing, website.
    pub hops: Vec<Vec<Measured>>,
    /// CPU per request in each serving process, beside its no-work route.
    pub cpu: Vec<crate::cpu::CpuCost>,
    /// How long seeding the large table took (BatchWriteItem, 8 batches of 25 at a time),
    /// and DynamoDB Local's RSS after it.
    pub seeding_s: f64,
    pub dynamodb_rss_kib: Option<u64>,
    /// `None` when valgrind is not installed.
    pub instructions: Option<Vec<crate::instructions::Instructions>>,
    pub admissions: Vec<Measured>,
    pub feeds: Vec<Measured>,
    pub telemetry: Vec<Measured>,
    pub rss_kib: Vec<(String, Option<u64>)>,
    /// Median of the runs from exec to the first 200 on /ready.
    pub startup_ms: f64,
    pub volume: Option<Volume>,
    pub gateway: Option<crate::gateway::GatewayCost>,
    pub binaries: Vec<(String, u64)>,
    pub images: Vec<(String, Option<u64>)>,
    pub elapsed_s: f64,
}

impl Results {
    pub fn new(quick: bool, large_table: usize, small_table: usize, rounds: Rounds) -> Self {
        Self {
            machine: machine(),
            quick,
            large_table,
            small_table,
            rounds: rounds.count,
            round_seconds: rounds.length.as_secs_f64(),
            listing: Vec::new(),
            hops: Vec::new(),
            cpu: Vec::new(),
            instructions: None,
            seeding_s: f64::NAN,
            dynamodb_rss_kib: None,
            admissions: Vec::new(),
            feeds: Vec::new(),
            telemetry: Vec::new(),
            rss_kib: Vec::new(),
            startup_ms: f64::NAN,
            volume: None,
            gateway: None,
            binaries: Vec::new(),
            images: Vec::new(),
            elapsed_s: 0.0,
        }
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let run = if self.quick {
            "quick run (`--quick`)"
        } else {
            "full run"
        };
        let _ = writeln!(
            md,
            "## cargo xtask bench — {run}\n\n{}; DynamoDB Local in memory on the same machine; \
             release builds; loopback only. Each figure is the median of {} interleaved rounds \
             of {} s (min–max in brackets).\n",
            self.machine, self.rounds, self.round_seconds
        );
        let _ = writeln!(md, "### Listing at scale (8 workers)\n");
        let _ = writeln!(md, "| | rps | p50 ms | p99 ms |\n|---|---|---|---|");
        rows(&mut md, &self.listing);
        if let [small, large] = self.listing.as_slice() {
            let _ = writeln!(
                md,
                "\n{} ÷ {} residents: rps ×{:.2}, p50 ×{:.2}\n\nThe {} residents were seeded in \
                 {:.0} s (BatchWriteItem, 8 batches of 25 at a time); DynamoDB Local's RSS \
                 after seeding: {}.\n",
                self.large_table,
                self.small_table,
                ratio(large.rps.median, small.rps.median),
                ratio(large.p50_ms.median, small.p50_ms.median),
                self.large_table,
                self.seeding_s,
                self.dynamodb_rss_kib
                    .map_or("unknown".to_owned(), |kib| format!("{} MiB", kib / 1024))
            );
        }
        let _ = writeln!(md, "### Each hop (p50)\n");
        let _ = writeln!(
            md,
            "| workers | hop | p50 ms | rps | ÷ the hop below (p50) |\n|---|---|---|---|---|"
        );
        for hops in &self.hops {
            for (i, hop) in hops.iter().enumerate() {
                let below = i.checked_sub(1).map_or(String::from("—"), |j| {
                    format!("×{:.2}", ratio(hop.p50_ms.median, hops[j].p50_ms.median))
                });
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {below} |",
                    hop.workers,
                    hop.label,
                    spread(&hop.p50_ms),
                    spread(&hop.rps)
                );
            }
        }
        cpu_table(&mut md, &self.cpu);
        instructions_table(&mut md, self.instructions.as_deref());
        for (title, measured) in [("Admissions", &self.admissions), ("Feedings", &self.feeds)] {
            let _ = writeln!(
                md,
                "\n### {title} vs the same write sent straight to DynamoDB (8 workers)\n"
            );
            let _ = writeln!(
                md,
                "| | rps | p50 ms | p99 ms | rps ÷ floor | errors |\n|---|---|---|---|---|---|"
            );
            if let Some(floor) = measured.last() {
                for m in measured {
                    let _ = writeln!(
                        md,
                        "{} ×{:.2} | {} |",
                        cells(m),
                        ratio(m.rps.median, floor.rps.median),
                        m.errors
                    );
                }
            }
        }
        let _ = writeln!(
            md,
            "\n### Telemetry cost (server-listing GET /v1/servers, 8 workers)\n"
        );
        let _ = writeln!(md, "| | rps | p50 ms | p99 ms |\n|---|---|---|---|");
        rows(&mut md, &self.telemetry);
        if let [off, on, warn, info] = self.telemetry.as_slice() {
            let _ = writeln!(
                md,
                "\nOTLP on ÷ off: rps ×{:.2}, p50 ×{:.2}. JSON info logs ÷ warn: rps ×{:.2}, p50 ×{:.2}.",
                ratio(on.rps.median, off.rps.median),
                ratio(on.p50_ms.median, off.p50_ms.median),
                ratio(info.rps.median, warn.rps.median),
                ratio(info.p50_ms.median, warn.p50_ms.median)
            );
        }
        if let Some(v) = &self.volume {
            let _ = writeln!(
                md,
                "\n### Telemetry volume per {} website requests (INFO logs, ACCESS_LOG_SAMPLE_RATIO=0.05)\n\n\
                 - traces exported: {} ({} spans, {:.0} KiB OTLP); the collector then keeps every \
                 error or slow one and 5 % of the rest\n\
                 - metrics exported: {:.0} KiB OTLP (per export interval, not per request)\n\
                 - log lines written by the three services: {:.1} KiB",
                v.website_requests,
                v.traces,
                v.spans,
                v.trace_bytes as f64 / 1024.0,
                v.metric_bytes as f64 / 1024.0,
                v.log_bytes as f64 / 1024.0
            );
        }
        if let Some(g) = &self.gateway {
            let per_1000 = |cpu_ms: f64| cpu_ms / g.spans_per_s * 1000.0;
            let _ = writeln!(
                md,
                "\n### Trace gateway (real collectors: a sidecar → a gateway → the X-Ray stand-in)\n\n\
                 {:.0} spans/s of 5-span traces into the sidecar; the gateway keeps {} % of them \
                 (none fail). CPU over the steady part, after the first decisions.\n\n\
                 | | CPU ms/s | CPU ms/s per 1,000 spans/s | RSS MiB |\n|---|---|---|---|\n\
                 | gateway | {:.0} | {:.0} | {:.0} |\n\
                 | sidecar | {:.0} | {:.0} | {:.0} |\n\n\
                 gateway ÷ sidecar CPU per span: ×{:.2}. The gateway's RSS before the first \
                 span: {:.0} MiB, so {:.0} MiB more per 1,000 spans/s. Span end → X-Ray stand-in ({} kept spans): \
                 p50 {:.1} s, p99 {:.1} s (the decision wait is 20 s).",
                g.spans_per_s,
                crate::gateway::SAMPLE_PERCENT,
                g.gateway_cpu_ms_per_s,
                per_1000(g.gateway_cpu_ms_per_s),
                g.gateway_rss_mib,
                g.sidecar_cpu_ms_per_s,
                per_1000(g.sidecar_cpu_ms_per_s),
                g.sidecar_rss_mib,
                ratio(g.gateway_cpu_ms_per_s, g.sidecar_cpu_ms_per_s),
                g.gateway_idle_rss_mib,
                (g.gateway_rss_mib - g.gateway_idle_rss_mib) / g.spans_per_s * 1000.0,
                g.kept_spans,
                g.delay_p50_s,
                g.delay_p99_s
            );
        }
        let _ = writeln!(md, "\n### Footprint (as measured, not ratios)\n");
        for (name, kib) in &self.rss_kib {
            let shown = kib.map_or("n/a".to_owned(), |k| {
                format!("{:.1} MiB", k as f64 / 1024.0)
            });
            let _ = writeln!(md, "- RSS of {name} after {} requests: {shown}", 10_000);
        }
        let _ = writeln!(
            md,
            "- exec → first 200 on /ready (server-listing, median): {:.0} ms",
            self.startup_ms
        );
        for (name, bytes) in &self.binaries {
            let _ = writeln!(
                md,
                "- binary {name}: {:.1} MiB",
                *bytes as f64 / 1_048_576.0
            );
        }
        for (name, bytes) in &self.images {
            let shown = bytes.map_or(
                "not built here (cargo xtask containers builds them)".to_owned(),
                |b| format!("{:.1} MB", b as f64 / 1_000_000.0),
            );
            let _ = writeln!(md, "- image {name}: {shown}");
        }
        let _ = writeln!(md, "\n(whole run: {:.0} s)", self.elapsed_s);
        md
    }
}

/// CPU per request, each beside its process's `/health` (a route that does no work).
pub fn cpu_table(md: &mut String, costs: &[crate::cpu::CpuCost]) {
    if costs.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### CPU per request (8 workers; user + system time of each serving process \
         ÷ answers)\n\n| request | process | CPU µs per request | ÷ its /health |\n|---|---|---|---|"
    );
    for cost in costs {
        let floor = costs
            .iter()
            .find(|c| c.process == cost.process && c.label.ends_with("GET /health"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cost.label,
            cost.process,
            spread(&cost.us_per_request),
            floor.map_or("—".to_owned(), |f| format!(
                "×{:.1}",
                ratio(cost.us_per_request.median, f.us_per_request.median)
            ))
        );
    }
}

/// Instructions per request, each beside server-listing's `/health`.
pub fn instructions_table(md: &mut String, counts: Option<&[crate::instructions::Instructions]>) {
    let Some(counts) = counts else {
        let _ = writeln!(
            md,
            "\n(instructions per request: valgrind is not installed)"
        );
        return;
    };
    let _ = writeln!(
        md,
        "\n### Instructions per request (callgrind; 200 requests one at a time, user space; \
         repeatable run to run)\n\n| request | instructions | ÷ server-listing's /health |\n|---|---|---|"
    );
    let health = counts
        .iter()
        .find(|c| c.label == "server-listing GET /health")
        .map_or(f64::NAN, |c| c.per_request as f64);
    for count in counts {
        let _ = writeln!(
            md,
            "| {} | {} | ×{:.1} |",
            count.label,
            count.per_request,
            ratio(count.per_request as f64, health)
        );
    }
}

fn spread(s: &crate::rounds::Spread) -> String {
    format!("{:.1} [{:.1}–{:.1}]", s.median, s.min, s.max)
}

/// A table row's first cells: label, rps, p50 and p99 (each median [min–max]).
fn cells(m: &Measured) -> String {
    format!(
        "| {} | {} | {} | {} |",
        m.label,
        spread(&m.rps),
        spread(&m.p50_ms),
        spread(&m.p99_ms)
    )
}

fn rows(md: &mut String, measured: &[Measured]) {
    for m in measured {
        let _ = writeln!(md, "{}", cells(m));
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let model = procfs::CpuInfo::current()
        .ok()
        .and_then(|info| info.model_name(0).map(str::to_owned))
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = procfs::Meminfo::current().map_or(0, |m| m.mem_total / (1 << 30));
    format!("{cores} cores ({model}), {memory} GiB")
}

/// The raw PutItem floor must write what register writes: same attributes.
pub async fn check_floor_item(
    client: &aws_sdk_dynamodb::Client,
    table: &TableName,
) -> Result<(), String> {
    let scanned = client
        .scan()
        .table_name(table.as_str())
        .limit(500)
        .send()
        .await
        .map_err(|e| telemetry::errors::display(&e))?;
    let names = |item: &std::collections::HashMap<
        String,
        aws_sdk_dynamodb::types::AttributeValue,
    >| { item.keys().cloned().collect::<BTreeSet<_>>() };
    let items = scanned.items();
    let admitted = items.iter().find(|i| {
        i.contains_key("key_until") && !i["ckid"].as_s().is_ok_and(|c| c.starts_with("bench"))
    });
    let floor = items
        .iter()
        .find(|i| i["ckid"].as_s().is_ok_and(|c| c.starts_with("bench")));
    match (admitted, floor) {
        (Some(admitted), Some(floor)) if names(admitted) == names(floor) => Ok(()),
        (Some(admitted), Some(floor)) => Err(format!(
            "the PutItem floor does not write what register writes: {:?} vs {:?}",
            names(floor),
            names(admitted)
        )),
        _ => Err("found no admitted resident and floor item to compare".into()),
    }
}

/// `count` GETs of `url`, 8 at a time (to reach a steady footprint).
pub async fn send_many(http: &reqwest::Client, url: &str, count: u64) {
    for _ in 0..count.div_ceil(8) {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let request = http.get(url).send();
            batch.spawn(async move {
                let _ = request.await;
            });
        }
        batch.join_all().await;
    }
}

/// The process's resident set size, from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let process = procfs::process::Process::new(i32::try_from(pid).ok()?).ok()?;
    process.status().ok()?.vmrss
}

/// Median time from exec to the first 200 on `/ready` of server-listing, over `runs`.
pub fn startup_ms(env: &[(&str, String)], runs: usize, log: &Path) -> Result<f64, String> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let began = Instant::now();
        let running = stack::Running::start("server-listing", env, log)?;
        times.push(began.elapsed());
        debug_assert!(ready(running.port));
    }
    times.sort();
    Ok(times
        .get(times.len() / 2)
        .copied()
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
        * 1000.0)
}

pub fn binary_sizes() -> Vec<(String, u64)> {
    ["website", "register", "server-listing", "cuddlekube-admin"]
        .iter()
        .filter_map(|name| {
            Some((
                (*name).to_owned(),
                std::fs::metadata(stack::binary(name)).ok()?.len(),
            ))
        })
        .collect()
}

/// Sizes of the images `cargo xtask containers` builds (tag `smoke`), if podman has them.
pub fn image_sizes() -> Vec<(String, Option<u64>)> {
    ["website", "register", "server-listing", "admin"]
        .iter()
        .map(|name| {
            let image = format!("cuddlekube/{name}:smoke");
            let size = std::process::Command::new("podman")
                .args(["image", "inspect", "--format", "{{.Size}}", &image])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok());
            (image, size)
        })
        .collect()
}

/// Telemetry exported and written for a number of website requests.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Volume {
    pub website_requests: u64,
    pub traces: u64,
    pub spans: u64,
    pub trace_bytes: u64,
    pub metric_bytes: u64,
    pub log_bytes: u64,
}
