//! Step 2b, stand-ins: the collector, Jaeger and Prometheus images compose.yaml runs, where
//! they cannot be pulled (no registry here), built with docker/standins.Containerfile as
//! ../shared/tools/container-standins.sh makes the base images' stand-ins: under the
//! official names and the versions .env pins, with the real images' layout, so
//! compose.yaml runs either unchanged. The collector and Jaeger come from the binaries the
//! local stacks use (`crate::backends`, cached under target/telemetry/), Prometheus from
//! Debian's package (`prometheus.rs`).
//!
//! An image of that name and tag without our label is the real one (pulled where a
//! registry answers): it is used as it is. A stand-in is built when its image is missing
//! and again when its binary changed (the label records the binary's path, whose folder
//! is named after its recipe, and its size and modification time). A pin that is not the
//! binary's own version is refused rather than built: a stand-in never claims a version it
//! is not.

use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use telemetry_backends::Binaries;

use super::build::{inspect_image, mb};
use super::podman::{clean_up, pinned_version};
use super::{BUILD_LIMIT, Ctx, prometheus};
use crate::project_root;

const CONTAINERFILE: &str = "docker/standins.Containerfile";
/// Labels on a stand-in: which binary it holds, and that binary's size and mtime.
const BINARY_LABEL: &str = "cuddlekube.standin.binary";
const STAMP_LABEL: &str = "cuddlekube.standin.stamp";

/// One image compose.yaml runs that this step can stand in for.
struct StandIn {
    /// The compose service, and the Containerfile's target of the same name.
    service: &'static str,
    /// compose.yaml's `image:` without its tag, as podman stores it.
    repository: &'static str,
    /// The .env variable that pins its tag.
    pin: &'static str,
    /// Where its program comes from.
    origin: Origin,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `Binaries::jaeger`, from the Go module docker/jaeger/go.mod pins.
    Jaeger,
    /// `Binaries::collector`, built from infra/collector/builder.yaml.
    Collector,
    /// Debian's package `prometheus`.
    DebianPrometheus,
}

const STANDINS: [StandIn; 3] = [
    StandIn {
        service: "jaeger",
        repository: "docker.io/jaegertracing/jaeger",
        pin: "JAEGER_VERSION",
        origin: Origin::Jaeger,
    },
    StandIn {
        service: "otel-collector",
        repository: "docker.io/otel/opentelemetry-collector-contrib",
        pin: "OTEL_COLLECTOR_VERSION",
        origin: Origin::Collector,
    },
    StandIn {
        service: "prometheus",
        repository: "docker.io/prom/prometheus",
        pin: "PROMETHEUS_VERSION",
        origin: Origin::DebianPrometheus,
    },
];

/// Every image present: the real ones, up-to-date stand-ins, or stand-ins built now.
pub(super) fn ensure_standins(ctx: &Ctx) -> anyhow::Result<()> {
    let binaries = crate::backends::ensure()?;
    let mut images = Vec::new();
    for standin in &STANDINS {
        ctx.check_stop()?;
        images.push(standin.ensure(ctx, &binaries)?);
    }
    println!("stand-in image sizes:");
    for image in images {
        let bytes = inspect_image(ctx, &image)?["Size"].as_u64().unwrap_or(0);
        println!("  {image:<56} {:>6.1} MB", mb(bytes));
    }
    Ok(())
}

impl StandIn {
    fn ensure(&self, ctx: &Ctx, binaries: &Binaries) -> anyhow::Result<String> {
        let version = pinned_version(ctx, self.pin)?;
        let image = format!("{}:{version}", self.repository);
        let existing = ctx
            .podman()
            .args(["image", "exists", &image])
            .quiet()
            .run()
            .is_ok();
        let inspect = if existing {
            let inspect = inspect_image(ctx, &image)?;
            if inspect["Config"]["Labels"][BINARY_LABEL].is_null() {
                println!("{image}: the real image is present; compose runs it");
                return Ok(image);
            }
            Some(inspect)
        } else {
            None
        };
        let binary_path = match self.origin {
            Origin::Jaeger => binaries.jaeger.clone(),
            Origin::Collector => binaries.collector.clone(),
            Origin::DebianPrometheus => prometheus::binary()?,
        };
        let binary = binary_path.as_path();
        let stamp = stamp(binary)?;
        let source = binary
            .strip_prefix(project_root())
            .unwrap_or(binary)
            .display()
            .to_string();
        let previous = if let Some(inspect) = inspect {
            let labels = &inspect["Config"]["Labels"];
            let built_from = labels[BINARY_LABEL].as_str().unwrap_or_default();
            if built_from == source && labels[STAMP_LABEL].as_str() == Some(stamp.as_str()) {
                println!("{image}: stand-in up to date (from {source})");
                return Ok(image);
            }
            println!("{image}: its binary changed (was {built_from}); building it again");
            inspect["Id"].as_str().map(str::to_owned)
        } else {
            println!("{image}: not present; building a stand-in from {source}");
            None
        };
        let actual = self.binary_version(binary)?;
        ensure!(
            actual == version,
            "{}={version} (.env), but the {} binary is {actual}: a stand-in would claim \
             a version it is not; pin {actual} in .env",
            self.pin,
            self.service
        );
        self.build(ctx, &image, binary, &version, &source, &stamp)?;
        let built = inspect_image(ctx, &image)?;
        ensure!(
            built["Config"]["Labels"][STAMP_LABEL].as_str() == Some(stamp.as_str()),
            "{image} was built, yet does not carry its binary's stamp ({stamp})"
        );
        // The stand-in the new one replaces lost its tag; nothing else uses it.
        if let Some(id) = previous.filter(|id| built["Id"].as_str() != Some(id)) {
            clean_up(ctx.podman().args(["rmi", &id]));
        }
        Ok(image)
    }

    fn build(
        &self,
        ctx: &Ctx,
        image: &str,
        binary: &Path,
        version: &str,
        source: &str,
        stamp: &str,
    ) -> anyhow::Result<()> {
        let (context, build_args) = self.build_context(binary, version)?;
        let started = Instant::now();
        // `--no-cache`: buildah's layer cache ignores `--label`, so a cached build would
        // keep the old stamp (a stand-in is a copy of a few files: seconds without a cache).
        ctx.bounded(BUILD_LIMIT, &ctx.tools.podman)
            .args(["build", "--pull=never", "--no-cache", "--format", "docker"])
            .args(["-f", CONTAINERFILE, "--target", self.service])
            .args(
                build_args
                    .iter()
                    .flat_map(|arg| ["--build-arg", arg.as_str()]),
            )
            .args(["--label", &format!("{BINARY_LABEL}={source}")])
            .args(["--label", &format!("{STAMP_LABEL}={stamp}")])
            .args([
                "--label",
                "org.opencontainers.image.description=local stand-in",
            ])
            .args(["-t", image])
            .arg(context)
            .run()
            .with_context(|| format!("podman build --target {} ({image})", self.service))?;
        println!("built {image} in {} s", started.elapsed().as_secs());
        Ok(())
    }

    /// The folder to build in, and the build arguments its target takes: the binary's own
    /// folder and its file name, or for Prometheus a folder filled from the package.
    fn build_context(
        &self,
        binary: &Path,
        version: &str,
    ) -> anyhow::Result<(PathBuf, Vec<String>)> {
        if self.origin == Origin::DebianPrometheus {
            return Ok((prometheus::build_context(version)?, Vec::new()));
        }
        let (folder, file) = binary
            .parent()
            .zip(binary.file_name())
            .with_context(|| format!("{} is not a file in a folder", binary.display()))?;
        Ok((
            folder.to_path_buf(),
            vec![format!("BINARY={}", file.to_string_lossy())],
        ))
    }

    /// The version the binary is, in the form the official image is tagged with.
    fn binary_version(&self, binary: &Path) -> anyhow::Result<String> {
        if self.origin == Origin::Jaeger {
            // The binary does not print its version (built from the module, not by
            // Jaeger's release scripts); its recipe pins the module.
            let recipe = project_root().join("docker/jaeger/go.mod");
            let go_mod = std::fs::read_to_string(&recipe)
                .with_context(|| format!("read {}", recipe.display()))?;
            let module = go_mod
                .lines()
                .find_map(|line| {
                    line.trim()
                        .strip_prefix("github.com/jaegertracing/jaeger v")
                })
                .and_then(|rest| rest.split_whitespace().next())
                .context("docker/jaeger/go.mod requires no github.com/jaegertracing/jaeger")?;
            return jaeger_v2_version(module);
        }
        let output = std::process::Command::new(binary)
            .arg("--version")
            .output()
            .with_context(|| format!("{} --version", binary.display()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        if self.origin == Origin::DebianPrometheus {
            return prometheus::image_tag(&text);
        }
        // "otelcol-cuddlekube version 0.152.0"
        text.split_whitespace()
            .last()
            .map(str::to_owned)
            .with_context(|| format!("{} --version printed nothing", binary.display()))
    }
}

/// Jaeger releases v1 and v2 together from one Go module, whose tags are the v1 numbers:
/// v1.63.0 is v2.0.0, and each release since adds one to both minors (v1.75.0 is v2.12.0).
fn jaeger_v2_version(module: &str) -> anyhow::Result<String> {
    let parts: Vec<u32> = module
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("Jaeger module version {module:?}"))?;
    let [1, minor, patch] = parts[..] else {
        bail!("Jaeger module version {module:?} is not v1.x.y");
    };
    ensure!(
        minor >= 63,
        "Jaeger module v{module} is older than v2 (v1.63.0)"
    );
    Ok(format!("2.{}.{patch}", minor - 63))
}

/// The binary's size and modification time: a binary rebuilt in place changes them.
fn stamp(binary: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(binary).with_context(|| format!("{}", binary.display()))?;
    let modified = meta.modified()?.duration_since(UNIX_EPOCH)?.as_nanos();
    Ok(format!("{} bytes, modified {modified}", meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_jaeger_module_versions_to_v2() {
        assert_eq!(jaeger_v2_version("1.75.0").unwrap(), "2.12.0");
        assert_eq!(jaeger_v2_version("1.63.0").unwrap(), "2.0.0");
        assert_eq!(jaeger_v2_version("1.76.1").unwrap(), "2.13.1");
        assert!(jaeger_v2_version("1.62.0").is_err());
        assert!(jaeger_v2_version("2.1.0").is_err());
        assert!(jaeger_v2_version("1.75").is_err());
    }
}
