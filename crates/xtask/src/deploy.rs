//! `cargo xtask deploy --env NAME [ARGS]` and `cargo xtask destroy --env NAME [ARGS]`: one
//! environment on AWS, by `infra/deploy/deploy.py` (boto3, the same code the rehearsal runs
//! against moto). This module only makes or refreshes the venv of the pinned Python tools
//! (`infra::python_tools`) and hands every argument through; `deploy.py deploy --help`
//! lists them.

use std::process::Command;

use anyhow::Context;

use crate::infra::python_tools;
use crate::project_root;

/// `command` is `deploy` or `destroy`. Exits with the script's status, which means
/// something: 1 a step failed, 2 a prerequisite is missing or destroy was not confirmed
/// (nothing changed). The script prints its own errors, so nothing is added to them.
pub fn run(command: &str, args: Vec<String>) -> anyhow::Result<()> {
    let python = python_tools()?.join("python");
    let status = Command::new(&python)
        .arg("infra/deploy/deploy.py")
        .arg(command)
        .args(&args)
        .current_dir(project_root())
        .status()
        .with_context(|| format!("running {} infra/deploy/deploy.py", python.display()))?;
    if status.success() {
        return Ok(());
    }
    std::process::exit(status.code().unwrap_or(1));
}
