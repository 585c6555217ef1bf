//! A game: the drawn fault switched on for the game's time, visitors walking the site, and
//! the player told only that something is wrong and where the alerts are. The game ends
//! when its fault is off (answered, its time up, or switched off); Ctrl-C switches it off.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::Timestamp;
use faults::{POLL_INTERVAL, Switchboard, SwitchedOn};
use loadgen::traffic::{Plan, Report};
use loadgen::visitors::Visitors;
use tokio::signal::unix::{SignalKind, signal};

use super::alerts::AlertSource;
use super::{failed, pick};
use crate::Failure;

/// The longest game. A game's time is its fault's own `--for`, so a forgotten game ends
/// by itself.
const LONGEST: Duration = Duration::from_secs(60 * 60);
/// How often the game shows the visitors' statuses and the alerts firing.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Each visitor's pace: a walk (five pages or so) every two seconds.
const WALKS_PER_VISITOR_PER_SECOND: f64 = 0.5;

#[derive(Debug, clap::Args)]
pub(super) struct Game {
    /// Plays the game of this seed again (every game prints its seed).
    #[arg(long)]
    seed: Option<u64>,
    /// How long the game lasts at most (at most 1h); its fault switches itself off then.
    #[arg(long = "for", default_value = "15m", value_parser = lasting)]
    lasting: Duration,
    /// The site the visitors walk, such as http://127.0.0.1:8080.
    #[arg(long, required = true, value_parser = http_url)]
    site: Option<String>,
    /// Visitors walking the site at once, each a walk every 2 s.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    visitors: u16,
}

fn lasting(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() && d <= LONGEST => Ok(d),
        Ok(_) => Err("expected more than 0 and at most 1h".into()),
        Err(err) => Err(err.to_string()),
    }
}

fn http_url(text: &str) -> Result<String, String> {
    match text.starts_with("http://") || text.starts_with("https://") {
        true => Ok(text.trim_end_matches('/').to_owned()),
        false => Err("expected an http:// or https:// URL".into()),
    }
}

pub(super) async fn run(
    game: &Game,
    switchboard: &Switchboard,
    alerts: &AlertSource,
) -> Result<(), Failure> {
    let now = Timestamp::now();
    let on = switchboard.read().await.map_err(failed)?;
    if let Some(already) = on.iter().find(|f| f.is_live(now)) {
        return Err(Failure::Failed(format!(
            "{} is on already; a game starts on a quiet stack: switch it off first \
             (cuddlekube-admin faults off --all)",
            already.fault
        )));
    }
    let site = game.site.as_deref().expect("clap requires --site");
    let visitors = Visitors::new(site).map_err(Failure::Failed)?;
    // Caught from before the fault is on, so that Ctrl-C always switches it off.
    let signal = |kind| signal(kind).map_err(|e| Failure::Failed(format!("signals: {e}")));
    let (mut interrupt, mut terminate) = (
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    );
    let seed = game.seed.unwrap_or_else(pick::seed_from_clock);
    let ours = switchboard
        .switch_on(pick::pick(seed), game.lasting)
        .await
        .map_err(failed)?;

    // Only this: the scenario is what the player is to find.
    println!("Game day, seed {seed} (`gameday --seed {seed}` plays this game again).");
    println!("Something is wrong with Cuddle Kube since {}.", ours.since);
    println!("Where the alerts are:\n  {}", alerts.alerts_page());
    println!("When you know the service, the operation and the cause, answer:");
    println!(
        "  cuddlekube-admin gameday answer --service SERVICE --operation OPERATION --cause CAUSE"
    );
    if matches!(alerts, AlertSource::Prometheus { .. }) {
        println!("  (against `cargo xtask dev`: cargo xtask gameday answer --service … )");
    }
    println!(
        "The game ends with your answer, after {}, or with Ctrl-C. {} visitors walk {site}.\n",
        humantime::format_duration(game.lasting),
        game.visitors
    );

    let latest = Arc::new(Mutex::new(None));
    let plan = Plan {
        workers: usize::from(game.visitors),
        duration: game.lasting,
        rate: Some(f64::from(game.visitors) * WALKS_PER_VISITOR_PER_SECOND),
    };
    let load = tokio::spawn(walk(visitors, plan, latest.clone()));
    let (started, mut shown, mut previous) = (Instant::now(), Instant::now(), BTreeMap::new());
    let ended = loop {
        tokio::select! {
            _ = interrupt.recv() => break stop(switchboard, &ours).await?,
            _ = terminate.recv() => break stop(switchboard, &ours).await?,
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        match still_on(switchboard, &ours).await {
            Ok(true) => {}
            Ok(false) if Timestamp::now() >= ours.until => {
                break "time is up: the fault switched itself off";
            }
            Ok(false) => break "the fault is off (answered, or switched off)",
            Err(why) => eprintln!("(the switchboard could not be read: {why}; trying again)"),
        }
        if shown.elapsed() >= PROGRESS_EVERY {
            shown = Instant::now();
            let report = latest.lock().expect("lock").clone();
            let line = progress(started.elapsed(), report.as_ref(), &mut previous);
            let firing = match alerts.firing().await {
                Ok(firing) if firing.is_empty() => "none".to_owned(),
                Ok(firing) => firing
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(why) => format!("unknown ({why})"),
            };
            println!("{line}  firing: {firing}");
        }
    };
    load.abort();
    println!("\nThe game is over: {ended}.");
    println!(
        "It was {}: the runbook is docs/debugging.md, `{}`.",
        ours.fault,
        ours.fault.scenario()
    );
    Ok(())
}

/// Whether the game's fault is still on: the same switching-on, not lapsed.
async fn still_on(switchboard: &Switchboard, ours: &SwitchedOn) -> Result<bool, String> {
    let on = switchboard
        .read()
        .await
        .map_err(|e| telemetry::errors::display(&*e))?;
    let now = Timestamp::now();
    Ok(on.iter().any(|f| {
        f.fault.scenario() == ours.fault.scenario() && f.since == ours.since && f.is_live(now)
    }))
}

/// The visitors until the game's time is up (or the game ends and aborts them); the
/// engine's report, every second, into `latest`.
async fn walk(visitors: Visitors, plan: Plan, latest: Arc<Mutex<Option<Report>>>) {
    let keep = move |report: &Report| *latest.lock().expect("lock") = Some(report.clone());
    visitors.walk_by(plan, Some(&keep)).await;
}

/// `  1m 30s  requests 57: 200×50 503×7`: the visitors' answers since the last line.
fn progress(
    elapsed: Duration,
    report: Option<&Report>,
    previous: &mut BTreeMap<String, u64>,
) -> String {
    let mut now = BTreeMap::<String, u64>::new();
    for stats in report.iter().flat_map(|r| r.labels.values()) {
        for (status, count) in &stats.statuses {
            *now.entry(status.to_string()).or_default() += count;
        }
        *now.entry("no answer".into()).or_default() += stats.failures;
    }
    let since: Vec<(String, u64)> = now
        .iter()
        .map(|(status, n)| {
            (
                status.clone(),
                n.saturating_sub(previous.get(status).copied().unwrap_or(0)),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    *previous = now;
    let total: u64 = since.iter().map(|(_, n)| n).sum();
    let statuses: Vec<String> = since.iter().map(|(s, n)| format!("{s}×{n}")).collect();
    let elapsed = humantime::format_duration(Duration::from_secs(elapsed.as_secs()));
    format!("{elapsed:>8}  requests {total}: {}", statuses.join(" "))
}

/// Ctrl-C (or SIGTERM): the game's fault switched off.
async fn stop(switchboard: &Switchboard, ours: &SwitchedOn) -> Result<&'static str, Failure> {
    switchboard
        .switch_off(&[ours.fault.scenario()])
        .await
        .map_err(failed)?;
    Ok("stopped: the fault is switched off")
}
