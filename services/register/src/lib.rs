//! register: the internal admissions API: validate a registration and admit the resident,
//! idempotently.
//!
//! `POST /v1/registrations` checks every field of a registration (all problems reported
//! in one 422) and admits the resident through the store's [`ResidentAdmitter`]; an
//! `Idempotency-Key` makes a retry replay the first answer instead of admitting twice.
//! `GET /openapi.json` describes it.
//!
//! Layout, as in server-listing: `routes.rs` (handlers), `extract.rs` (this API's own
//! extractors), `error.rs` (its error type), `api_doc.rs` (its OpenAPI document).
//! `main.rs` only calls [`build`]; tests call [`build_with_store`] with a store on a
//! fresh DynamoDB Local table and port 0.

mod api_doc;
mod error;
mod extract;
mod routes;

use std::sync::Arc;

use axum::Router;
use faults::Faults;
use service_kit::{Application, ServiceInfo};
use store::{DynamoStore, ResidentAdmitter};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const INFO: ServiceInfo = ServiceInfo::new("register");

/// Everything a handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    pub admitter: Arc<dyn ResidentAdmitter>,
}

/// The service's routes (health and readiness are added by [`build_with_store`]).
pub fn router(state: AppState) -> Router {
    let routes = OpenApiRouter::with_openapi(api_doc::ApiDoc::openapi())
        .routes(routes!(routes::register))
        .with_state(state);
    api_kit::api_router(routes)
}

/// Binds `port` (0 for any) over `store`. register acts on no fault of its own beyond
/// its store's (`faults` reach it through the store's client).
pub async fn build_with_store(
    port: u16,
    store: DynamoStore,
    _faults: Faults,
) -> std::io::Result<Application> {
    let state = AppState {
        admitter: Arc::new(store.clone()),
    };
    api_kit::bind_on_store(port, INFO, &store, router(state)).await
}
