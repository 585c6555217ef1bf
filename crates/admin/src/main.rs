//! `cuddlekube-admin`: the operator's tool for the residents table. Configured like the
//! services (`RESIDENTS_TABLE`, `AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...).
//! Every command is idempotent, so compose's init step may run it on every `up`.

use std::process::ExitCode;

use store::DynamoStore;
use store::table::{Created, create_table};

const USAGE: &str = "usage: cuddlekube-admin <command>

commands:
  create-table   create the residents table (keys, indexes, TTL) if it does not exist
  seed           add the demo residents that are missing
  migrate        bring residents written in the 2019 shape into the listing indexes
  init           create-table, then seed (what local stacks run at start)

environment: RESIDENTS_TABLE (default cuddlekube), AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB";

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    let Some(command) =
        command.filter(|c| ["create-table", "seed", "migrate", "init"].contains(&c.as_str()))
    else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(&command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cuddlekube-admin {command}: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: &str) -> Result<(), String> {
    let store = DynamoStore::from_env().await?;
    let table = store.table().clone();
    let failed = |err: store::StoreError| store::error_chain(&err);
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
