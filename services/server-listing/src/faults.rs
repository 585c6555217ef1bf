//! The faults server-listing acts on itself (`faults::Scenario`): `slow-listing`
//! answers late, `listing-errors` answers a share of requests with 500. Each affected
//! request's span carries a `fault injected` event naming the scenario, and an injected
//! 500's log line says it was injected.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use faults::{Fault, Faults, Scenario};
use service_kit::Problem;

/// Middleware on the API's routes.
pub(crate) async fn act_on_faults(
    State(faults): State<Faults>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(Fault::ListingErrors { rate }) = faults.active(Scenario::ListingErrors)
        && rate.hit()
    {
        telemetry::span::record_fault(Scenario::ListingErrors.name());
        return Problem::internal()
            .caused_by(tracing::Level::ERROR, Injected(Scenario::ListingErrors))
            .into_response();
    }
    if let Some(Fault::SlowListing { latency, rate }) = faults.active(Scenario::SlowListing)
        && rate.hit()
    {
        telemetry::span::record_fault(Scenario::SlowListing.name());
        tokio::time::sleep(latency).await;
    }
    next.run(request).await
}

/// The cause of an injected failure, as the log line shows it.
#[derive(Debug, thiserror::Error)]
#[error("injected by the {0} fault")]
struct Injected(Scenario);
