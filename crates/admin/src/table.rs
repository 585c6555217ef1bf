//! `create-table`, `seed`, `migrate`, `init`: the residents table.

use std::time::{Duration, Instant};

use store::table::{Created, create_table};
use store::{DynamoStore, StoreError, TableName};

use crate::Failure;

/// How long the table commands keep trying while DynamoDB does not answer. They run as
/// a stack starts (compose's init), when the database, or a freshly started container's
/// first connection to it, may not answer yet; both steps are idempotent.
const WAIT_FOR_DATABASE: Duration = Duration::from_secs(90);
const PAUSE: Duration = Duration::from_secs(2);

pub(crate) async fn run(command: &str) -> Result<(), Failure> {
    let client = store::dynamodb_client().await?;
    let table = TableName::from_env()?;
    let store = DynamoStore::new(client, table.clone());
    if matches!(command, "create-table" | "init") {
        match patiently("create the table", || create_table(store.client(), &table)).await? {
            Created::New => println!("created table {table}"),
            Created::AlreadyExisted => println!("table {table} already exists"),
        }
    }
    if matches!(command, "seed" | "init") {
        let added = patiently("seed", || store::seed::seed(&store)).await?;
        println!("seeded {added} demo resident(s) into {table}");
    }
    if command == "migrate" {
        let report = store.migrate_legacy().await.map_err(|err| failed(&err))?;
        println!(
            "migrated {} of {} item(s) examined in {table}; {} unreadable item(s) left as they were",
            report.migrated, report.examined, report.skipped
        );
    }
    Ok(())
}

fn failed(err: &StoreError) -> Failure {
    Failure::Failed(telemetry::errors::display(err))
}

/// `step` again every two seconds while DynamoDB is unavailable (or did not confirm a
/// write, which these idempotent steps may repeat), for at most [`WAIT_FOR_DATABASE`].
async fn patiently<T, Step, Fut>(what: &str, step: Step) -> Result<T, Failure>
where
    Step: Fn() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let started = Instant::now();
    loop {
        match step().await {
            Err(err @ (StoreError::Unavailable(_) | StoreError::OutcomeUnknown(_)))
                if started.elapsed() + PAUSE < WAIT_FOR_DATABASE =>
            {
                let why = telemetry::errors::display(&err);
                eprintln!("cuddlekube-admin: {what}: {why}; trying again");
                tokio::time::sleep(PAUSE).await;
            }
            result => return result.map_err(|err| failed(&err)),
        }
    }
}

/// One DynamoDB call (ListTables) through the configured endpoint and trust store. It is
/// compose's healthcheck of `dynamodb-tls`: it passes only when the TLS handshake verifies
/// against the local CA and DynamoDB Local answers behind the proxy.
pub(crate) async fn ping() -> Result<(), Failure> {
    let client = store::dynamodb_client().await?;
    client
        .list_tables()
        .limit(1)
        .send()
        .await
        .map_err(|err| Failure::Failed(telemetry::errors::display(&err)))?;
    println!("DynamoDB answered");
    Ok(())
}
