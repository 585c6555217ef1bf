//! The residents table as code: the one definition that `cuddlekube-admin create-table`,
//! local runs and tests create, and that `infra/` must match (a test compares them).

use std::collections::HashMap;
use std::sync::LazyLock;

/// How the residents table is laid out. Plain data so that other code (the infra check,
/// docs) can read it without talking to DynamoDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDefinition {
    /// The table's partition key (type S); there is no sort key.
    pub partition_key: &'static str,
    /// Every attribute used as a key of the table or an index, all of type S.
    pub key_attributes: &'static [&'static str],
    pub indexes: &'static [IndexDefinition],
    /// The attribute DynamoDB's TTL reads (epoch seconds, type N).
    pub ttl_attribute: &'static str,
    pub billing_mode: &'static str,
}

/// A global secondary index; every index projects ALL attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
}

/// Attribute names the store writes beside the resident's own fields.
pub mod attr {
    pub const CKID: &str = "ckid";
    /// Constant partition of the newest-first index ([`super::LISTING_PARTITION`]).
    pub const LISTING: &str = "listing";
    pub const REGISTERED_AT: &str = "registered_at";
    /// Lower-cased `os`, the partition of the by-OS index.
    pub const OS_KEY: &str = "os_key";
    /// Epoch seconds after which DynamoDB's TTL may delete an item (no resident has it;
    /// records of earlier versions, such as `idempotency#` keys, do).
    pub const EXPIRES_AT: &str = "expires_at";
    /// The tokens of the resident's last feedings (`item::REMEMBERED_FEEDINGS`).
    pub const RECENT_FEEDS: &str = "recent_feeds";
    /// The admitted registration's fingerprint (`NewResident::fingerprint`).
    pub const FINGERPRINT: &str = "fingerprint";
    /// Epoch seconds until which the admission's `Idempotency-Key` is remembered.
    pub const KEY_UNTIL: &str = "key_until";
}

/// The attributes a [`domain::Resident`] is read from. Reads ask DynamoDB for these
/// only, so a listed item comes without its feeding marks, fingerprint and index keys:
/// less for DynamoDB to send and for the services to decode (a listing's largest CPU
/// cost, README "Where a request's CPU goes"). A test holds the list to the type.
pub const RESIDENT_ATTRIBUTES: [&str; 11] = [
    "ckid",
    "name",
    "type",
    "service",
    "happiness",
    "petname",
    "os",
    "image",
    "registered_at",
    "feed_count",
    "last_fed_at",
];

/// [`RESIDENT_ATTRIBUTES`] as a `ProjectionExpression` (`#r0, #r1, …`) and the names
/// behind its placeholders (`name` and `type` are DynamoDB reserved words).
pub fn resident_projection() -> &'static (String, HashMap<String, String>) {
    static PROJECTION: LazyLock<(String, HashMap<String, String>)> = LazyLock::new(|| {
        let placeholders: Vec<String> = (0..RESIDENT_ATTRIBUTES.len())
            .map(|i| format!("#r{i}"))
            .collect();
        let names = placeholders
            .iter()
            .cloned()
            .zip(RESIDENT_ATTRIBUTES.map(str::to_owned))
            .collect();
        (placeholders.join(", "), names)
    });
    &PROJECTION
}

/// Keys of the table's own records (the fault switchboard; idempotency records of
/// earlier versions) contain this, which no resident id can (`domain::ResidentId`).
pub const RECORD_MARK: &str = "#";

/// Every resident that should be listed has `listing = "resident"`. One partition keeps
/// the newest-first Query a single call; at Cuddle Kube's write rate (people filling in a
/// form) it is far below a partition's 1,000 writes per second.
pub const LISTING_PARTITION: &str = "resident";

pub const NEWEST_INDEX: &str = "by_registered_at";
pub const OS_INDEX: &str = "by_os";

pub const DEFINITION: TableDefinition = TableDefinition {
    partition_key: attr::CKID,
    key_attributes: &[attr::CKID, attr::LISTING, attr::REGISTERED_AT, attr::OS_KEY],
    indexes: &[
        IndexDefinition {
            name: NEWEST_INDEX,
            partition_key: attr::LISTING,
            sort_key: attr::REGISTERED_AT,
        },
        IndexDefinition {
            name: OS_INDEX,
            partition_key: attr::OS_KEY,
            sort_key: attr::REGISTERED_AT,
        },
    ],
    ttl_attribute: attr::EXPIRES_AT,
    billing_mode: "PAY_PER_REQUEST",
};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use crate::traced::traced;
use crate::{StoreError, TableName};

/// Whether `create_table` made the table or found it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    AlreadyExisted,
}

/// Creates the table as [`DEFINITION`] says, waits until it is active and turns TTL on.
/// Idempotent: an existing table is left as it is (TTL is still ensured).
pub async fn create_table(client: &Client, table: &TableName) -> Result<Created, StoreError> {
    let def = DEFINITION;
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(StoreError::internal)
    };
    let mut request = client
        .create_table()
        .table_name(table.as_str())
        .billing_mode(BillingMode::from(def.billing_mode))
        .key_schema(key(def.partition_key, KeyType::Hash)?);
    for name in def.key_attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(StoreError::internal)?,
        );
    }
    for index in def.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.partition_key, KeyType::Hash)?)
                .key_schema(key(index.sort_key, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(StoreError::internal)?,
        );
    }
    let created = match traced("CreateTable", table.as_str(), request.send()).await {
        Ok(_) => Created::New,
        Err(failed)
            if failed
                .error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Created::AlreadyExisted
        }
        Err(err) => return Err(err.into()),
    };
    wait_until_active(client, table).await?;
    ensure_ttl(client, table).await?;
    Ok(created)
}

async fn wait_until_active(client: &Client, table: &TableName) -> Result<(), StoreError> {
    for _ in 0..120 {
        let described = traced(
            "DescribeTable",
            table.as_str(),
            client.describe_table().table_name(table.as_str()).send(),
        )
        .await?;
        let status = described.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(StoreError::internal(format!(
        "table {table} did not become active within a minute"
    )))
}

async fn ensure_ttl(client: &Client, table: &TableName) -> Result<(), StoreError> {
    let current = traced(
        "DescribeTimeToLive",
        table.as_str(),
        client
            .describe_time_to_live()
            .table_name(table.as_str())
            .send(),
    )
    .await?;
    let enabled = current
        .time_to_live_description()
        .and_then(|d| d.attribute_name())
        == Some(DEFINITION.ttl_attribute);
    if !enabled {
        traced(
            "UpdateTimeToLive",
            table.as_str(),
            client
                .update_time_to_live()
                .table_name(table.as_str())
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(DEFINITION.ttl_attribute)
                        .enabled(true)
                        .build()
                        .map_err(StoreError::internal)?,
                )
                .send(),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field added to `Resident` and not to the projection would read as its default.
    #[test]
    fn resident_attributes_are_the_residents_fields() {
        let resident: domain::Resident = serde_json::from_value(serde_json::json!({
            "ckid": "ck1", "name": "n", "type": "m5.large", "service": 1, "happiness": 1,
            "petname": "", "os": "linux", "image": null, "registered_at": null,
            "feed_count": 0, "last_fed_at": null
        }))
        .expect("a resident");
        let serde_json::Value::Object(fields) = serde_json::to_value(resident).expect("json")
        else {
            panic!("a resident is a JSON object");
        };
        let mut fields: Vec<&str> = fields.keys().map(String::as_str).collect();
        let mut projected = RESIDENT_ATTRIBUTES.to_vec();
        fields.sort_unstable();
        projected.sort_unstable();
        assert_eq!(fields, projected);
        let (expression, names) = resident_projection();
        assert_eq!(expression.split(", ").count(), names.len());
        assert!(expression.split(", ").all(|p| names.contains_key(p)));
    }
}
