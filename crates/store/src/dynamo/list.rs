//! Reading: one resident by ckid, and the newest-first listing (a Query on one of the
//! two indexes, never a scan) with its opaque cursor.

use std::collections::HashMap;

use async_trait::async_trait;
use domain::{Resident, ResidentId};
use tracing::instrument;

use super::DynamoStore;
use crate::cursor::Cursor;
use crate::item::s;
use crate::table::{LISTING_PARTITION, NEWEST_INDEX, OS_INDEX, attr, resident_projection};
use crate::{ListQuery, Page, ResidentReader, StoreError};

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
                (attr::CKID.to_owned(), s(c.ckid.as_str())),
                (attr::REGISTERED_AT.to_owned(), s(c.at.to_string())),
                (partition_attr.to_owned(), s(partition_value.clone())),
            ])
        });
        // One more than a page tells whether another page exists, so the last page
        // says so (`next_cursor: null`) instead of leading to an empty one.
        let (projection, names) = resident_projection();
        let request = self
            .client
            .query()
            .table_name(self.table.as_str())
            .index_name(index)
            .projection_expression(projection)
            .set_expression_attribute_names(Some(names.clone()))
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", partition_attr)
            .expression_attribute_values(":p", s(partition_value))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start_key);
        let output = self.traced("Query", request.send()).await?;
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
