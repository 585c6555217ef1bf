//! Jaeger and the OpenTelemetry Collector for `cargo xtask` (test, dev, trace,
//! containers): the workspace crate `telemetry-backends`, with the binaries cached under
//! `target/telemetry/` (keyed by their recipes) and `cargo xtask backends` to build them
//! ahead of time.

use std::path::PathBuf;

use anyhow::Context;
use telemetry_backends::{Binaries, BuildError};

use crate::project_root;

fn cache() -> PathBuf {
    project_root().join("target/telemetry")
}

/// Both binaries, built first if the recipes changed or nothing is built yet.
pub fn ensure() -> anyhow::Result<Binaries> {
    telemetry_backends::build(&project_root(), &cache())
        .context("Jaeger and the collector (needed by the trace-based tests)")
}

/// For `dev`: the binaries if they are built or Go can build them; without Go, one line
/// saying what dev runs without, and how to get it.
pub fn for_dev() -> anyhow::Result<Option<Binaries>> {
    match telemetry_backends::build(&project_root(), &cache()) {
        Ok(binaries) => Ok(Some(binaries)),
        Err(BuildError::NoGo) => {
            eprintln!(
                "xtask dev: no trace viewer this time: Jaeger and the collector are built \
                 from their Go modules, and no `go` is on PATH (install Go 1.26 or newer, \
                 then run `cargo xtask dev` again)"
            );
            Ok(None)
        }
        Err(err) => Err(err).context("build Jaeger and the collector"),
    }
}

/// `cargo xtask backends`: build both now and say where they are.
pub fn run() -> anyhow::Result<()> {
    let binaries = ensure()?;
    println!("jaeger     {}", binaries.jaeger.display());
    println!("collector  {}", binaries.collector.display());
    Ok(())
}
