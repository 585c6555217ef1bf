//! register: the internal admissions API: validate a registration and admit the resident,
//! idempotently.
//!
//! `POST /v1/registrations` checks every field of a registration (all problems reported
//! in one 422) and admits the resident through the store's [`ResidentAdmitter`]; an
//! `Idempotency-Key` makes a retry replay the first answer instead of admitting twice.
//! `GET /openapi.json` describes it.
//!
//! `main.rs` only calls [`build`]; tests call [`build_with_store`] with a store on
//! a fresh DynamoDB Local table and port 0.

pub mod api_doc;
mod error;
pub mod registrations;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use service_kit::{Application, Limits, ServiceInfo, health_router, with_api_fallbacks};
use store::{DynamoStore, ResidentAdmitter};

pub use error::ApiError;

pub const INFO: ServiceInfo = ServiceInfo::new("register");

/// Everything a handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    pub admitter: Arc<dyn ResidentAdmitter>,
}

/// The service's routes (health and readiness are added by [`build_with_store`]).
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(registrations::PATH, post(registrations::register))
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
        admitter: Arc::new(store.clone()),
    };
    let health = health_router(INFO, store.readiness_probe());
    Application::bind(port, router(state), health, Limits::default()).await
}
