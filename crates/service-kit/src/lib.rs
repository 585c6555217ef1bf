//! What every Cuddle Kube service shares, written once: typed config from the
//! environment, `/health` and `/ready`, problem+json errors, the standard middleware,
//! serving with graceful shutdown, and the `healthcheck` self-probe.

mod app;
pub mod config;
pub mod extract;
mod health;
pub mod openapi;
mod problem;
mod serve;
mod service_main;

pub use app::{Application, Limits, shutdown_signal};
pub use config::ConfigError;
pub use health::{ServiceInfo, health_router};
pub use problem::{
    CONTENT_TYPE as PROBLEM_CONTENT_TYPE, OUTCOME_UNKNOWN, Problem, RETRY_AFTER_SECONDS,
};
pub use serve::ConnectionLimits;
pub use service_main::run_service;

/// Every service allocates with mimalloc: a request allocates and frees a few hundred
/// small blocks, which glibc's malloc made ≈ 11 % of a listing's CPU (README, "Where a
/// request's CPU goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
