//! Step 2, build: the five images from docker/Dockerfile for both platforms, one compile
//! per platform, each target's two images put together as one image index.

use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use super::platforms::{Platform, manifest_list};
use super::{BUILD_LIMIT, Build, Ctx, TARGETS};

/// One `podman build` per target and platform. A platform's targets share every stage up
/// to the builder, so only its first target compiles; the rest are cache hits plus one
/// COPY. The builder runs on this machine's platform and cross-compiles for the other.
pub(super) fn build_images(ctx: &Ctx) -> anyhow::Result<()> {
    let version_arg = format!("VERSION={}", ctx.build.version);
    let commit_arg = format!("GIT_COMMIT={}", ctx.build.commit);
    // podman 4 does not set BUILDPLATFORM itself (BuildKit does).
    let build_platform_arg = format!("BUILDPLATFORM={}", Platform::host()?.os_arch());
    for platform in Platform::ALL {
        for target in TARGETS {
            ctx.check_stop()?;
            let image = Build::image_for(target, platform);
            let started = Instant::now();
            ctx.bounded(BUILD_LIMIT, &ctx.tools.podman)
                .args(["build", "--pull=never", "--format", "docker"])
                .args(["--platform", &platform.os_arch()])
                .args(["-f", "docker/Dockerfile", "--target", target])
                .args(["--build-arg", &build_platform_arg])
                .args(["--build-arg", &version_arg, "--build-arg", &commit_arg])
                .args(["-t", &image, "."])
                .run()
                .with_context(|| format!("podman build --target {target} ({image})"))?;
            println!("built {image} in {} s", started.elapsed().as_secs());
        }
    }
    for target in TARGETS {
        let instances = Platform::ALL.map(|p| Build::image_for(target, p));
        manifest_list(ctx, &Build::image(target), &instances)?;
    }
    println!("image sizes (uncompressed, as `podman images` counts them):");
    let arches: String = Platform::ALL
        .iter()
        .map(|p| format!(" {:>9}", p.arch()))
        .collect();
    println!("  {:<32}{arches}", "image index");
    for target in TARGETS {
        let mut sizes = String::new();
        for platform in Platform::ALL {
            let inspect = inspect_image(ctx, &Build::image_for(target, platform))?;
            let megabytes = mb(inspect["Size"].as_u64().unwrap_or(0));
            sizes.push_str(&format!(" {megabytes:>6.1} MB"));
        }
        println!("  {:<32}{sizes}", Build::image(target));
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
