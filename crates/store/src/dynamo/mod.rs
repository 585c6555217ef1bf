//! [`DynamoStore`]: the capability traits of `ops` on one DynamoDB table, a file per
//! capability (`admit`, `feed`, `list`, `migrate`).

mod admit;
mod feed;
mod list;
mod migrate;

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use domain::{Resident, ResidentId};

use crate::item::s;
use crate::table::attr;
use crate::traced::traced;
use crate::{Readiness, StoreError, TableName};

pub use migrate::MigrationReport;

/// The residents table, reached through one DynamoDB client.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: TableName,
    /// Residents seen at the highest happiness, which never falls: feeding them skips
    /// the attempt to raise it.
    at_most_happy: Arc<feed::AtMostHappy>,
}

impl DynamoStore {
    pub fn new(client: Client, table: TableName) -> Self {
        Self {
            client,
            table,
            at_most_happy: Arc::default(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// One resident by ckid; `consistent` for a read that must see the latest write.
    async fn read(&self, ckid: &ResidentId, consistent: bool) -> Result<Resident, StoreError> {
        let found = traced(
            "GetItem",
            self.table.as_str(),
            self.client
                .get_item()
                .table_name(self.table.as_str())
                .key(attr::CKID, s(ckid.as_str()))
                .consistent_read(consistent)
                .send(),
        )
        .await?;
        let item = found.item.ok_or(StoreError::NotFound)?;
        Ok(serde_dynamo::from_item(item)?)
    }

    /// For `/ready`: the table answers. The error text (with its cause) is for logs.
    pub fn readiness_probe(
        &self,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
    + Send
    + Sync
    + 'static {
        let store = self.clone();
        move || {
            let store = store.clone();
            Box::pin(async move {
                store
                    .ready()
                    .await
                    .map_err(|err| telemetry::errors::display(&err))
            })
        }
    }
}

#[async_trait]
impl Readiness for DynamoStore {
    async fn ready(&self) -> Result<(), StoreError> {
        traced(
            "DescribeTable",
            self.table.as_str(),
            self.client
                .describe_table()
                .table_name(self.table.as_str())
                .send(),
        )
        .await?;
        Ok(())
    }
}
