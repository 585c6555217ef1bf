//! `cuddlekube-bench`: Cuddle Kube measured side by side on one machine (run it with
//! `cargo xtask bench [--quick]`, which builds it and the services in release mode).
//! Every speed figure is a ratio of medians over interleaved rounds; the footprint
//! section reports sizes as measured. Writes `target/bench/latest.{json,md}`.

mod cpu;
mod gateway;
mod instructions;
mod profile;
mod report;
mod rounds;
mod stack;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use domain::{Resident, ResidentId, Timestamp};
use serde_json::json;
use store::{DynamoStore, ResidentReader as _, TableName};

use crate::cpu::CpuTarget;
use crate::report::Results;
use crate::rounds::{Rounds, measure};
use crate::stack::{Running, dynamodb, otlp_sink};
use bench::targets::{Target, put_body, query_body, update_body};

/// How big and how long: the full run, or `--quick` (for CI: proves it works).
#[derive(Debug, Clone, Copy)]
struct Scale {
    large_table: usize,
    rounds: Rounds,
    footprint_requests: u64,
    startups: usize,
    /// How long the trace gateway is measured at its steady rate.
    gateway_steady: Duration,
}

const FULL: Scale = Scale {
    large_table: 1_000_000,
    rounds: Rounds {
        count: 5,
        length: Duration::from_secs(3),
        warmup: Duration::from_secs(1),
    },
    footprint_requests: 10_000,
    startups: 7,
    gateway_steady: Duration::from_secs(30),
};

const QUICK: Scale = Scale {
    large_table: 5_000,
    rounds: Rounds {
        count: 2,
        length: Duration::from_secs(1),
        warmup: Duration::from_millis(300),
    },
    footprint_requests: 10_000,
    startups: 3,
    gateway_steady: Duration::from_secs(10),
};

const SMALL_TABLE: usize = 100;

/// The floor beneath the listing (`cuddlekube-floor`): the same Query through the SDK
/// with nothing of ours around it, and as raw JSON over HTTP without the SDK.
const FLOOR_SDK: &str = "cuddlekube-floor GET /sdk-query (the listing's Query, SDK only)";
const FLOOR_RAW: &str = "cuddlekube-floor GET /raw-query (the same Query, raw HTTP)";

#[tokio::main]
async fn main() -> ExitCode {
    let result = match std::env::args().nth(1).as_deref() {
        None => run(FULL, false).await,
        Some("--quick") => run(QUICK, true).await,
        Some("--profile") => profile::run().await,
        Some(other) => {
            eprintln!(
                "usage: cuddlekube-bench [--quick | --profile]   (got {other:?}; run it with \
                 `cargo xtask bench` or `cargo xtask profile`)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cuddlekube-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(scale: Scale, quick: bool) -> Result<(), String> {
    let started = Instant::now();
    let out = out_dir()?;
    let dynamodb = dynamodb()?;
    let endpoint = dynamodb.endpoint();
    let client = sdk_client(&endpoint);
    let small = seeded_table(&client, "bench-small", SMALL_TABLE).await?;
    let seeding = Instant::now();
    let large = seeded_table(&client, "bench-large", scale.large_table).await?;
    let seeding_s = seeding.elapsed().as_secs_f64();
    let dynamodb_rss_kib = dynamodb.pid().and_then(report::rss_kib);
    eprintln!(
        "bench: seeded {SMALL_TABLE} and {} residents in {:.0?}",
        scale.large_table,
        started.elapsed()
    );

    let aws = |table: &TableName| {
        vec![
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()),
            ("RESIDENTS_TABLE", table.to_string()),
            ("RUST_LOG", "warn".to_owned()),
        ]
    };
    let log = |name: &str| out.join(format!("{name}.log"));
    let listing = Running::start("server-listing", &aws(&small), &log("server-listing"))?;
    let listing_large =
        Running::start("server-listing", &aws(&large), &log("server-listing-large"))?;
    let register = Running::start("register", &aws(&small), &log("register"))?;
    let website = Running::start(
        "website",
        &[
            ("SERVER_LISTING_URL", listing.url("")),
            ("REGISTER_URL", register.url("")),
            ("RUST_LOG", "warn".to_owned()),
        ],
        &log("website"),
    )?;
    let (sink, _) = otlp_sink().await?;
    let mut exporting_env = aws(&small);
    exporting_env.push((
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        format!("http://127.0.0.1:{sink}"),
    ));
    let listing_exporting = Running::start(
        "server-listing",
        &exporting_env,
        &log("server-listing-otlp"),
    )?;
    let mut info_env = aws(&small);
    info_env.retain(|(k, _)| *k != "RUST_LOG");
    info_env.push(("RUST_LOG", "info".to_owned()));
    let listing_info = Running::start("server-listing", &info_env, &log("server-listing-info"))?;

    let http = http_client()?;
    let get = |label: &'static str, url: String| Target::Get { label, url };
    let dynamo =
        |label, operation, body: Arc<dyn Fn(usize, u64) -> serde_json::Value + Send + Sync>| {
            Target::Dynamo {
                label,
                endpoint: endpoint.clone(),
                operation,
                body,
            }
        };
    let rounds = scale.rounds;
    let mut results = Results::new(quick, scale.large_table, SMALL_TABLE, rounds);
    results.seeding_s = seeding_s;
    results.dynamodb_rss_kib = dynamodb_rss_kib;

    eprintln!(
        "bench: listing at {} vs {SMALL_TABLE} residents",
        scale.large_table
    );
    results.listing = measure(
        &http,
        &[
            get("server-listing, 100 residents", listing.url("/v1/servers")),
            get(
                "server-listing, large table",
                listing_large.url("/v1/servers"),
            ),
        ],
        8,
        rounds,
    )
    .await;

    eprintln!("bench: each hop");
    let small_name = small.to_string();
    let hops = [
        dynamo(
            "DynamoDB Query",
            "Query",
            Arc::new(move |_, _| query_body(&small_name)),
        ),
        get("server-listing GET /v1/servers", listing.url("/v1/servers")),
        get("website GET /residents", website.url("/residents")),
    ];
    for workers in [1, 8] {
        results
            .hops
            .push(measure(&http, &hops, workers, rounds).await);
    }

    eprintln!("bench: CPU per request");
    let floor = Running::start("cuddlekube-floor", &aws(&small), &log("floor"))?;
    let serving = |service: &Running| vec![(service.name.clone(), service.pid())];
    results.cpu = cpu::measure(
        &http,
        &[
            CpuTarget {
                target: get("server-listing GET /health", listing.url("/health")),
                processes: serving(&listing),
            },
            CpuTarget {
                target: get("server-listing GET /v1/servers", listing.url("/v1/servers")),
                processes: serving(&listing),
            },
            CpuTarget {
                target: get("cuddlekube-floor GET /health", floor.url("/health")),
                processes: serving(&floor),
            },
            CpuTarget {
                target: get(FLOOR_SDK, floor.url("/sdk-query")),
                processes: serving(&floor),
            },
            CpuTarget {
                target: get(FLOOR_RAW, floor.url("/raw-query")),
                processes: serving(&floor),
            },
            CpuTarget {
                target: get("website GET /health", website.url("/health")),
                processes: serving(&website),
            },
            CpuTarget {
                target: get("website GET /residents", website.url("/residents")),
                processes: [serving(&website), serving(&listing)].concat(),
            },
        ],
        8,
        rounds,
    )
    .await?;

    drop(floor);
    eprintln!("bench: instructions per request (callgrind)");
    let mut website_env = aws(&small);
    website_env.extend([
        ("SERVER_LISTING_URL", listing.url("")),
        ("REGISTER_URL", register.url("")),
    ]);
    let counted = |label, binary, env, path| instructions::Counted {
        label,
        binary,
        env,
        path,
    };
    let small_env = aws(&small);
    results.instructions = instructions::count(
        &http,
        &[
            counted(
                "server-listing GET /health",
                "server-listing",
                &small_env,
                "/health",
            ),
            counted(
                "server-listing GET /v1/servers",
                "server-listing",
                &small_env,
                "/v1/servers",
            ),
            counted(FLOOR_SDK, "cuddlekube-floor", &small_env, "/sdk-query"),
            counted(FLOOR_RAW, "cuddlekube-floor", &small_env, "/raw-query"),
            counted(
                "website GET /residents",
                "website",
                &website_env,
                "/residents",
            ),
        ],
        &out,
    )
    .await?;

    eprintln!("bench: writes vs the floor");
    let admission = json!({"name": "Bench Resident", "type": "m5.large", "os": "linux",
        "petname": "benchy", "service": 3, "happiness": 5});
    let register_url = register.url("/v1/registrations");
    let small_name = small.to_string();
    let admitting = Target::Post {
        label: "admission, Idempotency-Key",
        url: Arc::new({
            let u = register_url.clone();
            move |_, _| u.clone()
        }),
        body: Some(admission.clone()),
        keyed: true,
    };
    results.admissions = measure(
        &http,
        &[
            admitting.clone(),
            Target::Post {
                label: "admission, no key",
                url: Arc::new(move |_, _| register_url.clone()),
                body: Some(admission),
                keyed: false,
            },
            dynamo(
                "DynamoDB PutItem (conditional)",
                "PutItem",
                Arc::new(move |_, _| put_body(&small_name)),
            ),
        ],
        8,
        rounds,
    )
    .await;
    let ckids = first_ckids(&client, &small).await?;
    let pick =
        move |worker: usize, step: u64| ckids[(worker * 13 + step as usize) % ckids.len()].clone();
    let (feed_pick, floor_pick, listing_url, small_name) =
        (pick.clone(), pick, listing.url(""), small.to_string());
    let feeding = Target::Post {
        label: "feed, Idempotency-Key",
        url: Arc::new(move |w, s| format!("{listing_url}/v1/servers/{}/feed", feed_pick(w, s))),
        body: None,
        keyed: true,
    };
    results.feeds = measure(
        &http,
        &[
            feeding.clone(),
            dynamo(
                "DynamoDB UpdateItem (conditional)",
                "UpdateItem",
                Arc::new(move |w, s| update_body(&small_name, &floor_pick(w, s))),
            ),
        ],
        8,
        rounds,
    )
    .await;
    report::check_floor_item(&client, &small).await?;

    eprintln!("bench: CPU per write");
    let writes_cpu = cpu::measure(
        &http,
        &[
            CpuTarget {
                target: get("register GET /health", register.url("/health")),
                processes: serving(&register),
            },
            CpuTarget {
                target: admitting,
                processes: serving(&register),
            },
            CpuTarget {
                target: feeding,
                processes: serving(&listing),
            },
        ],
        8,
        rounds,
    )
    .await?;
    results.cpu.extend(writes_cpu);

    eprintln!("bench: telemetry cost");
    results.telemetry = measure(
        &http,
        &[
            get("OTLP export off", listing.url("/v1/servers")),
            get("OTLP export on", listing_exporting.url("/v1/servers")),
            get("logs at warn", listing.url("/v1/servers")),
            get("logs at info (JSON)", listing_info.url("/v1/servers")),
        ],
        8,
        rounds,
    )
    .await;

    eprintln!("bench: footprint");
    for (service, url) in [
        (&listing, listing.url("/v1/servers")),
        (&register, register.url("/health")),
        (&website, website.url("/residents")),
    ] {
        report::send_many(&http, &url, scale.footprint_requests).await;
        results
            .rss_kib
            .push((service.name.clone(), report::rss_kib(service.pid())));
    }
    results.startup_ms = report::startup_ms(&aws(&small), scale.startups, &log("startup"))?;
    results.volume = Some(telemetry_volume(&http, &aws(&small), &out).await?);
    eprintln!("bench: the trace gateway");
    results.gateway = Some(gateway::measure(scale.gateway_steady).await?);
    results.binaries = report::binary_sizes();
    results.images = report::image_sizes();
    results.elapsed_s = started.elapsed().as_secs_f64();

    let markdown = results.markdown();
    println!("{markdown}");
    std::fs::write(out.join("latest.md"), &markdown).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(out.join("latest.json"), json).map_err(|e| e.to_string())?;
    eprintln!(
        "bench: done in {:.0?}; written to {}",
        started.elapsed(),
        out.display()
    );
    Ok(())
}

/// `target/bench` (next to `target/release`, where this binary runs from).
fn out_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe
        .parent()
        .and_then(|release| release.parent())
        .ok_or("cannot tell the target folder")?
        .join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn sdk_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(stack::AWS_ENV[0].1))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            stack::AWS_ENV[1].1,
            stack::AWS_ENV[2].1,
            None,
            None,
            "bench",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn store_on(client: &aws_sdk_dynamodb::Client, table: &TableName) -> DynamoStore {
    DynamoStore::new(client.clone(), table.clone())
}

/// The client every measured request goes through: a pool as large as any run's workers.
fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

/// The ckids of the table's first 100 residents (newest first): the ones fed.
async fn first_ckids(
    client: &aws_sdk_dynamodb::Client,
    table: &TableName,
) -> Result<Arc<Vec<String>>, String> {
    let page = store_on(client, table)
        .list(&store::ListQuery {
            limit: domain::PageSize::parse(100).map_err(|e| e.to_string())?,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(
        page.residents
            .into_iter()
            .map(|r| r.ckid.to_string())
            .collect(),
    ))
}

/// A fresh table with `count` residents registered a second apart.
async fn seeded_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    count: usize,
) -> Result<TableName, String> {
    let table = TableName::parse(name)?;
    store::table::create_table(client, &table)
        .await
        .map_err(|e| telemetry::errors::display(&e))?;
    let first = Timestamp::parse("2026-01-01T00:00:00Z").map_err(|e| e.to_string())?;
    let residents: Vec<Resident> = (0..count)
        .map(|i| {
            let at = first.plus(time::Duration::seconds(i as i64));
            Resident {
                ckid: ResidentId::generate(at),
                name: format!("Resident {i}"),
                server_type: ["m5.large", "t3.micro", "c5.xlarge"][i % 3].to_owned(),
                service: (i % 20) as u16,
                happiness: (1 + i % 10) as u8,
                petname: format!("pet {i}"),
                os: ["linux", "windows", "freebsd"][i % 3].to_owned(),
                image: None,
                registered_at: Some(at),
                feed_count: 0,
                last_fed_at: None,
            }
        })
        .collect();
    store::seed::bulk_insert(&store_on(client, &table), &residents, 8)
        .await
        .map_err(|e| telemetry::errors::display(&e))?;
    Ok(table)
}

/// What 1,000 website requests cost in telemetry, with the defaults the infra sets
/// (INFO logs, one access line in 20 kept): spans and OTLP bytes exported by all three
/// services, and log bytes written. A fresh stack, so nothing else is counted.
async fn telemetry_volume(
    http: &reqwest::Client,
    aws: &[(&'static str, String)],
    out: &std::path::Path,
) -> Result<report::Volume, String> {
    const REQUESTS: u64 = 1_000;
    let (sink, received) = otlp_sink().await?;
    let mut env: Vec<(&str, String)> = aws
        .iter()
        .filter(|(k, _)| *k != "RUST_LOG")
        .cloned()
        .collect();
    env.extend([
        ("RUST_LOG", "info".to_owned()),
        ("ACCESS_LOG_SAMPLE_RATIO", "0.05".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{sink}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
    ]);
    let logs = ["volume-server-listing", "volume-register", "volume-website"]
        .map(|n| out.join(format!("{n}.log")));
    let listing = Running::start("server-listing", &env, &logs[0])?;
    let register = Running::start("register", &env, &logs[1])?;
    let mut website_env = env.clone();
    website_env.extend([
        ("SERVER_LISTING_URL", listing.url("")),
        ("REGISTER_URL", register.url("")),
    ]);
    let website = Running::start("website", &website_env, &logs[2])?;
    let before: u64 = logs
        .iter()
        .map(|l| std::fs::metadata(l).map_or(0, |m| m.len()))
        .sum();
    // The visitors' mix: the listing, a resident, the home page.
    let first = website.url("/residents");
    let paths = [first.clone(), website.url("/"), first];
    for i in 0..REQUESTS {
        let _ = http.get(&paths[i as usize % paths.len()]).send().await;
    }
    // Let the batch exporters (200 ms here) send what they hold before the processes go.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop((website, register, listing));
    let after: u64 = logs
        .iter()
        .map(|l| std::fs::metadata(l).map_or(0, |m| m.len()))
        .sum();
    let received = *received.lock().map_err(|e| e.to_string())?;
    Ok(report::Volume {
        website_requests: REQUESTS,
        traces: REQUESTS,
        spans: received.spans,
        trace_bytes: received.trace_bytes,
        metric_bytes: received.metric_bytes,
        log_bytes: after - before,
    })
}
