//! Building Jaeger and the collector from their Go modules, once per recipe.
//!
//! A binary lives in `<cache>/<name>-<key>/`, where the key is a hash of its recipe
//! files: a changed pin builds anew, an unchanged one is reused (offline). A build goes
//! to a temporary folder renamed into place when it succeeded, so an interrupted one
//! leaves nothing that looks built. Go's own module and build caches make a rebuild on
//! the same machine a matter of linking.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Where `cargo xtask test` tells the tests the binaries are.
pub const JAEGER_BIN_VAR: &str = "CUDDLEKUBE_JAEGER_BIN";
pub const COLLECTOR_BIN_VAR: &str = "CUDDLEKUBE_OTELCOL_BIN";

/// Jaeger's recipe: a Go module whose only content is the `tool` line and the pins.
const JAEGER_RECIPE: &str = "docker/jaeger";
const JAEGER_PACKAGE: &str = "github.com/jaegertracing/jaeger/cmd/jaeger";
/// The collector's recipe: the builder's manifest, and the builder at the same release.
const COLLECTOR_MANIFEST: &str = "infra/collector/builder.yaml";
const BUILDER: &str = "go.opentelemetry.io/collector/cmd/builder@v0.152.0";
const COLLECTOR_NAME: &str = "otelcol-cuddlekube";

/// The two programs, ready to run.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub jaeger: PathBuf,
    pub collector: PathBuf,
}

impl Binaries {
    /// The binaries `cargo xtask test` names in [`JAEGER_BIN_VAR`] and
    /// [`COLLECTOR_BIN_VAR`], if both are set.
    pub fn from_env() -> Option<Self> {
        Some(Self {
            jaeger: std::env::var_os(JAEGER_BIN_VAR)?.into(),
            collector: std::env::var_os(COLLECTOR_BIN_VAR)?.into(),
        })
    }

    /// `NAME=path` for both, for processes that run tests.
    pub fn env(&self) -> [(&'static str, &Path); 2] {
        [
            (JAEGER_BIN_VAR, &self.jaeger),
            (COLLECTOR_BIN_VAR, &self.collector),
        ]
    }
}

#[derive(Debug)]
pub enum BuildError {
    /// No `go` on PATH: said in one line, with what to do.
    NoGo,
    /// A step failed; its whole output is in `log`.
    Failed {
        what: String,
        log: PathBuf,
        last_line: String,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoGo => f.write_str(
                "Go is not installed: Jaeger and the collector are built from their Go \
                 modules, which needs Go 1.26 or newer and the Go module proxy",
            ),
            Self::Failed {
                what,
                log,
                last_line,
            } => write!(
                f,
                "{what} failed: {last_line} (whole output: {})",
                log.display()
            ),
            Self::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<std::io::Error> for BuildError {
    fn from(err: std::io::Error) -> Self {
        Self::Io(err)
    }
}

/// Both binaries for the current recipes if they are built already; never builds.
pub fn cached(root: &Path, cache: &Path) -> Option<Binaries> {
    let binaries = Binaries {
        jaeger: jaeger_dir(root, cache).ok()?.join("jaeger"),
        collector: collector_dir(root, cache).ok()?.join(COLLECTOR_NAME),
    };
    (binaries.jaeger.is_file() && binaries.collector.is_file()).then_some(binaries)
}

/// Both binaries for the current recipes, built first where missing (minutes each, cold;
/// progress on stderr).
pub fn build(root: &Path, cache: &Path) -> Result<Binaries, BuildError> {
    if let Some(binaries) = cached(root, cache) {
        return Ok(binaries);
    }
    let go_found = Command::new("go")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !go_found {
        return Err(BuildError::NoGo);
    }
    let jaeger_dir = jaeger_dir(root, cache)?;
    build_once(&jaeger_dir, "Jaeger (docker/jaeger/go.mod)", |work, log| {
        go(
            &root.join(JAEGER_RECIPE),
            &["build", "-trimpath", "-ldflags=-s -w", "-o"],
            &[work.join("jaeger").as_os_str(), JAEGER_PACKAGE.as_ref()],
            log,
            "go build (Jaeger)",
        )
    })?;
    let collector_dir = collector_dir(root, cache)?;
    build_once(
        &collector_dir,
        "the OpenTelemetry Collector (infra/collector/builder.yaml)",
        |work, log| {
            let manifest = root.join(COLLECTOR_MANIFEST);
            // The builder writes the distribution's sources (main.go, go.mod) ...
            go(
                work,
                &[
                    "run",
                    BUILDER,
                    "--skip-get-modules",
                    "--skip-compilation",
                    "--config",
                ],
                &[manifest.as_os_str()],
                log,
                "the collector builder",
            )?;
            let sources = work.join("otelcol");
            // ... whose module graph `tidy` completes. `-e`: tidy also wants the test-only
            // packages of every dependency, some of which the proxy does not serve at this
            // release; the build needs none of them.
            go(&sources, &["mod", "tidy", "-e"], &[], log, "go mod tidy")?;
            go(
                &sources,
                &["build", "-trimpath", "-ldflags=-s -w", "-o"],
                &[work.join(COLLECTOR_NAME).as_os_str(), ".".as_ref()],
                log,
                "go build (collector)",
            )?;
            std::fs::remove_dir_all(&sources)?;
            Ok(())
        },
    )?;
    cached(root, cache).ok_or_else(|| {
        BuildError::Io(std::io::Error::other(
            "the build succeeded, yet its binaries are not where they belong",
        ))
    })
}

fn jaeger_dir(root: &Path, cache: &Path) -> std::io::Result<PathBuf> {
    let recipe = root.join(JAEGER_RECIPE);
    let key = key(&[
        &std::fs::read(recipe.join("go.mod"))?,
        &std::fs::read(recipe.join("go.sum"))?,
    ]);
    Ok(cache.join(format!("jaeger-{key}")))
}

fn collector_dir(root: &Path, cache: &Path) -> std::io::Result<PathBuf> {
    let manifest = std::fs::read(root.join(COLLECTOR_MANIFEST))?;
    Ok(cache.join(format!("otelcol-{}", key(&[&manifest, BUILDER.as_bytes()]))))
}

/// FNV-1a over the recipe's bytes: a stable name for "this recipe", not a security hash.
fn key(parts: &[&[u8]]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|part| part.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Runs `steps` in a fresh work folder and renames it to `dir` when they succeed.
fn build_once(
    dir: &Path,
    what: &str,
    steps: impl FnOnce(&Path, &Path) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().expect("a cache folder");
    std::fs::create_dir_all(parent)?;
    let work = dir.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let log = dir.with_extension("log");
    std::fs::write(&log, "")?;
    eprintln!(
        "building {what} from upstream, once (a cold build takes about 5 minutes on 2 cores; \
         output in {})",
        log.display()
    );
    let started = Instant::now();
    steps(&work, &log)?;
    // Another process may have finished the same build meanwhile: either copy will do.
    if std::fs::rename(&work, dir).is_err() && dir.is_dir() {
        let _ = std::fs::remove_dir_all(&work);
    }
    eprintln!("built {what} in {} s", started.elapsed().as_secs());
    Ok(())
}

/// `go ARGS EXTRA` in `dir`, its output appended to `log`.
fn go(
    dir: &Path,
    args: &[&str],
    extra: &[&std::ffi::OsStr],
    log: &Path,
    what: &str,
) -> Result<(), BuildError> {
    let out = std::fs::OpenOptions::new().append(true).open(log)?;
    let status = Command::new("go")
        .args(args)
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()?;
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    Err(BuildError::Failed {
        what: what.to_owned(),
        log: log.to_owned(),
        last_line: text
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("no output")
            .trim()
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipe_change_is_a_new_key() {
        assert_eq!(key(&[b"go.mod", b"go.sum"]), key(&[b"go.mod", b"go.sum"]));
        assert_ne!(key(&[b"v1.75.0"]), key(&[b"v1.76.0"]));
    }

    #[test]
    fn nothing_is_cached_in_an_empty_folder() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let empty = std::env::temp_dir().join(format!("no-backends-{}", std::process::id()));
        assert!(cached(&root, &empty).is_none());
    }
}
