//! The local telemetry path: Jaeger v2, an OpenTelemetry Collector and Prometheus, the
//! real programs, for `cargo xtask dev`, `cargo xtask trace`, `cargo xtask status`, the
//! whole-stack tests and the compose stand-in images.
//!
//! - [`build`]: both are built from their upstream Go modules (the recipes and pins are
//!   `docker/jaeger/go.mod` and `infra/collector/builder.yaml`) once into a cache folder,
//!   again only when a recipe changes.
//! - [`LocalTelemetry`]: the collector (running `docker/otel-collector.yaml`) in front of
//!   Jaeger (running `docker/jaeger/config.yaml`) and Prometheus (Debian's package,
//!   scraping the collector, alerting by [`alert_rules`]), on loopback, stopped when dropped.
//! - [`alert_rules`]: `infra/monitoring.yaml`'s SLO and DynamoDB alarms as Prometheus rules.
//! - [`JaegerQuery`]: a trace by ID from Jaeger's query API, as OTLP JSON.
//! - [`MetricsQuery`]: Prometheus' query and alerts API.

pub mod alert_rules;
mod build;
mod metrics_query;
mod query;
mod run;

pub use alert_rules::{DEMO_TIME_SCALE, SloParameters};
pub use build::{Binaries, BuildError, COLLECTOR_BIN_VAR, JAEGER_BIN_VAR, build, cached};
pub use metrics_query::{Alert, MetricsQuery, Sample};
pub use query::{JaegerQuery, TraceEvent, TraceSpan};
pub use run::{
    LocalTelemetry, PROMETHEUS_BIN_VAR, Ports, SCRAPE_INTERVAL, find_prometheus, log_file,
};
