//! register over real HTTP, against DynamoDB Local (a fresh table per test).
//! Run with `cargo xtask test -- -p register`.

mod admission;
mod body_errors;
mod helpers;
mod idempotency;
mod openapi;
mod outage;
mod validation;
