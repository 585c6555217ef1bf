//! How a resident is written to DynamoDB: its own fields plus the index keys.

use domain::{Resident, ResidentId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::table::LISTING_PARTITION;

/// A resident as stored. Reading goes straight to [`Resident`] (extra attributes are
/// ignored); writing goes through this type so that absent values are left out rather
/// than written as NULL, which DynamoDB refuses for index keys.
#[derive(Debug, Serialize)]
pub(crate) struct ResidentItem<'a> {
    ckid: &'a ResidentId,
    name: &'a str,
    #[serde(rename = "type")]
    server_type: &'a str,
    service: u16,
    happiness: u8,
    petname: &'a str,
    os: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registered_at: Option<Timestamp>,
    feed_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_fed_at: Option<Timestamp>,
    /// Present only on listed residents: the newest-first index is sparse.
    #[serde(skip_serializing_if = "Option::is_none")]
    listing: Option<&'static str>,
    os_key: String,
}

impl<'a> From<&'a Resident> for ResidentItem<'a> {
    fn from(r: &'a Resident) -> Self {
        Self {
            ckid: &r.ckid,
            name: &r.name,
            server_type: &r.server_type,
            service: r.service,
            happiness: r.happiness,
            petname: &r.petname,
            os: &r.os,
            image: r.image.as_deref(),
            registered_at: r.registered_at,
            feed_count: r.feed_count,
            last_fed_at: r.last_fed_at,
            listing: r.registered_at.map(|_| LISTING_PARTITION),
            os_key: r.os.to_lowercase(),
        }
    }
}

/// The record that remembers an idempotency key: which content it was used with and the
/// answer it got, until `expires_at` (epoch seconds; DynamoDB's TTL deletes it later).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IdempotencyItem {
    pub ckid: String,
    pub fingerprint: String,
    pub resident: Resident,
    pub expires_at: i64,
}

/// Idempotency records live in the residents table under keys no [`ResidentId`] can
/// take (ids never contain `#`).
pub(crate) fn idempotency_pk(key: &domain::IdempotencyKey) -> String {
    format!("idempotency#{}", key.as_str())
}
