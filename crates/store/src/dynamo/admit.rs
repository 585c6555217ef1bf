//! Admission: one conditional PutItem per new resident, idempotent without a
//! transaction.
//!
//! With an `Idempotency-Key` the resident's id is derived from the key
//! (`ResidentId::for_key`), so a repeat of the request targets the same item: the
//! conditional put refuses it and hands back the item that is there
//! (`ReturnValuesOnConditionCheckFailure`), whose fingerprint says replay (same
//! registration) or 409 (another). Without a key the id is a fresh ULID, and a refusal
//! carrying our own fingerprint and time is the SDK retrying a put that DynamoDB had
//! applied but whose answer was lost.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{PutRequest, ReturnValuesOnConditionCheckFailure, WriteRequest};
use domain::{IdempotencyKey, NewResident, Resident, ResidentId, Timestamp};
use tracing::instrument;

use super::DynamoStore;
use crate::item::{Admitted, resident_item};
use crate::{Admission, ResidentAdmitter, StoreError};

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL: time::Duration = time::Duration::hours(24);

/// Ids an admission may try: a key that lapsed this many times, or that many ULID
/// collisions in a row, means something is wrong.
const MAX_TRIES: u32 = 16;

/// What a conditional put of a new item found.
enum Put {
    Written,
    /// The ckid was taken, by this item.
    Taken(Admitted),
}

impl DynamoStore {
    /// Writes `resident` unless its ckid is taken; `admission` as in
    /// [`resident_item`].
    async fn put_new(
        &self,
        resident: &Resident,
        admission: Option<(&str, Option<Timestamp>)>,
    ) -> Result<Put, StoreError> {
        let item = resident_item(resident, admission)?;
        let request = self
            .client
            .put_item()
            .table_name(self.table.as_str())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(ckid)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let result = self.traced("PutItem", request.send()).await;
        match result {
            Ok(_) => Ok(Put::Written),
            Err(failed) => match failed.error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(taken)) => {
                    let item = taken.item().cloned().unwrap_or_default();
                    Ok(Put::Taken(serde_dynamo::from_item(item)?))
                }
                _ => Err(StoreError::from_write(failed)),
            },
        }
    }

    /// Writes a resident as given unless its ckid is taken. Used by `seed`; registration
    /// goes through [`ResidentAdmitter::admit`].
    pub async fn insert(&self, resident: &Resident) -> Result<bool, StoreError> {
        Ok(matches!(self.put_new(resident, None).await?, Put::Written))
    }

    /// Up to 25 residents in one BatchWriteItem (unconditional puts), retrying what
    /// DynamoDB leaves unprocessed. For `seed::bulk_insert`.
    pub(crate) async fn put_batch(&self, residents: &[Resident]) -> Result<(), StoreError> {
        let mut requests = residents
            .iter()
            .map(|resident| {
                let put = PutRequest::builder()
                    .set_item(Some(resident_item(resident, None)?))
                    .build()
                    .map_err(StoreError::internal)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        for attempt in 0..10_u32 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10 << attempt.min(6))).await;
            }
            let request = self
                .client
                .batch_write_item()
                .request_items(self.table.as_str(), requests);
            let written = self
                .traced("BatchWriteItem", request.send())
                .await
                .map_err(StoreError::from_write)?;
            requests = written
                .unprocessed_items
                .and_then(|mut left| left.remove(self.table.as_str()))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "DynamoDB kept leaving writes unprocessed".into(),
        ))
    }
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
        for attempt in 0..MAX_TRIES {
            let now = Timestamp::now();
            let ckid = match key {
                Some(key) => ResidentId::for_key(key, attempt),
                None => ResidentId::generate(now),
            };
            let resident = new.admit(ckid, now);
            let key_until = key.map(|_| now.plus(IDEMPOTENCY_TTL));
            let taken = match self
                .put_new(&resident, Some((&fingerprint, key_until)))
                .await?
            {
                Put::Written => return Ok(admitted(resident)),
                Put::Taken(taken) => taken,
            };
            let same = taken.fingerprint.as_deref() == Some(fingerprint.as_str());
            // Our own put, applied by an attempt whose answer was lost: the SDK retried it.
            if same && taken.registered_at == resident.registered_at {
                return Ok(admitted(resident));
            }
            let key_live = taken
                .key_until
                .is_some_and(|until| until >= now.unix_seconds());
            match key {
                Some(_) if key_live && same => {
                    let first = taken.registered_at.unwrap_or(now);
                    return Ok(Admission {
                        resident: new.admit(taken.ckid, first),
                        replayed: true,
                    });
                }
                Some(_) if key_live => return Err(StoreError::IdempotencyConflict),
                // A lapsed key (or an id that is no keyed admission's): the next id. Without
                // a key, a ULID collision: draw another.
                Some(_) | None => {}
            }
        }
        Err(StoreError::Unavailable(
            "admission found no free id for this registration".into(),
        ))
    }
}

fn admitted(resident: Resident) -> Admission {
    Admission {
        resident,
        replayed: false,
    }
}
