//! What the services that use the store share: how a `StoreError` is answered, and
//! building from the environment.

use axum::http::StatusCode;
use store::StoreError;

use crate::Problem;

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        match &err {
            StoreError::NotFound => Problem::new(StatusCode::NOT_FOUND, err.to_string()),
            StoreError::IdempotencyConflict => Problem::new(StatusCode::CONFLICT, err.to_string()),
            StoreError::InvalidCursor(_) => Problem::new(StatusCode::BAD_REQUEST, err.to_string()),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %store::error_chain(&err), "DynamoDB unavailable");
                Problem::unavailable("The residents database is unavailable; please retry shortly.")
            }
            StoreError::Internal(_) => {
                tracing::error!(error = %store::error_chain(&err), "store failure");
                Problem::internal()
            }
        }
    }
}

/// `build()` for a service on the residents table: `PORT`, `RESIDENTS_TABLE` and the
/// SDK's variables from the environment, then the service's own `build_with_store`.
pub async fn build_on_store<F, Fut>(build_with_store: F) -> Result<crate::Application, String>
where
    F: FnOnce(u16, store::DynamoStore) -> Fut,
    Fut: Future<Output = std::io::Result<crate::Application>>,
{
    let port = crate::config::port().map_err(|e| e.to_string())?;
    let store = store::DynamoStore::from_env().await?;
    build_with_store(port, store)
        .await
        .map_err(|err| format!("cannot listen on port {port}: {err}"))
}
