//! `cargo xtask test`: the whole test suite against one DynamoDB Local.

use std::path::PathBuf;

use anyhow::Context;
use xshell::cmd;

use crate::{backends, dynamodb};

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
    // runs the AWS config against moto's CloudWatch Logs, the game day test reads moto's
    // CloudWatch alarms.
    let binaries = backends::ensure()?;
    let moto = moto_server().context("moto, for the collector and game day tests")?;
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

/// `moto_server` in `target/moto-venv`, installed from `tests/moto-requirements.txt` (see
/// there why not from infra/requirements.txt).
fn moto_server() -> anyhow::Result<PathBuf> {
    let sh = crate::root_shell()?;
    let venv = crate::project_root().join("target/moto-venv");
    let pip = venv.join("bin/pip");
    if !pip.is_file() {
        cmd!(sh, "python3 -m venv {venv}").run()?;
    }
    cmd!(
        sh,
        "{pip} install --quiet --disable-pip-version-check -r tests/moto-requirements.txt"
    )
    .run()?;
    Ok(venv.join("bin/moto_server"))
}
