//! The Prometheus stand-in's makings (`standins.rs` builds it): Debian's package
//! `prometheus`, whose files are copied into a build context laid out as the official
//! prom/prometheus image is (docker/standins.Containerfile, target `prometheus`).
//!
//! Debian builds the binary without the React UI; it serves the classic UI from
//! /usr/share/prometheus/web, a path compiled into it (seen with strace: the templates and
//! static files are opened there on each request), so that tree goes to the same path in
//! the image, its symlinks into other Debian packages (jQuery, Bootstrap, ...) followed.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};

use crate::project_root;

/// The package's server; promtool sits beside it.
pub(super) const BINARY: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";
/// The classic UI's templates and static files, where the binary looks for them.
const WEB: &str = "usr/share/prometheus/web";
/// Upstream's example config, console templates and libraries, which the official image
/// carries; Debian ships them as documentation.
const EXAMPLES: &str = "/usr/share/doc/prometheus/examples";
/// Under WEB: moment-timezone's raw zone data (200 MB), which no page loads (they load
/// static/moment-timezone/moment-timezone-with-data.min.js).
const UNUSED: [&str; 1] = ["static/moment-timezone/data"];

/// The binary, or what to do without it.
pub(super) fn binary() -> anyhow::Result<PathBuf> {
    let binary = PathBuf::from(BINARY);
    ensure!(
        binary.is_file(),
        "{BINARY} is missing: the prom/prometheus stand-in is built from Debian's package \
         (`apt-get install prometheus`)"
    );
    Ok(binary)
}

/// The image tag the binary's version stands for: `prometheus --version` prints
/// "prometheus, version 2.42.0+ds (branch: ...)"; "+ds" marks Debian's repacked source of
/// upstream 2.42.0, which prom/prometheus tags v2.42.0.
pub(super) fn image_tag(version_output: &str) -> anyhow::Result<String> {
    let version = version_output
        .split_whitespace()
        .skip_while(|word| *word != "version")
        .nth(1)
        .with_context(|| format!("no version in {version_output:?}"))?;
    let upstream = version.split('+').next().unwrap_or(version);
    ensure!(
        upstream.split('.').count() == 3 && upstream.split('.').all(|n| n.parse::<u32>().is_ok()),
        "version {version:?} is not major.minor.patch"
    );
    Ok(format!("v{upstream}"))
}

/// Fills target/telemetry/prometheus-<tag>/ afresh with the image's files, at the paths
/// the image has them (the Containerfile copies `bin/`, `usr/`, `etc/prometheus/` and the
/// empty `prometheus/`), and returns it.
pub(super) fn build_context(tag: &str) -> anyhow::Result<PathBuf> {
    let context = project_root()
        .join("target/telemetry")
        .join(format!("prometheus-{tag}"));
    if context.exists() {
        std::fs::remove_dir_all(&context)
            .with_context(|| format!("remove {}", context.display()))?;
    }
    let examples = Path::new(EXAMPLES);
    ensure!(
        examples.is_dir(),
        "{EXAMPLES} is missing (the package `prometheus` installs it; is /usr/share/doc \
         excluded from dpkg here?)"
    );
    for (from, to) in [
        (Path::new(BINARY), "bin/prometheus"),
        (Path::new(PROMTOOL), "bin/promtool"),
        (
            &examples.join("prometheus.yml"),
            "etc/prometheus/prometheus.yml",
        ),
    ] {
        copy_tree(from, &context.join(to), &[])?;
    }
    for dir in ["consoles", "console_libraries"] {
        let shared = format!("/usr/share/prometheus/{dir}");
        copy_tree(&examples.join(dir), &context.join(&shared[1..]), &[])?;
        // As the official image links them, for configs that name them there.
        let link = context.join("etc/prometheus").join(dir);
        std::os::unix::fs::symlink(&shared, &link)
            .with_context(|| format!("link {} to {shared}", link.display()))?;
    }
    copy_tree(&Path::new("/").join(WEB), &context.join(WEB), &UNUSED)?;
    std::fs::create_dir_all(context.join("prometheus"))?;
    Ok(context)
}

/// Copies a file, or a folder and everything under it except the relative paths in
/// `skip`, following symlinks (the copy has none).
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> anyhow::Result<()> {
    copy_below(from, to, Path::new(""), skip)
}

fn copy_below(from: &Path, to: &Path, relative: &Path, skip: &[&str]) -> anyhow::Result<()> {
    let meta = std::fs::metadata(from).with_context(|| format!("{}", from.display()))?;
    if meta.is_dir() {
        std::fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
        for entry in std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
            let name = entry?.file_name();
            let relative = relative.join(&name);
            if skip.iter().any(|skipped| relative == Path::new(skipped)) {
                continue;
            }
            copy_below(&from.join(&name), &to.join(&name), &relative, skip)?;
        }
    } else if meta.is_file() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to)
            .with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
    } else {
        bail!("{} is neither a file nor a folder", from.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_debian_versions_as_upstream_releases() {
        let output = "prometheus, version 2.42.0+ds (branch: debian/sid, revision: \
                      2.42.0+ds-5+deb12u1)\n  build user: team+pkg-go@tracker.debian.org\n";
        assert_eq!(image_tag(output).unwrap(), "v2.42.0");
        assert_eq!(
            image_tag("prometheus, version 2.53.1 (branch: HEAD)").unwrap(),
            "v2.53.1"
        );
        assert!(image_tag("prometheus").is_err());
        assert!(image_tag("prometheus, version 2.42 (branch: x)").is_err());
    }
}
