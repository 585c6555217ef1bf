//! DynamoDB Local for tests: a fresh table per test on the run's instance, or an
//! instance of a test's own for outage tests.

use aws_sdk_dynamodb::Client;
use dynamodb_local::{DynamoDbLocal, JAR_DIR_VAR};
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

/// A client for the run's DynamoDB Local, configured exactly as the services do it.
pub async fn client() -> Client {
    crate::init_tracing();
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

async fn store_on(client: Client) -> DynamoStore {
    let table = unique_table_name();
    store::table::create_table(&client, &table)
        .await
        .expect("create a fresh residents table in DynamoDB Local");
    DynamoStore::new(client, table)
}

/// A new, empty residents table created from the code's definition, and a store on it.
pub async fn fresh_store() -> DynamoStore {
    store_on(client().await).await
}

/// A DynamoDB Local of a test's own, for outage tests that stop, pause and restart it.
/// The jar comes from `DYNAMODB_LOCAL_DIR` (set by `cargo xtask test`). Killed when
/// dropped.
#[derive(Debug)]
pub struct PrivateDynamoDbLocal(DynamoDbLocal);

impl PrivateDynamoDbLocal {
    /// Starts one on a free port and waits until it answers.
    pub fn start() -> Self {
        let dir = std::env::var_os(JAR_DIR_VAR).unwrap_or_else(|| {
            panic!("{JAR_DIR_VAR} is not set: run the tests with `cargo xtask test`")
        });
        Self(DynamoDbLocal::start(dir.as_ref(), None).expect("start a private DynamoDB Local"))
    }

    pub fn endpoint(&self) -> String {
        self.0.endpoint()
    }

    /// A client for this instance, configured as the services configure theirs.
    pub async fn client(&self) -> Client {
        let config = client()
            .await
            .config()
            .to_builder()
            .endpoint_url(self.endpoint())
            .build();
        Client::from_conf(config)
    }

    /// A fresh residents table on this instance, and a store on it.
    pub async fn fresh_store(&self) -> DynamoStore {
        store_on(self.client().await).await
    }

    /// Kills the process: from now on the endpoint refuses connections. In-memory data
    /// is gone; after [`restart`](Self::restart) tables must be created again.
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Starts it again on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.0
            .restart()
            .expect("restart the private DynamoDB Local");
    }

    /// Freezes it (SIGSTOP): requests are accepted and sit unanswered, then are applied
    /// when it is [`resume`](Self::resume)d — a database that hangs mid-write.
    pub fn pause(&self) {
        self.0.pause().expect("SIGSTOP DynamoDB Local");
    }

    pub fn resume(&self) {
        self.0.resume().expect("SIGCONT DynamoDB Local");
    }
}
