//! `create-table`, `seed`, `migrate`, `init`: the residents table.

use store::table::{Created, create_table};
use store::{DynamoStore, TableName};

use crate::Failure;

pub(crate) async fn run(command: &str) -> Result<(), Failure> {
    let client = store::dynamodb_client().await?;
    let table = TableName::from_env()?;
    let store = DynamoStore::new(client, table.clone());
    let failed = |err: store::StoreError| Failure::Failed(telemetry::errors::display(&err));
    if matches!(command, "create-table" | "init") {
        match create_table(store.client(), &table).await.map_err(failed)? {
            Created::New => println!("created table {table}"),
            Created::AlreadyExisted => println!("table {table} already exists"),
        }
    }
    if matches!(command, "seed" | "init") {
        let added = store::seed::seed(&store).await.map_err(failed)?;
        println!("seeded {added} demo resident(s) into {table}");
    }
    if command == "migrate" {
        let report = store.migrate_legacy().await.map_err(failed)?;
        println!(
            "migrated {} of {} item(s) examined in {table}; {} unreadable item(s) left as they were",
            report.migrated, report.examined, report.skipped
        );
    }
    Ok(())
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
