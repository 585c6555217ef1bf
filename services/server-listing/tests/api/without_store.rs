//! The router over a fake store that counts its calls: what is refused before the
//! store is asked, and how each store failure is answered. (The fake lives only here;
//! everything else runs against DynamoDB Local.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use domain::{IdempotencyKey, Resident, ResidentId};
use reqwest::StatusCode;
use server_listing::AppState;
use store::{Feeding, ListQuery, Page, ResidentFeeder, ResidentReader, StoreError};

use crate::helpers::{TestApp, detail, problem, spawn_router};

/// Answers every call with `fail()` and counts the calls.
#[derive(Debug)]
struct FailingStore {
    calls: AtomicUsize,
    fail: fn() -> StoreError,
}

impl FailingStore {
    fn answer(&self) -> StoreError {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (self.fail)()
    }
}

#[async_trait]
impl ResidentReader for FailingStore {
    async fn get(&self, _: &ResidentId) -> Result<Resident, StoreError> {
        Err(self.answer())
    }
    async fn list(&self, _: &ListQuery) -> Result<Page, StoreError> {
        Err(self.answer())
    }
}

#[async_trait]
impl ResidentFeeder for FailingStore {
    async fn feed(&self, _: &ResidentId, _: &IdempotencyKey) -> Result<Feeding, StoreError> {
        Err(self.answer())
    }
}

async fn spawn_failing(fail: fn() -> StoreError) -> (TestApp, Arc<FailingStore>) {
    let store = Arc::new(FailingStore {
        calls: AtomicUsize::new(0),
        fail,
    });
    let app = spawn_router(AppState {
        residents: store.clone(),
        feeder: store.clone(),
    })
    .await;
    (app, store)
}

const SECRET: &str =
    "ValidationException: secret SDK text from arn:aws:dynamodb:eu-west-1:123456789012";

#[tokio::test]
async fn a_ckid_no_resident_can_have_never_reaches_the_store() {
    let (app, store) = spawn_failing(|| StoreError::NotFound).await;
    let too_long = "a".repeat(65);

    for ckid in ["idempotency%23abc", "%FF", "a%20b", too_long.as_str()] {
        problem(app.get_server(ckid).await, StatusCode::NOT_FOUND).await;
        problem(app.feed(ckid).await, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(store.calls.load(Ordering::SeqCst), 0);

    // A well-formed one is asked for.
    problem(app.get_server("ck1").await, StatusCode::NOT_FOUND).await;
    problem(app.feed("ck1").await, StatusCode::NOT_FOUND).await;
    assert_eq!(store.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn bad_query_parameters_never_reach_the_store() {
    let (app, store) = spawn_failing(|| StoreError::NotFound).await;
    let long_os = format!("os={}", "x".repeat(33));

    for query in ["limit=0", "limit=x", "os=%01", &long_os, "os=a&os=b"] {
        problem(app.list(query).await, StatusCode::BAD_REQUEST).await;
    }
    assert_eq!(store.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unavailable_store_is_a_503_with_retry_after_on_every_endpoint() {
    let (app, _) = spawn_failing(|| StoreError::Unavailable("connection refused".into())).await;

    for response in [
        app.list("").await,
        app.get_server("ck1").await,
        app.feed("ck1").await,
    ] {
        let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(!body.to_string().contains("refused"), "{body}");
    }
}

#[tokio::test]
async fn an_internal_failure_is_an_opaque_500() {
    let (app, _) = spawn_failing(|| StoreError::Internal(SECRET.into())).await;

    for response in [
        app.list("").await,
        app.get_server("ck1").await,
        app.feed("ck1").await,
    ] {
        let body = problem(response, StatusCode::INTERNAL_SERVER_ERROR).await;
        assert_eq!(
            detail(&body),
            "Something went wrong on our side; it has been logged."
        );
        assert!(!body.to_string().contains("secret"), "{body}");
    }
}

#[tokio::test]
async fn an_invalid_cursor_from_the_store_is_a_400() {
    let (app, _) = spawn_failing(|| StoreError::InvalidCursor("it is malformed")).await;

    let body = problem(app.list("cursor=x").await, StatusCode::BAD_REQUEST).await;

    assert_eq!(
        detail(&body),
        "the cursor is not valid here: it is malformed"
    );
}
