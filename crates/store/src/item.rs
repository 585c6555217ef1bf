//! How a resident is written to DynamoDB: its own fields, the index keys, and what
//! makes its writes idempotent.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{IdempotencyKey, Resident, ResidentId, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::table::{LISTING_PARTITION, attr};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// How many feedings a resident remembers the tokens of, so that a repeated feeding
/// (an SDK retry, or a client repeating with the same `Idempotency-Key`) is recognised
/// while fewer than this many other feedings happened in between. The list is always
/// this long (empty slots are NULL), so each feeding pushes one token in and the oldest
/// out in the same update.
pub(crate) const REMEMBERED_FEEDINGS: usize = 16;

/// A feeding's token as remembered: 8 bytes of its SHA-256, enough to tell the last
/// few feedings of one resident apart while keeping the item small (a write costs one
/// unit per KiB of item).
pub(crate) fn feeding_mark(token: &IdempotencyKey) -> AttributeValue {
    let digest = Sha256::digest(token.as_str().as_bytes());
    AttributeValue::B(Blob::new(&digest[..8]))
}

/// `recent_feeds` for a resident nobody fed yet.
pub(crate) fn empty_feedings() -> AttributeValue {
    AttributeValue::L(vec![AttributeValue::Null(true); REMEMBERED_FEEDINGS])
}

/// A resident as stored. Reading goes straight to [`Resident`] (extra attributes are
/// ignored); writing goes through this type so that absent values are left out rather
/// than written as NULL, which DynamoDB refuses for index keys.
#[derive(Debug, Serialize)]
struct ResidentItem<'a> {
    #[serde(flatten)]
    resident: &'a Resident,
    /// Present only on listed residents: the newest-first index is sparse.
    #[serde(skip_serializing_if = "Option::is_none")]
    listing: Option<&'static str>,
    os_key: String,
}

/// The item a new resident is written as. `admission` is the fingerprint of the
/// registration and, for a keyed one, until when its key is remembered.
pub(crate) fn resident_item(
    resident: &Resident,
    admission: Option<(&str, Option<Timestamp>)>,
) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(ResidentItem {
        resident,
        listing: resident.registered_at.map(|_| LISTING_PARTITION),
        os_key: domain::os_index_key(&resident.os),
    })?;
    // The resident's own `image: null` and `last_fed_at: null` are left out.
    item.retain(|_, value| !matches!(value, AttributeValue::Null(true)));
    item.insert(attr::RECENT_FEEDS.into(), empty_feedings());
    if let Some((fingerprint, key_until)) = admission {
        item.insert(attr::FINGERPRINT.into(), s(fingerprint));
        if let Some(until) = key_until {
            item.insert(attr::KEY_UNTIL.into(), n(until.unix_seconds()));
        }
    }
    Ok(item)
}

/// What an admission needs to know of the item that took its ckid first.
#[derive(Debug, Deserialize)]
pub(crate) struct Admitted {
    pub ckid: ResidentId,
    pub registered_at: Option<Timestamp>,
    pub fingerprint: Option<String>,
    /// Epoch seconds until which the admission's key is remembered.
    pub key_until: Option<i64>,
}
