use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use domain::{Happiness, IdempotencyKey, NewResident, Resident, ResidentId, Timestamp};
use tracing::instrument;

use crate::cursor::Cursor;
use crate::item::{IdempotencyItem, ResidentItem, idempotency_pk};
use crate::table::{LISTING_PARTITION, NEWEST_INDEX, OS_INDEX, attr};
use crate::traced::traced;
use crate::{
    Admission, ListQuery, Page, Readiness, ResidentAdmitter, ResidentFeeder, ResidentReader,
    StoreError, TableName,
};

type Item = HashMap<String, AttributeValue>;

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL: time::Duration = time::Duration::hours(24);
/// Attempts at an admission that keeps meeting a concurrent one on the same key.
const ADMIT_ATTEMPTS: u32 = 12;

/// The residents table, reached through one DynamoDB client.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: TableName,
}

impl DynamoStore {
    pub fn new(client: Client, table: TableName) -> Self {
        Self { client, table }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &TableName {
        &self.table
    }

    fn s(value: impl Into<String>) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    fn n(value: impl ToString) -> AttributeValue {
        AttributeValue::N(value.to_string())
    }

    /// One resident by ckid; `consistent` for a read that must see the latest write.
    async fn read(&self, ckid: &ResidentId, consistent: bool) -> Result<Resident, StoreError> {
        let found = traced(
            "GetItem",
            self.table.as_str(),
            self.client
                .get_item()
                .table_name(self.table.as_str())
                .key(attr::CKID, Self::s(ckid.as_str()))
                .consistent_read(consistent)
                .send(),
        )
        .await?;
        let item = found.item.ok_or(StoreError::NotFound)?;
        Ok(serde_dynamo::from_item(item)?)
    }

    /// Writes a resident as given unless its ckid is taken. Used by `seed`; registration
    /// goes through [`ResidentAdmitter::admit`].
    pub async fn insert(&self, resident: &Resident) -> Result<bool, StoreError> {
        let item: Item = serde_dynamo::to_item(ResidentItem::from(resident))?;
        let result = traced(
            "PutItem",
            self.table.as_str(),
            self.client
                .put_item()
                .table_name(self.table.as_str())
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(ckid)")
                .send(),
        )
        .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// One transaction: the resident (never overwriting) and, with a key, the key's
    /// record (unless a live one exists). `Ok(None)` means the key's record won.
    /// The `ClientRequestToken` makes an SDK retry of an attempt DynamoDB did apply a
    /// no-op, so a lost answer never admits the server twice.
    async fn try_admit(
        &self,
        resident: &Resident,
        key: Option<(&IdempotencyKey, &str)>,
        now: Timestamp,
    ) -> Result<Option<()>, AdmitRetry> {
        let resident_item: Item =
            serde_dynamo::to_item(ResidentItem::from(resident)).map_err(StoreError::from)?;
        let put_resident = Put::builder()
            .table_name(self.table.as_str())
            .set_item(Some(resident_item))
            .condition_expression("attribute_not_exists(ckid)")
            .build()
            .map_err(StoreError::internal)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_resident).build())
            .client_request_token(resident.ckid.as_str());
        if let Some((key, fingerprint)) = key {
            let record = IdempotencyItem {
                ckid: idempotency_pk(key),
                fingerprint: fingerprint.to_owned(),
                resident: resident.clone(),
                expires_at: now.plus(IDEMPOTENCY_TTL).unix_seconds(),
            };
            let put_record = Put::builder()
                .table_name(self.table.as_str())
                .set_item(Some(
                    serde_dynamo::to_item(record).map_err(StoreError::from)?,
                ))
                // TTL deletion lags by up to days, so an expired record counts as absent.
                .condition_expression("attribute_not_exists(ckid) OR expires_at < :now")
                .expression_attribute_values(":now", Self::n(now.unix_seconds()))
                .build()
                .map_err(StoreError::internal)?;
            request = request.transact_items(TransactWriteItem::builder().put(put_record).build());
        }
        let err = match traced("TransactWriteItems", self.table.as_str(), request.send()).await {
            Ok(_) => return Ok(Some(())),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Err(StoreError::from(err).into());
        };
        let codes: Vec<_> = cancelled
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or("None"))
            .collect();
        match codes.as_slice() {
            [_, "ConditionalCheckFailed"] => Ok(None),
            c if c.contains(&"TransactionConflict") => Err(AdmitRetry::Again),
            // The ckid was taken: a ULID collision, so draw another.
            ["ConditionalCheckFailed", ..] => Err(AdmitRetry::Again),
            _ => Err(StoreError::from(err).into()),
        }
    }

    /// The live record for `key`, if there is one.
    async fn idempotency_record(
        &self,
        key: &IdempotencyKey,
        now: Timestamp,
    ) -> Result<Option<IdempotencyItem>, StoreError> {
        let found = traced(
            "GetItem",
            self.table.as_str(),
            self.client
                .get_item()
                .table_name(self.table.as_str())
                .key(attr::CKID, Self::s(idempotency_pk(key)))
                .consistent_read(true)
                .send(),
        )
        .await?;
        let Some(item) = found.item else {
            return Ok(None);
        };
        let record: IdempotencyItem = serde_dynamo::from_item(item)?;
        Ok((record.expires_at >= now.unix_seconds()).then_some(record))
    }

    /// Backfills residents written in the 2019 shape so they list like new ones:
    /// `registered_at` (the migration time), `listing`, `os_key`, `feed_count`, and
    /// numbers stored as text turned into numbers. Safe to run again, and alongside the
    /// services: each item changes only if it still holds what was read.
    ///
    /// This is the one place that scans the table; it is an operator's command, not a
    /// request path.
    pub async fn migrate_legacy(&self) -> Result<MigrationReport, StoreError> {
        let mut report = MigrationReport::default();
        let mut start: Option<Item> = None;
        loop {
            let page = traced(
                "Scan",
                self.table.as_str(),
                self.client
                    .scan()
                    .table_name(self.table.as_str())
                    .filter_expression(
                        "NOT begins_with(ckid, :internal) AND (attribute_not_exists(listing) \
                     OR attribute_not_exists(os_key) OR attribute_not_exists(feed_count) \
                     OR attribute_type(service, :text) OR attribute_type(happiness, :text))",
                    )
                    .expression_attribute_values(":internal", Self::s("idempotency#"))
                    .expression_attribute_values(":text", Self::s("S"))
                    .set_exclusive_start_key(start.take())
                    .consistent_read(true)
                    .send(),
            )
            .await?;
            report.examined += page.scanned_count() as u64;
            for item in page.items() {
                match self.migrate_item(item).await {
                    Ok(()) => report.migrated += 1,
                    Err(StoreError::Internal(cause)) => {
                        tracing::warn!(ckid = ?item.get(attr::CKID), error = %cause, "left an unreadable item as it is");
                        report.skipped += 1;
                    }
                    Err(other) => return Err(other),
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(report),
            }
        }
    }

    async fn migrate_item(&self, item: &Item) -> Result<(), StoreError> {
        let resident: Resident = serde_dynamo::from_item(item.clone())?;
        let mut condition = String::from("attribute_exists(ckid)");
        let mut request = self
            .client
            .update_item()
            .table_name(self.table.as_str())
            .key(attr::CKID, Self::s(resident.ckid.as_str()))
            .update_expression(
                "SET listing = :listing, registered_at = if_not_exists(registered_at, :now), \
                 os_key = :os_key, feed_count = if_not_exists(feed_count, :zero), \
                 service = :service, happiness = :happiness",
            )
            .expression_attribute_values(":listing", Self::s(LISTING_PARTITION))
            .expression_attribute_values(":now", Self::s(Timestamp::now().to_string()))
            .expression_attribute_values(":os_key", Self::s(resident.os.to_lowercase()))
            .expression_attribute_values(":zero", Self::n(0))
            .expression_attribute_values(":service", Self::n(resident.service))
            .expression_attribute_values(":happiness", Self::n(resident.happiness));
        // Numbers are rewritten only if nobody changed them since the scan (a feed
        // running meanwhile would otherwise be undone).
        for field in ["service", "happiness"] {
            if let Some(value) = item.get(field) {
                condition.push_str(&format!(" AND {field} = :was_{field}"));
                request =
                    request.expression_attribute_values(format!(":was_{field}"), value.clone());
            }
        }
        match traced(
            "UpdateItem",
            self.table.as_str(),
            request.condition_expression(condition).send(),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Unavailable(
                    "an item changed while it was migrated; run migrate again".into(),
                ))
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// What `migrate_legacy` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Items read by the scan.
    pub examined: u64,
    pub migrated: u64,
    /// Items that could not be read as residents (left untouched, logged).
    pub skipped: u64,
}

/// Why an admission attempt did not settle.
enum AdmitRetry {
    Again,
    Failed(StoreError),
}

impl From<StoreError> for AdmitRetry {
    fn from(err: StoreError) -> Self {
        Self::Failed(err)
    }
}

#[async_trait]
impl ResidentReader for DynamoStore {
    #[instrument(skip(self), fields(table = %self.table))]
    async fn get(&self, ckid: &ResidentId) -> Result<Resident, StoreError> {
        self.read(ckid, false).await
    }

    #[instrument(skip(self), fields(table = %self.table))]
    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let os_key = query.os.as_ref().map(|os| os.index_key());
        let cursor = query
            .cursor
            .as_deref()
            .map(|text| Cursor::decode(text, os_key.as_deref()))
            .transpose()?;
        let limit = usize::from(query.limit.get());
        let (index, partition_attr, partition_value) = match &os_key {
            Some(os) => (OS_INDEX, attr::OS_KEY, os.clone()),
            None => (NEWEST_INDEX, attr::LISTING, LISTING_PARTITION.to_owned()),
        };
        let start_key = cursor.map(|c| {
            HashMap::from([
                (attr::CKID.to_owned(), Self::s(c.ckid.as_str())),
                (attr::REGISTERED_AT.to_owned(), Self::s(c.at.to_string())),
                (partition_attr.to_owned(), Self::s(partition_value.clone())),
            ])
        });
        // One more than a page tells whether another page exists, so the last page
        // says so (`next_cursor: null`) instead of leading to an empty one.
        let output = traced(
            "Query",
            self.table.as_str(),
            self.client
                .query()
                .table_name(self.table.as_str())
                .index_name(index)
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", partition_attr)
                .expression_attribute_values(":p", Self::s(partition_value))
                .scan_index_forward(false)
                .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key)
                .send(),
        )
        .await?;
        let more = output.items().len() > limit
            || output.last_evaluated_key().is_some_and(|k| !k.is_empty());
        let mut residents: Vec<Resident> = output
            .items
            .unwrap_or_default()
            .into_iter()
            .take(limit)
            .map(serde_dynamo::from_item)
            .collect::<Result<_, _>>()?;
        residents.truncate(limit);
        let next_cursor = match residents.last() {
            Some(last) if more => {
                let at = last.registered_at.ok_or_else(|| {
                    StoreError::internal("a listed resident has no registered_at")
                })?;
                Some(Cursor::new(os_key, last.ckid.clone(), at).encode())
            }
            _ => None,
        };
        Ok(Page {
            residents,
            next_cursor,
        })
    }
}

#[async_trait]
impl ResidentFeeder for DynamoStore {
    /// Each feeding is one conditional update sent as a single-item `TransactWriteItems`
    /// with a `ClientRequestToken`: if the SDK retries an attempt that DynamoDB did apply
    /// (the answer was lost or late), the token makes the retry a no-op. A plain
    /// `UpdateItem` would count that feeding twice.
    #[instrument(skip(self), fields(table = %self.table))]
    async fn feed(&self, ckid: &ResidentId) -> Result<Resident, StoreError> {
        let mut raise = true;
        for attempt in 0..FEED_ATTEMPTS {
            match self.try_feed(ckid, raise).await? {
                // Read strongly so the answer includes this feeding.
                FeedOutcome::Applied => return self.read(ckid, true).await,
                FeedOutcome::Missing => return Err(StoreError::NotFound),
                // Already as happy as can be: the feeding still counts.
                FeedOutcome::AtMostHappy if raise => raise = false,
                FeedOutcome::AtMostHappy => return Err(StoreError::NotFound),
                FeedOutcome::Conflict => backoff(attempt).await,
            }
        }
        Err(StoreError::Unavailable(
            "feeding kept conflicting with concurrent feedings".into(),
        ))
    }
}

/// Attempts at a feeding that keeps meeting concurrent ones on the same resident.
const FEED_ATTEMPTS: u32 = 20;

enum FeedOutcome {
    Applied,
    Missing,
    AtMostHappy,
    Conflict,
}

impl DynamoStore {
    /// One feeding: happiness +1 (when `raise`; only below 10), `feed_count` +1,
    /// `last_fed_at` now.
    async fn try_feed(&self, ckid: &ResidentId, raise: bool) -> Result<FeedOutcome, StoreError> {
        let (set, condition) = if raise {
            (
                "SET happiness = happiness + :one, \
                 feed_count = if_not_exists(feed_count, :zero) + :one, last_fed_at = :now",
                "attribute_exists(ckid) AND happiness < :max",
            )
        } else {
            (
                "SET feed_count = if_not_exists(feed_count, :zero) + :one, last_fed_at = :now",
                "attribute_exists(ckid) AND happiness >= :max",
            )
        };
        let update = Update::builder()
            .table_name(self.table.as_str())
            .key(attr::CKID, Self::s(ckid.as_str()))
            .update_expression(set)
            .condition_expression(condition)
            .expression_attribute_values(":one", Self::n(1))
            .expression_attribute_values(":zero", Self::n(0))
            .expression_attribute_values(":max", Self::n(Happiness::MAX))
            .expression_attribute_values(":now", Self::s(Timestamp::now().to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::internal)?;
        let result = traced(
            "TransactWriteItems",
            self.table.as_str(),
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(update).build())
                .client_request_token(ulid::Ulid::new().to_string())
                .send(),
        )
        .await;
        let err = match result {
            Ok(_) => return Ok(FeedOutcome::Applied),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Err(err.into());
        };
        let reason = cancelled.cancellation_reasons().first();
        match reason.and_then(|r| r.code()) {
            Some("ConditionalCheckFailed") if reason.and_then(|r| r.item()).is_none() => {
                Ok(FeedOutcome::Missing)
            }
            Some("ConditionalCheckFailed") => Ok(FeedOutcome::AtMostHappy),
            Some("TransactionConflict") => Ok(FeedOutcome::Conflict),
            _ => Err(err.into()),
        }
    }
}

/// A growing pause with full jitter before retrying after a conflict, so writers that
/// collided on one item spread out instead of colliding again in step.
async fn backoff(attempt: u32) {
    let cap_ms = 10u64 << attempt.min(6);
    let wait_ms = 1 + (ulid::Ulid::new().random() as u64) % cap_ms;
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
}

#[async_trait]
impl ResidentAdmitter for DynamoStore {
    #[instrument(skip(self, new), fields(table = %self.table, idempotent = key.is_some()))]
    async fn admit(
        &self,
        new: &NewResident,
        key: Option<&IdempotencyKey>,
    ) -> Result<Admission, StoreError> {
        let fingerprint = new.fingerprint();
        for attempt in 0..ADMIT_ATTEMPTS {
            let now = Timestamp::now();
            if let Some(key) = key
                && let Some(record) = self.idempotency_record(key, now).await?
            {
                return replay(record, &fingerprint);
            }
            let resident = Resident {
                ckid: ResidentId::generate(now),
                name: new.name.to_string(),
                server_type: new.server_type.to_string(),
                service: u16::from(new.service.get()),
                happiness: new.happiness.get(),
                petname: new.petname.to_string(),
                os: new.os.to_string(),
                image: new.image.as_ref().map(|i| i.as_str().to_owned()),
                registered_at: Some(now),
                feed_count: 0,
                last_fed_at: None,
            };
            match self
                .try_admit(&resident, key.map(|k| (k, fingerprint.as_str())), now)
                .await
            {
                Ok(Some(())) => {
                    return Ok(Admission {
                        resident,
                        replayed: false,
                    });
                }
                // Another request with this key committed first: loop to read it.
                Ok(None) | Err(AdmitRetry::Again) => backoff(attempt).await,
                Err(AdmitRetry::Failed(err)) => return Err(err),
            }
        }
        Err(StoreError::Unavailable(
            "admission kept conflicting with concurrent requests".into(),
        ))
    }
}

fn replay(record: IdempotencyItem, fingerprint: &str) -> Result<Admission, StoreError> {
    if record.fingerprint == fingerprint {
        Ok(Admission {
            resident: record.resident,
            replayed: true,
        })
    } else {
        Err(StoreError::IdempotencyConflict)
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

impl DynamoStore {
    /// Connects from the environment: `RESIDENTS_TABLE` (default `cuddlekube`) and the
    /// SDK's own variables. Errors name the variable.
    pub async fn from_env() -> Result<Self, String> {
        let table = match std::env::var("RESIDENTS_TABLE") {
            Ok(name) if !name.is_empty() => {
                TableName::parse(&name).map_err(|err| format!("RESIDENTS_TABLE: {err}"))?
            }
            _ => TableName::parse("cuddlekube")?,
        };
        Ok(Self::new(crate::dynamodb_client().await?, table))
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
            Box::pin(async move { store.ready().await.map_err(|err| error_chain(&err)) })
        }
    }
}

/// An error and all its causes on one line, for logs.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
