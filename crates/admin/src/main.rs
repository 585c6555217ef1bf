//! `cuddlekube-admin`: the operator's tool. Configured like the services
//! (`RESIDENTS_TABLE`, `AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_CA_BUNDLE`, ...).
//!
//! - `create-table | seed | migrate | init` (`table.rs`): the residents table; every one
//!   idempotent, so compose's init step may run it on every `up`. `ping` (`table.rs`):
//!   one DynamoDB call, the probe of compose's TLS proxy.
//! - `faults list | on NAME [options] | off NAME | off --all` (`faults.rs`): the fault
//!   switchboard every service watches.
//! - `gameday [options]`, `gameday answer ...` (`gameday/`): a fault drawn at random,
//!   visitors walking the site, and the player's answer judged, with the runbook after.
//! - `tls-proxy` (`tls_proxy.rs`): TLS in front of DynamoDB Local, with a CA made at
//!   start-up, so the local stacks reach DynamoDB over a real TLS handshake.

mod faults;
mod gameday;
mod table;
mod tls_proxy;

use std::process::ExitCode;

const USAGE: &str = "usage: cuddlekube-admin <command>

commands:
  create-table        create the residents table (keys, indexes, TTL) if it does not exist
  seed                add the demo residents that are missing
  migrate             bring residents written in the 2019 shape into the listing indexes
  init                create-table, then seed (what local stacks run at start)
  ping                one DynamoDB call through the configured endpoint and trust store
                      (exit 0 if DynamoDB answered: compose's probe of its TLS proxy)
  faults list         the fault scenarios, and which are on
  faults on NAME [--OPTION VALUE ...] [--for DURATION]
                      switch a scenario on (every service sees it within 5 s; it switches
                      itself off after --for, default 1h, at most 24h)
  faults off NAME     switch a scenario off
  faults off --all    switch every scenario off
  gameday --site URL [--seed N] [--for DURATION] [--visitors N]
                      a game day: a fault drawn at random (the seed is printed; --seed N
                      replays it) switched on for --for (default 15m, at most 1h) while
                      visitors walk URL; it tells only that something is wrong and where
                      the alerts are, and ends when answered, at --for, or with Ctrl-C
  gameday answer --service S --operation O --cause C
                      judge an answer (exit 0 if all three are right), then show the
                      runbook section, where the evidence was, and switch the fault off
  tls-proxy --listen ADDR --upstream HOST:PORT --certs DIR [--name NAME ...]
                      serve TLS on ADDR for DynamoDB Local at HOST:PORT, with a CA made
                      on first start and kept in DIR/ca.pem (the services' AWS_CA_BUNDLE)

environment: RESIDENTS_TABLE (default cuddlekube), AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB,
AWS_CA_BUNDLE; gameday's alerts: PROMETHEUS_URL (a local stack's Prometheus; its page
PROMETHEUS_ALERTS_PAGE, default PROMETHEUS_URL/alerts), or else the CloudWatch alarms of
ENVIRONMENT_NAME (default: <env> of RESIDENTS_TABLE cuddlekube-<env>-residents), with
AWS_ENDPOINT_URL_CLOUDWATCH";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first().cloned() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match command.as_str() {
        "create-table" | "seed" | "migrate" | "init" if rest.is_empty() => {
            table::run(&command).await
        }
        "ping" if rest.is_empty() => table::ping().await,
        "faults" => faults::run(rest).await,
        "gameday" => gameday::run(rest).await,
        "tls-proxy" => tls_proxy::run(rest).await,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("cuddlekube-admin {command}: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("cuddlekube-admin {command}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// How a command failed: wrong input (exit 2, nothing changed) or the work failed.
#[derive(Debug)]
enum Failure {
    Usage(String),
    Failed(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::Failed(message)
    }
}
