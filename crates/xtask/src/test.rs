//! `cargo xtask test`: the whole test suite against one DynamoDB Local.

use std::process::Command;

use anyhow::bail;

use crate::dynamodb;
use crate::project_root;

/// Credentials and region DynamoDB Local accepts; they are not secrets.
pub const LOCAL_AWS_ENV: [(&str, &str); 3] = [
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "local"),
    ("AWS_SECRET_ACCESS_KEY", "local"),
];

pub fn run(extra: Vec<String>) -> anyhow::Result<()> {
    // Build first so the compile does not count against DynamoDB Local's uptime.
    let status = Command::new(env!("CARGO"))
        .args(["test", "--workspace", "--no-run"])
        .current_dir(project_root())
        .status()?;
    if !status.success() {
        bail!("the tests do not compile");
    }
    // Whole-stack tests start the service binaries as processes.
    let status = Command::new(env!("CARGO"))
        .args(["build", "--workspace", "--bins"])
        .current_dir(project_root())
        .status()?;
    if !status.success() {
        bail!("the binaries do not build");
    }
    let jar_dir = dynamodb::ensure_jar()?;
    let local = dynamodb::start()?;
    eprintln!("xtask: DynamoDB Local is serving on {}", local.endpoint());
    // Arguments after `--` replace `--workspace` (e.g. `-- -p store feed`).
    let mut args: Vec<String> = extra.into_iter().skip_while(|a| a == "--").collect();
    if args.is_empty() {
        args.push("--workspace".into());
    }
    let status = Command::new(env!("CARGO"))
        .arg("test")
        .args(&args)
        .envs(LOCAL_AWS_ENV)
        .env("AWS_ENDPOINT_URL_DYNAMODB", local.endpoint())
        // For tests that need a DynamoDB Local of their own (to stop it mid-test).
        .env(dynamodb_local::JAR_DIR_VAR, &jar_dir)
        .current_dir(project_root())
        .status()?;
    drop(local);
    if !status.success() {
        bail!("tests failed");
    }
    eprintln!("xtask: all tests passed");
    Ok(())
}
