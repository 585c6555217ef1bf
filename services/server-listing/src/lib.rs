//! server-listing: the internal residents API: list residents newest first, get one,
//! feed one.
//!
//! `GET /v1/servers` pages through the residents (a Query on one of the store's
//! indexes, never a scan), `GET /v1/servers/{ckid}` reads one and
//! `POST /v1/servers/{ckid}/feed` feeds one atomically. Every error is
//! `application/problem+json`; `GET /openapi.json` describes it all.
//!
//! Layout, as in register: `routes.rs` (handlers), `extract.rs` (this API's own
//! extractor input), `error.rs` (its error type), `api_doc.rs` (its OpenAPI document),
//! and `faults.rs` (the faults it acts on itself). `main.rs` only calls [`build`]; tests
//! call [`build_with_store`] with a store on a fresh DynamoDB Local table and port 0,
//! or [`router`] with any [`AppState`].

mod api_doc;
mod error;
mod extract;
mod faults;
mod routes;

use std::sync::Arc;

use axum::Router;
use service_kit::{Application, ServiceInfo};
use store::{DynamoStore, ResidentFeeder, ResidentReader};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const INFO: ServiceInfo = ServiceInfo::new("server-listing");

/// Everything a handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    pub residents: Arc<dyn ResidentReader>,
    pub feeder: Arc<dyn ResidentFeeder>,
}

/// The service's routes, acting on `faults` (health and readiness are added by
/// [`build_with_store`]).
pub fn router(state: AppState, faults: ::faults::Faults) -> Router {
    let routes = OpenApiRouter::with_openapi(api_doc::ApiDoc::openapi())
        .routes(routes!(routes::list_servers))
        .routes(routes!(routes::get_server))
        .routes(routes!(routes::feed_server))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            faults,
            faults::act_on_faults,
        ));
    api_kit::api_router(routes)
}

/// Binds `port` (0 for any) over `store`, acting on `faults`.
pub async fn build_with_store(
    port: u16,
    store: DynamoStore,
    faults: ::faults::Faults,
) -> std::io::Result<Application> {
    let state = AppState {
        residents: Arc::new(store.clone()),
        feeder: Arc::new(store.clone()),
    };
    api_kit::bind_on_store(port, INFO, &store, router(state, faults)).await
}
