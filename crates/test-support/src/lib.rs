//! The one test kit of the workspace (zero2prod's `tests/api/helpers.rs` is the model):
//!
//! - [`fresh_store`]: a new residents table on the run's DynamoDB Local per test;
//!   [`PrivateDynamoDbLocal`]: one of a test's own, to stop, pause or restart.
//! - [`TestServer`]: a service's `Application` running in the test process on port 0,
//!   stopped when dropped — the one way tests start and stop a server in process.
//! - [`assert_problem`], [`content_type`]: what every API test asserts of an answer.
//! - [`init_tracing`]: logging set up once per test binary, quiet unless `TEST_LOG`;
//!   [`init_tracing_with_trace_ids`]: the same with real trace IDs on spans.
//! - [`free_port`], [`closed_url`]: a port to bind, a URL nobody answers on.
//!
//! `cargo xtask test` starts one DynamoDB Local for the whole run and points
//! `AWS_ENDPOINT_URL_DYNAMODB` at it. Without that variable these helpers refuse to
//! run rather than create tables in whatever AWS account the machine can reach.

mod dynamodb;
mod http;
mod net;
mod server;
mod trace_ids;

use std::sync::Once;

pub use dynamodb::{
    ENDPOINT_VAR, PrivateDynamoDbLocal, client, dynamodb_endpoint, fresh_store, unique_table_name,
};
pub use http::{assert_problem, assert_problem_of_type, content_type};
pub use net::closed_url;
pub use server::TestServer;
pub use service_kit::PROBLEM_CONTENT_TYPE;
pub use trace_ids::init_tracing_with_trace_ids;

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    dynamodb_local::free_port().expect("a free port")
}

/// Sets up logging once per test binary; silent unless `TEST_LOG` is set.
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "debug,aws=info,hyper=info".into()),
                )
                .with_test_writer()
                .try_init();
        }
    });
}
