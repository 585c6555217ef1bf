//! `cargo xtask bench [--quick]`: builds everything in release mode and runs
//! `cuddlekube-bench` (crates/bench), which starts DynamoDB Local and the services
//! itself and prints its tables of ratios (also in target/bench/latest.{md,json}).
//! The load generator is a release binary too, so it is not what limits the numbers.
//!
//! `cargo xtask profile`: the same binaries built with symbols (profile `profiling`),
//! then `cuddlekube-bench --profile`: CPU per request and a perf profile of each
//! service under load, as flame graphs and shares (target/bench/profile/).

use anyhow::{Context, bail};

use crate::project_root;
use crate::{backends, dynamodb, infra};

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let quick = match args.as_slice() {
        [] => false,
        [flag] if flag == "--quick" => true,
        _ => bail!("usage: cargo xtask bench [--quick]"),
    };
    let sh = crate::root_shell()?;
    let cargo = env!("CARGO");
    xshell::cmd!(sh, "{cargo} build --release --workspace --bins")
        .run()
        .context("the release build failed")?;
    let jar = dynamodb::ensure_jar()?;
    // The trace gateway's figures run the real collector in front of moto's CloudWatch.
    let binaries = backends::ensure()?;
    let moto = infra::python_tools()?.join("moto_server");
    let bench = project_root().join("target/release/cuddlekube-bench");
    let quick = quick.then_some("--quick");
    xshell::cmd!(sh, "{bench} {quick...}")
        .env(dynamodb_local::JAR_DIR_VAR, jar)
        .envs(binaries.env())
        .env("MOTO_SERVER", moto)
        .run()
        .context("the bench failed")?;
    Ok(())
}

pub fn profile(args: Vec<String>) -> anyhow::Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask profile");
    }
    let sh = crate::root_shell()?;
    if xshell::cmd!(sh, "perf --version")
        .quiet()
        .ignore_stdout()
        .run()
        .is_err()
    {
        bail!("perf is not installed: apt-get install linux-perf");
    }
    let cargo = env!("CARGO");
    xshell::cmd!(sh, "{cargo} build --profile profiling --workspace --bins")
        .run()
        .context("the profiling build failed")?;
    let jar = dynamodb::ensure_jar()?;
    let bench = project_root().join("target/profiling/cuddlekube-bench");
    xshell::cmd!(sh, "{bench} --profile")
        .env(dynamodb_local::JAR_DIR_VAR, jar)
        .run()
        .context("profiling failed")?;
    Ok(())
}
