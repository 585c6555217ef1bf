//! `cuddlekube-admin migrate`: residents written in the 2019 shape brought into the
//! listing. The one place that scans the table: an operator's command, not a request
//! path.

use domain::{Resident, Timestamp};

use super::DynamoStore;
use crate::StoreError;
use crate::item::{Item, empty_feedings, n, s};
use crate::table::{LISTING_PARTITION, RECORD_MARK, attr};

impl DynamoStore {
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
            let request = self
                .client
                .scan()
                .table_name(self.table.as_str())
                .filter_expression(
                    "NOT contains(ckid, :record) AND (attribute_not_exists(listing) \
                OR attribute_not_exists(os_key) OR attribute_not_exists(feed_count) \
                OR attribute_not_exists(recent_feeds) \
                OR attribute_type(service, :text) OR attribute_type(happiness, :text))",
                )
                .expression_attribute_values(":record", s(RECORD_MARK))
                .expression_attribute_values(":text", s("S"))
                .set_exclusive_start_key(start.take())
                .consistent_read(true);
            let page = self.traced("Scan", request.send()).await?;
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
            .key(attr::CKID, s(resident.ckid.as_str()))
            .update_expression(
                "SET listing = :listing, registered_at = if_not_exists(registered_at, :now), \
                 os_key = :os_key, feed_count = if_not_exists(feed_count, :zero), \
                 recent_feeds = if_not_exists(recent_feeds, :no_feeds), \
                 service = :service, happiness = :happiness",
            )
            .expression_attribute_values(":listing", s(LISTING_PARTITION))
            .expression_attribute_values(":now", s(Timestamp::now().to_string()))
            .expression_attribute_values(":os_key", s(domain::os_index_key(&resident.os)))
            .expression_attribute_values(":no_feeds", empty_feedings())
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":service", n(resident.service))
            .expression_attribute_values(":happiness", n(resident.happiness));
        // Numbers are rewritten only if nobody changed them since the scan (a feed
        // running meanwhile would otherwise be undone).
        for field in ["service", "happiness"] {
            if let Some(value) = item.get(field) {
                condition.push_str(&format!(" AND {field} = :was_{field}"));
                request =
                    request.expression_attribute_values(format!(":was_{field}"), value.clone());
            }
        }
        match self
            .traced("UpdateItem", request.condition_expression(condition).send())
            .await
        {
            Ok(_) => Ok(()),
            Err(failed)
                if failed
                    .error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Unavailable(
                    "an item changed while it was migrated; run migrate again".into(),
                ))
            }
            Err(failed) => Err(StoreError::from_write(failed)),
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
