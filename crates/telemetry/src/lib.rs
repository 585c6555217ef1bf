//! Logs (and, as the telemetry issue lands, traces and metrics) for every service.
//!
//! One call, [`init`], reads `RUST_LOG` and `LOG_FORMAT` and returns a guard that is
//! held for the life of the process.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: what CloudWatch Logs and log tooling read.
    Json,
    /// Coloured multi-line output for a person at a terminal.
    Pretty,
}

impl LogFormat {
    /// Reads `LOG_FORMAT` (`json`, the default, or `pretty`).
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("LOG_FORMAT").as_deref() {
            Err(_) | Ok("") | Ok("json") => Ok(Self::Json),
            Ok("pretty") => Ok(Self::Pretty),
            Ok(other) => Err(format!("LOG_FORMAT={other:?} is not one of: json, pretty")),
        }
    }
}

/// Keeps telemetry running; dropping it flushes what is buffered.
#[derive(Debug)]
#[must_use = "telemetry stops when the guard is dropped"]
pub struct TelemetryGuard {
    _private: (),
}

/// Sets up logging for `service`. Call once, first thing in `main`.
pub fn init(service: &'static str) -> Result<TelemetryGuard, String> {
    let format = LogFormat::from_env()?;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(&directives)
            .map_err(|err| format!("RUST_LOG={directives:?} is not a valid filter: {err}"))?,
        _ => EnvFilter::new("info"),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
    };
    installed.map_err(|err| format!("logging was already set up: {err}"))?;
    tracing::debug!(service, ?format, "telemetry initialised");
    Ok(TelemetryGuard { _private: () })
}
