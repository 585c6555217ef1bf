//! Developer automation for Cuddle Kube (the cargo xtask pattern).
//!
//! - `cargo xtask test [-- <cargo test args>]`: fetch DynamoDB Local if missing, start it
//!   on a free port, run every workspace test against it, stop it (also on failure).
//! - `cargo xtask dev`: the whole stack natively; see `dev.rs`.
//! - `cargo xtask dev-check`: `dev` started, every printed URL checked, both APIs fuzzed
//!   from their OpenAPI documents, then stopped by SIGINT with nothing left behind; see
//!   `dev_check.rs`.
//! - `cargo xtask containers`: build the images and bring the compose stack up and down,
//!   checking each step; see `containers/` (a file per step, run by `containers/mod.rs`).
//! - `cargo xtask infra`: cfn-lint, checkov and the deploy rehearsal in moto; see `infra.rs`.
//! - `cargo xtask deploy --env NAME [ARGS]` / `cargo xtask destroy --env NAME [ARGS]`: one
//!   environment on AWS, prerequisites checked first, by `infra/deploy/deploy.py`; see
//!   `deploy.rs`.
//! - `cargo xtask bench [--quick]`: the side-by-side measurements; see `bench.rs`.
//! - `cargo xtask profile`: where each request's CPU goes (perf, flame graphs); `bench.rs`.
//! - `cargo xtask load [options]`: visitors walking a running site; see `load.rs`.
//! - `cargo xtask admin ARGS`: `cuddlekube-admin` against the stack `dev` runs.
//! - `cargo xtask gameday [ARGS]`: a game day on the stack `dev` runs; see `gameday.rs`.
//! - `cargo xtask trace REFERENCE`: a trace of the stack `dev` runs, read from its Jaeger;
//!   see `trace.rs`.
//! - `cargo xtask status [--watch]`: RED per route, DynamoDB and the alerts of the stack
//!   `dev` runs, from its Prometheus; see `status.rs`.
//! - `cargo xtask alert-rules`: write `docker/prometheus/rules.yaml` from
//!   `infra/monitoring.yaml` (the crate `telemetry-backends`, `alert_rules.rs`).
//! - `cargo xtask backends`: build Jaeger and the collector now; see `backends.rs`.
//! - `cargo xtask dynamodb-local`: DynamoDB Local in the foreground; see `dynamodb.rs`.
//!
//! Shared: `dynamodb.rs` (the workspace crate `dynamodb-local`, cached under
//! `target/dynamodb-local`), `backends.rs` (the workspace crate `telemetry-backends`,
//! cached under `target/telemetry`) and `http.rs` (ureq to services on 127.0.0.1).

mod backends;
mod bench;
mod containers;
mod deploy;
mod dev;
mod dev_check;
mod dynamodb;
mod gameday;
mod http;
mod infra;
mod load;
mod status;
mod test;
mod trace;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("test") => test::run(args.collect()),
        Some("dev") => dev::run(),
        Some("dev-check") => dev_check::run(),
        Some("containers") => containers::run(args.collect()),
        Some("infra") => infra::run(),
        Some(command @ ("deploy" | "destroy")) => deploy::run(command, args.collect()),
        Some("bench") => bench::run(args.collect()),
        Some("profile") => bench::profile(args.collect()),
        Some("load") => load::run(args.collect()),
        Some("admin") => dev::admin(args.collect()),
        Some("gameday") => gameday::run(args.collect()),
        Some("trace") => trace::run(args.collect()),
        Some("status") => status::run(args.collect()),
        Some("alert-rules") => alert_rules(),
        Some("backends") => backends::run(),
        Some("dynamodb-local") => dynamodb::serve_forever(),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 test [-- ARGS]    run every test against a fresh DynamoDB Local\n  \
                 dev               run the whole stack natively (DynamoDB Local + 3 services)\n  \
                 dev-check         start `dev`, check every URL it prints, fuzz the APIs, Ctrl-C it, check nothing is left\n  \
                 containers        lint, build and check the images and the compose stack\n  \
                 infra             lint the CloudFormation templates and rehearse their deploy in moto\n  \
                 deploy --env NAME  one environment to AWS: check, build and push, deploy, walk it as a visitor (`--help`)\n  \
                 destroy --env NAME delete that environment's stacks; list what is kept and what it costs a month\n  \
                 bench [--quick]   measure side by side (release build): ratios into target/bench/\n  \
                 profile           where each request's CPU goes: perf profiles, flame graphs in target/bench/profile/\n  \
                 load [OPTIONS]    visitors walking the site (`--target URL --rate N --duration D`)\n  \
                 admin ARGS        cuddlekube-admin against the stack `dev` runs (e.g. `faults list`)\n  \
                 gameday [ARGS]    a game day on the stack `dev` runs: find what is wrong (then `gameday answer ...`)\n  \
                 trace REFERENCE   a trace of the stack `dev` runs: span tree, culprit, log lines\n  \
                 status [--watch]  the stack `dev` runs: requests, errors, latency per route; DynamoDB; alerts\n  \
                 alert-rules       write docker/prometheus/rules.yaml from infra/monitoring.yaml\n  \
                 backends          build Jaeger and the collector from upstream (once; cached)\n  \
                 dynamodb-local    run DynamoDB Local in the foreground (prints its endpoint)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask alert-rules`: the compose stack's Prometheus rules, regenerated from the
/// monitoring template (real time scale).
fn alert_rules() -> anyhow::Result<()> {
    use telemetry_backends::alert_rules::COMPOSE_RULES;
    let slo = telemetry_backends::SloParameters::from_repository(&project_root())
        .map_err(anyhow::Error::msg)?;
    let path = project_root().join(COMPOSE_RULES);
    std::fs::create_dir_all(path.parent().expect("a folder"))?;
    std::fs::write(&path, slo.rules(1))?;
    println!("wrote {COMPOSE_RULES} ({})", slo.describe(1));
    Ok(())
}

/// A loopback port nobody listens on now: the one the tests' DynamoDB Local uses too.
use dynamodb_local::free_port;

/// A shell in the workspace root, for `xshell::cmd!`.
fn root_shell() -> anyhow::Result<xshell::Shell> {
    let sh = xshell::Shell::new()?;
    sh.change_dir(project_root());
    Ok(sh)
}

/// The workspace root (xtask lives at crates/xtask).
fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/xtask sits two levels below the root")
        .to_path_buf()
}
