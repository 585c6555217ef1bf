//! What the services on the residents table share: how a `StoreError` is answered, and
//! building from the environment (the store, and the watch on the fault switchboard).

use std::process::ExitCode;

use axum::http::StatusCode;
use faults::{Faults, Switchboard};
use service_kit::{Application, Limits, Problem, ServiceInfo, config, health_router, run_service};
use store::{Connection, DynamoStore, StoreError, TableName};
use tracing::Level;

/// How the APIs answer a [`StoreError`]: 404, 409 for a reused key, 400 for a bad
/// cursor, 503 (with `Retry-After`) when DynamoDB is unavailable or did not confirm a
/// write, an opaque 500 otherwise (the cause goes on the request's log line).
pub fn store_problem(err: StoreError) -> Problem {
    match err {
        StoreError::NotFound => {
            Problem::new(StatusCode::NOT_FOUND, crate::extract::NO_SUCH_RESIDENT)
        }
        StoreError::IdempotencyConflict => Problem::new(StatusCode::CONFLICT, err.to_string()),
        StoreError::InvalidCursor(_) => Problem::new(StatusCode::BAD_REQUEST, err.to_string()),
        StoreError::Unavailable(_) => Problem::unavailable(
            "The residents database is unavailable and nothing was changed; please retry \
                 shortly.",
        )
        .caused_by(Level::WARN, err),
        StoreError::OutcomeUnknown(_) => Problem::outcome_unknown(
            "The residents database did not confirm the change, so it may or may not have \
                 been made. Repeating the request with the same Idempotency-Key is safe: it is \
                 never applied twice.",
        )
        .caused_by(Level::WARN, err),
        StoreError::Internal(_) => Problem::internal().caused_by(Level::ERROR, err),
    }
}

/// The `main` of a service on the residents table ([`run_service`] of what
/// [`build_on_store`] builds), given the service's own `build_with_store`.
pub fn run_store_service<F, Fut>(info: ServiceInfo, build_with_store: F) -> ExitCode
where
    F: FnOnce(u16, DynamoStore, Faults) -> Fut,
    Fut: Future<Output = std::io::Result<Application>>,
{
    run_service(info, || build_on_store(info, build_with_store))
}

/// A service on the residents table from the environment: `PORT`, `RESIDENTS_TABLE` and
/// the SDK's variables; the service's faults watched (with a client of their own, which
/// no fault touches, so a fault can always be switched off); then the service's own
/// `build_with_store`.
async fn build_on_store<F, Fut>(
    info: ServiceInfo,
    build_with_store: F,
) -> Result<Application, String>
where
    F: FnOnce(u16, DynamoStore, Faults) -> Fut,
    Fut: Future<Output = std::io::Result<Application>>,
{
    let port = config::port().map_err(|e| e.to_string())?;
    let table = TableName::from_env()?;
    let connection = Connection::from_env().await?;
    let switchboard = Switchboard::new(connection.plain_client(), table.as_str());
    let faults = faults::watch(switchboard, info.name);
    let store = DynamoStore::new(connection.store_client(&faults), table);
    build_with_store(port, store, faults)
        .await
        .map_err(|err| format!("cannot listen on port {port}: {err}"))
}

/// Binds an API on the residents table: `routes` beside `/health` and a `/ready` that
/// asks the table, within the standard limits.
pub async fn bind_on_store(
    port: u16,
    info: ServiceInfo,
    store: &DynamoStore,
    routes: axum::Router,
) -> std::io::Result<Application> {
    let health = health_router(info, store.readiness_probe());
    Application::bind(port, routes, health, Limits::default()).await
}
