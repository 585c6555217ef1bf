//! The whole-stack tests, one module per subject, linked into one test binary (one link
//! instead of one per file). Run one subject by its module path:
//! `cargo test -p stack-tests --test stack infra::` (or `alerts::`, `gateway::`, ...).
//! What the modules share is the `stack_tests` library (`tests/src/`).

mod alerts;
mod collector;
mod collector_configs;
mod faults;
mod gameday;
mod gateway;
mod infra;
mod load;
mod outcomes;
mod services;
mod telemetry;
mod xray;
