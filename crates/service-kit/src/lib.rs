//! What every Cuddle Kube service shares, written once: typed config from the
//! environment, `/health` and `/ready`, problem+json errors, the standard middleware,
//! serving with graceful shutdown, and the `healthcheck` self-probe.

mod app;
pub mod config;
mod fallback;
mod health;
mod main_entry;
mod problem;

pub use app::{Application, Limits, shutdown_signal};
pub use config::ConfigError;
pub use fallback::with_api_fallbacks;
pub use health::{ServiceInfo, health_router};
pub use main_entry::run_service;
pub use problem::Problem;
