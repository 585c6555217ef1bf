//! `cargo xtask bench [--quick]`: builds everything in release mode and runs
//! `cuddlekube-bench` (crates/bench), which starts DynamoDB Local and the services
//! itself and prints its tables of ratios (also in target/bench/latest.{md,json}).
//! The load generator is a release binary too, so it is not what limits the numbers.

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
