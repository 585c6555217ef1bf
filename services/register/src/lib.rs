//! register: the internal admissions API: validate a registration and admit the resident, idempotently.
//!
//! `main.rs` only calls [`build`]; tests call [`build_with_store`] with a store on
//! a fresh DynamoDB Local table and port 0.

use std::sync::Arc;

use axum::Router;
use service_kit::{Application, Limits, ServiceInfo, config, health_router, with_api_fallbacks};
use store::{DynamoStore, ResidentAdmitter};

pub const INFO: ServiceInfo = ServiceInfo::new("register");

/// Everything a handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    pub admitter: Arc<dyn ResidentAdmitter>,
}

/// The service's routes (health and readiness are added by [`build_with_store`]).
pub fn router(_state: AppState) -> Router {
    with_api_fallbacks(Router::new())
}

/// Reads the environment (`PORT`, `RESIDENTS_TABLE`, `AWS_*`) and binds.
pub async fn build() -> Result<Application, String> {
    let port = config::port().map_err(|e| e.to_string())?;
    let store = DynamoStore::from_env().await?;
    build_with_store(port, store)
        .await
        .map_err(|err| format!("cannot listen on port {port}: {err}"))
}

pub async fn build_with_store(port: u16, store: DynamoStore) -> std::io::Result<Application> {
    let state = AppState {
        admitter: Arc::new(store.clone()),
    };
    let health = health_router(INFO, store.readiness_probe());
    Application::bind(port, router(state), health, Limits::default()).await
}
