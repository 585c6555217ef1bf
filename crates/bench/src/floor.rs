//! `cuddlekube-floor`: the floor beneath server-listing's listing, for the bench's CPU
//! figures. The same runtime, allocator and HTTP server (axum) as the services, and the
//! same DynamoDB Query as the store's listing, without anything of ours around it:
//! - `GET /sdk-query`: the Query through the AWS SDK with its default configuration (no
//!   spans, no interceptors, no serde_dynamo, no JSON answer: the item count);
//! - `GET /raw-query`: the same Query as raw DynamoDB JSON over reqwest, unsigned
//!   (DynamoDB Local checks no signature): what the round trip costs without the SDK;
//! - `GET /health`: a route that does no work.
//!
//! Configured like the services: `PORT`, `RESIDENTS_TABLE`, `AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_REGION` and credentials.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;

#[derive(Clone)]
struct Floor {
    sdk: aws_sdk_dynamodb::Client,
    http: reqwest::Client,
    endpoint: String,
    table: Arc<str>,
    raw_query: Arc<str>,
}

fn main() -> Result<(), String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let port: u16 = var("PORT")?.parse().map_err(|e| format!("PORT: {e}"))?;
    let table: Arc<str> = var("RESIDENTS_TABLE")?.into();
    let endpoint = var("AWS_ENDPOINT_URL_DYNAMODB")?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let floor = Floor {
            sdk: aws_sdk_dynamodb::Client::new(&config),
            http: reqwest::Client::new(),
            endpoint,
            raw_query: bench::targets::query_body(&table).to_string().into(),
            table,
        };
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/ready", get(|| async { "ok" }))
            .route("/sdk-query", get(sdk_query))
            .route("/raw-query", get(raw_query))
            .with_state(floor);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        axum::serve(listener, app)
            .with_graceful_shutdown(service_kit::shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })
}

async fn sdk_query(State(floor): State<Floor>) -> Result<String, String> {
    let (projection, names) = store::table::resident_projection();
    let output = floor
        .sdk
        .query()
        .table_name(&*floor.table)
        .index_name(store::table::NEWEST_INDEX)
        .projection_expression(projection)
        .set_expression_attribute_names(Some(names.clone()))
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", store::table::attr::LISTING)
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S(store::table::LISTING_PARTITION.into()),
        )
        .scan_index_forward(false)
        .limit(13)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(output.items().len().to_string())
}

async fn raw_query(State(floor): State<Floor>) -> Result<String, String> {
    let answer = floor
        .http
        .post(&floor.endpoint)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.Query")
        .header("authorization", bench::targets::AUTHORIZATION)
        .body(floor.raw_query.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body = answer.bytes().await.map_err(|e| e.to_string())?;
    Ok(body.len().to_string())
}
