//! server-listing: the internal residents API: list residents newest first, get one,
//! feed one.
//!
//! `GET /v1/servers` pages through the residents (a Query on one of the store's
//! indexes, never a scan), `GET /v1/servers/{ckid}` reads one and
//! `POST /v1/servers/{ckid}/feed` feeds one atomically. Every error is
//! `application/problem+json`; `GET /openapi.json` describes it all.
//!
//! `main.rs` only calls [`build`]; tests call [`build_with_store`] with a store on
//! a fresh DynamoDB Local table and port 0, or [`router`] with any [`AppState`].

pub mod api_doc;
mod extract;
pub mod servers;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use service_kit::{Application, Limits, ServiceInfo, health_router, with_api_fallbacks};
use store::{DynamoStore, ResidentFeeder, ResidentReader};

pub const INFO: ServiceInfo = ServiceInfo::new("server-listing");

/// Everything a handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    pub residents: Arc<dyn ResidentReader>,
    pub feeder: Arc<dyn ResidentFeeder>,
}

/// The service's routes (health and readiness are added by [`build_with_store`]).
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(servers::LIST_PATH, get(servers::list_servers))
        .route(servers::ONE_PATH, get(servers::get_server))
        .route(servers::FEED_PATH, post(servers::feed_server))
        .route(api_doc::PATH, get(api_doc::openapi_json))
        .with_state(state);
    with_api_fallbacks(routes)
}

/// Reads the environment (`PORT`, `RESIDENTS_TABLE`, `AWS_*`) and binds.
pub async fn build() -> Result<Application, String> {
    service_kit::build_on_store(build_with_store).await
}

pub async fn build_with_store(port: u16, store: DynamoStore) -> std::io::Result<Application> {
    let state = AppState {
        residents: Arc::new(store.clone()),
        feeder: Arc::new(store.clone()),
    };
    let health = health_router(INFO, store.readiness_probe());
    Application::bind(port, router(state), health, Limits::default()).await
}
