//! `GET /health` (liveness: cheap, never touches a dependency) and `GET /ready`
//! (readiness: the service's dependencies answer).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::Problem;

/// Who is answering: reported by `/health` so an operator can tell which build runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub version: &'static str,
    /// The git commit baked in at build time (`GIT_COMMIT`), or `unknown`.
    pub commit: &'static str,
}

impl ServiceInfo {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            version: env!("CARGO_PKG_VERSION"),
            commit: match option_env!("GIT_COMMIT") {
                Some(commit) => commit,
                None => "unknown",
            },
        }
    }
}

type Probe =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

#[derive(Clone)]
struct HealthState {
    info: ServiceInfo,
    probe: Probe,
}

/// `/health` and `/ready`. `probe` says whether the dependencies answer; its error text
/// is logged, and the caller sees only that the service is not ready.
pub fn health_router<F, Fut>(info: ServiceInfo, probe: F) -> Router
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let probe: Probe = Arc::new(move || Box::pin(probe()));
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(HealthState { info, probe })
}

async fn health(State(state): State<HealthState>) -> Response {
    let ServiceInfo {
        name,
        version,
        commit,
    } = state.info;
    axum::Json(json!({"service": name, "version": version, "commit": commit, "status": "ok"}))
        .into_response()
}

async fn ready(State(state): State<HealthState>) -> Response {
    match (state.probe)().await {
        Ok(()) => {
            axum::Json(json!({"service": state.info.name, "status": "ready"})).into_response()
        }
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            Problem::unavailable("A dependency of this service is not answering.").into_response()
        }
    }
}
