//! What the image and compose steps share of podman: a guard that removes containers,
//! the engine's own healthcheck, the versions .env pins, and the DynamoDB Local image to
//! run.

use anyhow::{Context, ensure};

use xshell::Cmd;

use super::Ctx;

/// Containers removed (stopped at once) when dropped.
pub(super) struct Containers<'a>(pub(super) &'a Ctx, pub(super) Vec<String>);

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        if self.1.is_empty() {
            return;
        }
        clean_up(self.0.podman().args(["rm", "-f", "-t", "0"]).args(&self.1));
    }
}

/// The DynamoDB Local image: the version .env pins, or, when only the stand-in is present
/// (no registry here), the local `latest`.
pub(super) struct DynamoDbImage {
    pub(super) image: String,
    /// DYNAMODB_LOCAL_VERSION to give compose when it differs from the pin.
    pub(super) version_override: Option<String>,
}

impl DynamoDbImage {
    const REPOSITORY: &'static str = "docker.io/amazon/dynamodb-local";

    pub(super) fn resolve(ctx: &Ctx) -> anyhow::Result<Self> {
        let pinned = pinned_version(ctx, "DYNAMODB_LOCAL_VERSION")?;
        let exists = |tag: &str| {
            ctx.podman()
                .args(["image", "exists", &format!("{}:{tag}", Self::REPOSITORY)])
                .quiet()
                .run()
                .is_ok()
        };
        if exists(&pinned) {
            return Ok(Self {
                image: format!("{}:{pinned}", Self::REPOSITORY),
                version_override: None,
            });
        }
        ensure!(
            exists("latest"),
            "{}:{pinned} is not present and cannot be pulled here; run \
             ../shared/tools/container-standins.sh (it builds a stand-in)",
            Self::REPOSITORY
        );
        println!(
            "note: {}:{pinned} (pinned in .env) is not present; using the local :latest stand-in",
            Self::REPOSITORY
        );
        Ok(Self {
            image: format!("{}:latest", Self::REPOSITORY),
            version_override: Some("latest".into()),
        })
    }
}

/// An image version as compose resolves it: the shell's `key`, else the pin in .env.
pub(super) fn pinned_version(ctx: &Ctx, key: &str) -> anyhow::Result<String> {
    match std::env::var(key) {
        Ok(version) if !version.is_empty() => Ok(version),
        _ => dotenv_value(&ctx.sh.read_file(".env")?, key)
            .with_context(|| format!(".env does not pin {key}")),
    }
}

fn dotenv_value(dotenv: &str, key: &str) -> Option<String> {
    dotenv.lines().find_map(|line| {
        let (k, v) = line.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Runs a clean-up command for its effect only: a failure (often: nothing to remove) is
/// no error, and nothing of its output is shown.
pub(super) fn clean_up(command: Cmd<'_>) {
    let _ = command
        .quiet()
        .ignore_status()
        .ignore_stdout()
        .ignore_stderr()
        .output();
}

/// `podman healthcheck run`: the container's declared check, run now.
pub(super) fn healthcheck(ctx: &Ctx, container: &str) -> Result<(), String> {
    let output = ctx
        .podman()
        .args(["healthcheck", "run", container])
        .quiet()
        .ignore_status()
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_pinned_version_from_dotenv() {
        let dotenv = "# pins\nJAEGER_VERSION=2.12.0\nDYNAMODB_LOCAL_VERSION=\"3.3.0\"\n";
        assert_eq!(
            dotenv_value(dotenv, "DYNAMODB_LOCAL_VERSION").as_deref(),
            Some("3.3.0")
        );
        assert_eq!(dotenv_value(dotenv, "MISSING"), None);
    }
}
