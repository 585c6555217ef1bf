//! The two platforms Fargate runs (`CpuArchitecture` X86_64 and ARM64, Graviton) and what
//! building and running images for both needs here: the runtime base for each, one image
//! index per name, and the emulator that runs the other architecture's containers.
//!
//! Images are built per platform (`cuddlekube/<target>:smoke-amd64`, `…-arm64`) and put
//! together under `cuddlekube/<target>:smoke` as a manifest list, as `docker buildx
//! --platform linux/amd64,linux/arm64` pushes them; an engine given that name runs the
//! machine's own platform.

use anyhow::{Context, ensure};

use super::build::inspect_image;
use super::podman::clean_up;
use super::{BUILD_LIMIT, Ctx};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Platform {
    Amd64,
    Arm64,
}

impl Platform {
    pub(super) const ALL: [Platform; 2] = [Platform::Amd64, Platform::Arm64];

    /// The architecture as OCI and TARGETARCH name it.
    pub(super) fn arch(self) -> &'static str {
        match self {
            Platform::Amd64 => "amd64",
            Platform::Arm64 => "arm64",
        }
    }

    /// `linux/<arch>`, for `--platform`.
    pub(super) fn os_arch(self) -> String {
        format!("linux/{}", self.arch())
    }

    /// The platform of the machine this runs on (the builder's: BUILDPLATFORM).
    pub(super) fn host() -> anyhow::Result<Platform> {
        match std::env::consts::ARCH {
            "x86_64" => Ok(Platform::Amd64),
            "aarch64" => Ok(Platform::Arm64),
            other => anyhow::bail!("images are built on amd64 or arm64 machines, not {other}"),
        }
    }
}

/// docker/Dockerfile's runtime base, by the per-architecture tags gcr.io gives it
/// (`:nonroot-amd64`, `:nonroot-arm64`). The stand-in of ../shared/tools/container-standins.sh
/// is `:nonroot` for the machine's platform only: it is tagged as that platform's, and the
/// other platform's is built from docker/standins.Containerfile.
const RUNTIME_BASE: &str = "gcr.io/distroless/cc-debian12:nonroot";
const STANDINS_CONTAINERFILE: &str = "docker/standins.Containerfile";

pub(super) fn ensure_runtime_base(ctx: &Ctx) -> anyhow::Result<()> {
    let host = Platform::host()?;
    for platform in Platform::ALL {
        let base = format!("{RUNTIME_BASE}-{}", platform.arch());
        if let Ok(image) = inspect_image(ctx, &base) {
            let arch = image["Architecture"].as_str().unwrap_or_default();
            ensure!(arch == platform.arch(), "{base} is {arch}");
            println!("{base}: present");
            continue;
        }
        if platform == host {
            let image = inspect_image(ctx, RUNTIME_BASE).with_context(|| {
                format!(
                    "neither {base} nor {RUNTIME_BASE} is present: run \
                     ../shared/tools/container-standins.sh"
                )
            })?;
            let arch = image["Architecture"].as_str().unwrap_or_default();
            ensure!(
                arch == host.arch(),
                "{RUNTIME_BASE} is {arch}, this machine {}",
                host.arch()
            );
            ctx.podman().args(["tag", RUNTIME_BASE, &base]).run()?;
            println!("{base}: tagged from {RUNTIME_BASE}");
            continue;
        }
        ensure!(
            platform == Platform::Arm64,
            "{base} is missing and no stand-in for it is made here"
        );
        let context = ctx.sh.create_temp_dir()?;
        ctx.bounded(BUILD_LIMIT, &ctx.tools.podman)
            .args(["build", "--pull=never", "--format", "docker"])
            .args(["--platform", &platform.os_arch()])
            .args(["--build-arg", &format!("BUILDPLATFORM={}", host.os_arch())])
            .args([
                "-f",
                STANDINS_CONTAINERFILE,
                "--target",
                "distroless-cc-arm64",
            ])
            .args(["-t", &base])
            .arg(context.path())
            .run()
            .with_context(|| format!("build the stand-in {base}"))?;
        println!("{base}: stand-in built");
    }
    Ok(())
}

/// `name` as a manifest list of the local images `instances`, one per platform (replacing
/// whatever image or list held the name; the images keep their own tags).
pub(super) fn manifest_list(ctx: &Ctx, name: &str, instances: &[String]) -> anyhow::Result<()> {
    if list_platforms(ctx, name)?.is_some() {
        ctx.podman().args(["manifest", "rm", name]).quiet().run()?;
    } else {
        clean_up(ctx.podman().args(["untag", name, name]));
    }
    ctx.podman()
        .args(["manifest", "create", name])
        .quiet()
        .ignore_stdout()
        .run()?;
    for instance in instances {
        ctx.podman()
            .args(["manifest", "add", name])
            .arg(format!("containers-storage:{}", local_name(instance)))
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| format!("add {instance} to {name}"))?;
    }
    let offered = list_platforms(ctx, name)?.unwrap_or_default();
    let wanted: Vec<&str> = Platform::ALL.iter().map(|p| p.arch()).collect();
    ensure!(
        offered == wanted,
        "{name} offers {offered:?}, expected {wanted:?}"
    );
    Ok(())
}

/// A local image's full name: podman keeps an image built under a short name
/// (`cuddlekube/admin:smoke`) as `localhost/…`, and the `containers-storage:` transport
/// does not search for it as the CLI does.
fn local_name(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        image.to_owned()
    } else {
        format!("localhost/{image}")
    }
}

/// The architectures a local manifest list offers, sorted; None when `name` is no list.
fn list_platforms(ctx: &Ctx, name: &str) -> anyhow::Result<Option<Vec<String>>> {
    let Ok(json) = ctx
        .podman()
        .args(["manifest", "inspect", name])
        .quiet()
        .ignore_stderr()
        .read()
    else {
        return Ok(None);
    };
    let list: serde_json::Value =
        serde_json::from_str(&json).context("podman manifest inspect: not JSON")?;
    let mut arches: Vec<String> = list["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["platform"]["architecture"].as_str().map(str::to_owned))
        .collect();
    arches.sort();
    Ok(Some(arches))
}

/// Containers of a platform other than the machine's run through the kernel's
/// binfmt_misc, handing their binaries to qemu's user-mode emulator. Says how to
/// register it when it is not (`.ci/run` does, as `docker run --privileged
/// tonistiigi/binfmt --install arm64` does elsewhere).
pub(super) fn require_emulation(platform: Platform) -> anyhow::Result<()> {
    if Platform::host()? == platform {
        return Ok(());
    }
    let entry = match platform {
        Platform::Arm64 => "/proc/sys/fs/binfmt_misc/qemu-aarch64",
        Platform::Amd64 => "/proc/sys/fs/binfmt_misc/qemu-x86_64",
    };
    let status = std::fs::read_to_string(entry).unwrap_or_default();
    let fixed = status.lines().any(|line| {
        line.strip_prefix("flags: ")
            .is_some_and(|f| f.contains('F'))
    });
    ensure!(
        status.starts_with("enabled") && fixed,
        "{} containers cannot run here: {entry} is not an enabled binfmt_misc entry with \
         flag F (the emulator opened at registration, so it works inside containers). \
         Register qemu-user-static's entry as .ci/run does (`cat \
         /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register`), or \
         enable it if it is there (`echo 1 > {entry}`)",
        platform.arch()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_local_images_as_podman_stores_them() {
        assert_eq!(
            local_name("cuddlekube/admin:smoke"),
            "localhost/cuddlekube/admin:smoke"
        );
        assert_eq!(local_name("admin:smoke"), "localhost/admin:smoke");
        assert_eq!(
            local_name("gcr.io/distroless/cc-debian12:nonroot"),
            "gcr.io/distroless/cc-debian12:nonroot"
        );
        assert_eq!(local_name("localhost/x:1"), "localhost/x:1");
        assert_eq!(local_name("127.0.0.1:5000/x:1"), "127.0.0.1:5000/x:1");
    }
}
