//! Helpers for tests that use DynamoDB Local: a fresh residents table per test, and
//! tracing set up once (quiet unless `TEST_LOG` is set).
//!
//! `cargo xtask test` starts one DynamoDB Local for the whole run and points
//! `AWS_ENDPOINT_URL_DYNAMODB` at it. Without that variable these helpers refuse to
//! run rather than create tables in whatever AWS account the machine can reach.

use std::sync::Once;

use aws_sdk_dynamodb::Client;
use store::{DynamoStore, TableName};

pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_DYNAMODB";

/// The DynamoDB Local endpoint this run uses.
pub fn dynamodb_endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost") => {
            url
        }
        Ok(url) => panic!(
            "{ENDPOINT_VAR}={url} is not a local DynamoDB; tests only run against DynamoDB Local"
        ),
        Err(_) => panic!(
            "{ENDPOINT_VAR} is not set: run the tests with `cargo xtask test`, which starts DynamoDB Local"
        ),
    }
}

/// Sets up logging once per test binary; silent unless `TEST_LOG` is set.
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "debug,aws=info,hyper=info".into()),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

/// A client for the run's DynamoDB Local, configured exactly as the services do it.
pub async fn client() -> Client {
    init_tracing();
    dynamodb_endpoint();
    store::dynamodb_client()
        .await
        .expect("DynamoDB client configuration")
}

/// A table name no other test uses.
pub fn unique_table_name() -> TableName {
    TableName::parse(&format!(
        "test-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    ))
    .expect("generated table names are valid")
}

/// A new, empty residents table created from the code's definition, and a store on it.
pub async fn fresh_store() -> DynamoStore {
    let client = client().await;
    let table = unique_table_name();
    store::table::create_table(&client, &table)
        .await
        .expect("create a fresh residents table in DynamoDB Local");
    DynamoStore::new(client, table)
}
