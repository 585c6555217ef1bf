//! What every Cuddle Kube service shares, written once: typed config from the
//! environment, `/health` and `/ready`, problem+json errors, the standard middleware,
//! serving with graceful shutdown, and the `healthcheck` self-probe.

mod app;
pub mod config;
mod fallback;
mod health;
mod json;
mod main_entry;
pub mod openapi;
mod problem;
#[cfg(feature = "store")]
mod store_errors;

pub use app::{Application, Limits, shutdown_signal};
pub use config::ConfigError;
pub use fallback::with_api_fallbacks;
pub use health::{ServiceInfo, health_router};
pub use json::ApiJson;
pub use main_entry::run_service;
pub use problem::{CONTENT_TYPE as PROBLEM_CONTENT_TYPE, Problem};
#[cfg(feature = "store")]
pub use store_errors::build_on_store;
