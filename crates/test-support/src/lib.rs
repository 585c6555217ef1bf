//! Helpers for tests that use DynamoDB Local: a fresh residents table per test, and
//! tracing set up once (quiet unless `TEST_LOG` is set).
//!
//! `cargo xtask test` starts one DynamoDB Local for the whole run and points
//! `AWS_ENDPOINT_URL_DYNAMODB` at it. Without that variable these helpers refuse to
//! run rather than create tables in whatever AWS account the machine can reach.

mod net;
mod trace_ids;

use std::sync::Once;

use aws_sdk_dynamodb::Client;
use store::{DynamoStore, TableName};

pub use net::{closed_url, free_port};
pub use trace_ids::init_tracing_with_trace_ids;

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

/// A DynamoDB Local of a test's own, for outage tests that stop and restart it. The jar
/// comes from `DYNAMODB_LOCAL_DIR` (set by `cargo xtask test`). Killed when dropped.
#[derive(Debug)]
pub struct PrivateDynamoDbLocal {
    child: Option<std::process::Child>,
    port: u16,
}

impl PrivateDynamoDbLocal {
    /// Starts one on a free port and waits until it answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut local = Self { child: None, port };
        local.resume().await;
        local
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client for this instance, configured as the services configure theirs.
    pub async fn client(&self) -> Client {
        client()
            .await
            .config()
            .to_builder()
            .endpoint_url(self.endpoint())
            .build()
            .pipe(Client::from_conf)
    }

    /// A fresh residents table on this instance, and a store on it.
    pub async fn fresh_store(&self) -> DynamoStore {
        let client = self.client().await;
        let table = unique_table_name();
        store::table::create_table(&client, &table)
            .await
            .expect("create a residents table");
        DynamoStore::new(client, table)
    }

    /// Kills the process: from now on the endpoint refuses connections. In-memory data
    /// is gone; after [`resume`](Self::resume) tables must be created again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and waits until it answers.
    pub async fn resume(&mut self) {
        let dir = std::path::PathBuf::from(
            std::env::var_os("DYNAMODB_LOCAL_DIR")
                .expect("DYNAMODB_LOCAL_DIR is not set: run the tests with `cargo xtask test`"),
        );
        let child = std::process::Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args(["-inMemory", "-port", &self.port.to_string()])
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start DynamoDB Local (java)");
        self.child = Some(child);
        let client = self.client().await;
        for _ in 0..300 {
            if client.list_tables().send().await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "DynamoDB Local on port {} did not answer within 30 s",
            self.port
        );
    }
}

impl Drop for PrivateDynamoDbLocal {
    fn drop(&mut self) {
        self.stop();
    }
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}

impl<T> Pipe for T {}
