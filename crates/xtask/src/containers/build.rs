//! Step 2, build: the five images from docker/Dockerfile, one compile for all.

use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use super::{BUILD_LIMIT, Build, Ctx, TARGETS};

/// One `podman build` per target. They share every stage up to the builder, so only the
/// first compiles; the rest are cache hits plus one COPY.
pub(super) fn build_images(ctx: &Ctx) -> anyhow::Result<()> {
    let version_arg = format!("VERSION={}", ctx.build.version);
    let commit_arg = format!("GIT_COMMIT={}", ctx.build.commit);
    for target in TARGETS {
        ctx.check_stop()?;
        let started = Instant::now();
        ctx.bounded(BUILD_LIMIT, &ctx.tools.podman)
            .args(["build", "--pull=never", "--format", "docker"])
            .args(["-f", "docker/Dockerfile", "--target", target])
            .args(["--build-arg", &version_arg, "--build-arg", &commit_arg])
            .args(["-t", &Build::image(target), "."])
            .run()
            .with_context(|| format!("podman build --target {target}"))?;
        println!(
            "built {} in {} s",
            Build::image(target),
            started.elapsed().as_secs()
        );
    }
    println!("image sizes:");
    for target in TARGETS {
        let inspect = inspect_image(ctx, &Build::image(target))?;
        let bytes = inspect["Size"].as_u64().unwrap_or(0);
        println!("  {:<40} {:>6.1} MB", Build::image(target), mb(bytes));
    }
    Ok(())
}

/// Megabytes (10^6 bytes, as `podman images` counts them); only printed.
pub(super) fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

pub(super) fn inspect_image(ctx: &Ctx, image: &str) -> anyhow::Result<Value> {
    let json = ctx
        .podman()
        .args(["image", "inspect", image])
        .quiet()
        .read()?;
    let mut all: Value = serde_json::from_str(&json).context("podman image inspect: not JSON")?;
    Ok(all[0].take())
}
