//! `cargo xtask test`: the whole test suite against one DynamoDB Local.

use anyhow::Context;
use xshell::cmd;

use crate::{backends, dynamodb, infra};

/// Credentials and region DynamoDB Local accepts; they are not secrets.
pub const LOCAL_AWS_ENV: [(&str, &str); 3] = [
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "local"),
    ("AWS_SECRET_ACCESS_KEY", "local"),
];

pub fn run(extra: Vec<String>) -> anyhow::Result<()> {
    let sh = crate::root_shell()?;
    let cargo = env!("CARGO");
    // Build first so the compile does not count against DynamoDB Local's uptime.
    cmd!(sh, "{cargo} test --workspace --no-run")
        .run()
        .context("the tests do not compile")?;
    // Whole-stack tests start the service binaries as processes.
    cmd!(sh, "{cargo} build --workspace --bins")
        .run()
        .context("the binaries do not build")?;
    // The trace-based tests read Jaeger fed by the real collector; the collector test
    // runs the AWS config against moto's CloudWatch Logs.
    let binaries = backends::ensure()?;
    let moto = infra::python_tools()
        .context("the Python tools (moto, for the collector test)")?
        .join("moto_server");
    let jar_dir = dynamodb::ensure_jar()?;
    let local = dynamodb::start()?;
    eprintln!("xtask: DynamoDB Local is serving on {}", local.endpoint());
    // Arguments after `--` replace `--workspace` (e.g. `-- -p store feed`).
    let mut args: Vec<String> = extra.into_iter().skip_while(|a| a == "--").collect();
    if args.is_empty() {
        args.push("--workspace".into());
    }
    let tests = cmd!(sh, "{cargo} test {args...}")
        .envs(LOCAL_AWS_ENV)
        .env("AWS_ENDPOINT_URL_DYNAMODB", local.endpoint())
        // For tests that need a DynamoDB Local of their own (to stop it mid-test).
        .env(dynamodb_local::JAR_DIR_VAR, &jar_dir)
        .envs(binaries.env())
        .env("MOTO_SERVER", moto)
        .run();
    drop(local);
    tests.context("tests failed")?;
    eprintln!("xtask: all tests passed");
    Ok(())
}
