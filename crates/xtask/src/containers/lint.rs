//! Step 1, lint: hadolint on every Dockerfile, and compose.yaml (alone and with the
//! compose.ci.yaml overlay) read by both Compose v2 and podman-compose.

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
        } else if name == "Dockerfile"
            || name.starts_with("Dockerfile.")
            || name.to_ascii_lowercase().ends_with(".dockerfile")
        {
            found.push(path);
        }
    }
    found.sort();
    Ok(())
}

/// Compose v2 is the reference parser (what users run); podman-compose must read the same
/// files too, since the smoke run below uses it.
pub(super) fn validate_compose_files(ctx: &Ctx) -> anyhow::Result<()> {
    for files in [
        &["compose.yaml"][..],
        &["compose.yaml", "compose.ci.yaml"][..],
    ] {
        let file_args: Vec<&str> = files.iter().flat_map(|f| ["-f", *f]).collect();
        ctx.bounded(COMMAND_LIMIT, &ctx.tools.docker_compose)
            .args(&file_args)
            .args(["config", "-q"])
            .run()
            .with_context(|| format!("docker-compose config -q for {}", files.join(" + ")))?;
        ctx.bounded(COMMAND_LIMIT, &ctx.tools.podman_compose)
            .args(&file_args)
            .arg("config")
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| format!("podman-compose config for {}", files.join(" + ")))?;
        println!("compose config: {} is valid", files.join(" + "));
    }
    Ok(())
}
