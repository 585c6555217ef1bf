//! [`DynamoStore`]: the capability traits of `ops` on one DynamoDB table, a file per
//! capability (`admit`, `feed`, `list`, `migrate`).

mod admit;
mod feed;
mod list;
mod migrate;

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use domain::{Resident, ResidentId};

use crate::item::s;
use crate::table::{attr, resident_projection};
use crate::traced::{Failed, traced};
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

    /// [`traced`] on this store's table.
    fn traced<'a, T, E, R>(
        &'a self,
        operation: &'static str,
        call: impl Future<Output = Result<T, SdkError<E, R>>> + Send + 'a,
    ) -> impl Future<Output = Result<T, Failed<E, R>>> + Send + 'a
    where
        T: Send + 'a,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        traced(operation, self.table.as_str(), call)
    }

    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// One resident by ckid; `consistent` for a read that must see the latest write.
    async fn read(&self, ckid: &ResidentId, consistent: bool) -> Result<Resident, StoreError> {
        let (projection, names) = resident_projection();
        let request = self
            .client
            .get_item()
            .table_name(self.table.as_str())
            .key(attr::CKID, s(ckid.as_str()))
            .projection_expression(projection)
            .set_expression_attribute_names(Some(names.clone()))
            .consistent_read(consistent);
        let found = self.traced("GetItem", request.send()).await?;
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
        let request = self.client.describe_table().table_name(self.table.as_str());
        self.traced("DescribeTable", request.send()).await?;
        Ok(())
    }
}
