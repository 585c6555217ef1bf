//! Step 1, lint: hadolint on every Dockerfile and Containerfile, and compose.yaml read by
//! both Compose v2 and podman-compose.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};

use super::{COMMAND_LIMIT, Ctx};
use crate::project_root;

/// hadolint fails on any finding (its default threshold), so a new warning breaks CI.
pub(super) fn lint_dockerfiles(ctx: &Ctx) -> anyhow::Result<()> {
    let root = project_root();
    let mut dockerfiles = Vec::new();
    find_dockerfiles(&root, &mut dockerfiles)?;
    ensure!(!dockerfiles.is_empty(), "no Dockerfile found");
    for dockerfile in &dockerfiles {
        let relative = dockerfile.strip_prefix(&root).unwrap_or(dockerfile);
        ctx.bounded(COMMAND_LIMIT, &ctx.tools.hadolint)
            .arg(relative)
            .run()
            .with_context(|| format!("hadolint {}", relative.display()))?;
        println!("hadolint: {} is clean", relative.display());
    }
    Ok(())
}

fn find_dockerfiles(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                find_dockerfiles(&path, found)?;
            }
        } else if is_container_file(&name) {
            found.push(path);
        }
    }
    found.sort();
    Ok(())
}

/// Docker's and podman's names for a build file: `Dockerfile`, `Dockerfile.x`,
/// `x.dockerfile`, and the same with `Containerfile`.
fn is_container_file(name: &str) -> bool {
    ["Dockerfile", "Containerfile"].iter().any(|kind| {
        name == *kind
            || name.starts_with(&format!("{kind}."))
            || name
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", kind.to_ascii_lowercase()))
    })
}

/// Compose v2 is the reference parser (what users run); podman-compose must read the same
/// files too, since the smoke run below uses it.
pub(super) fn validate_compose_files(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.bounded(COMMAND_LIMIT, &ctx.tools.docker_compose)
        .args(["-f", "compose.yaml", "config", "-q"])
        .run()
        .context("docker-compose config -q")?;
    ctx.bounded(COMMAND_LIMIT, &ctx.tools.podman_compose)
        .args(["-f", "compose.yaml", "config"])
        .quiet()
        .ignore_stdout()
        .run()
        .context("podman-compose config")?;
    println!("compose config: compose.yaml is valid");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_dockerfiles_and_containerfiles() {
        for name in [
            "Dockerfile",
            "Dockerfile.dev",
            "web.dockerfile",
            "Containerfile",
            "standins.Containerfile",
        ] {
            assert!(is_container_file(name), "{name}");
        }
        for name in ["compose.yaml", "Dockerfiles.md", "dockerfile.rs"] {
            assert!(!is_container_file(name), "{name}");
        }
    }
}
