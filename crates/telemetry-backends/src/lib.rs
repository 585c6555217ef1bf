//! The local trace path: Jaeger v2 and an OpenTelemetry Collector, the real programs,
//! for `cargo xtask dev`, `cargo xtask trace`, the whole-stack tests and the compose
//! stand-in images.
//!
//! - [`build`]: both are built from their upstream Go modules (the recipes and pins are
//!   `docker/jaeger/go.mod` and `infra/collector/builder.yaml`) once into a cache folder,
//!   again only when a recipe changes.
//! - [`LocalTraces`]: the collector (running `docker/otel-collector.yaml`) in front of
//!   Jaeger (running `docker/jaeger/config.yaml`), both on loopback, stopped when dropped.
//! - [`JaegerQuery`]: a trace by ID from Jaeger's query API, as OTLP JSON.

mod build;
mod query;
mod run;

pub use build::{Binaries, BuildError, COLLECTOR_BIN_VAR, JAEGER_BIN_VAR, build, cached};
pub use query::{JaegerQuery, TraceEvent, TraceSpan};
pub use run::{LocalTraces, Ports, log_file};
