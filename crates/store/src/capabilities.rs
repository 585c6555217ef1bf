//! The capability traits services hold the store through (read, admit, feed, readiness),
//! and the types they take and give.

use async_trait::async_trait;
use domain::{IdempotencyKey, NewResident, OperatingSystem, PageSize, Resident, ResidentId};

use crate::StoreError;

/// One page of the newest-first listing.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: PageSize,
    /// An opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub os: Option<OperatingSystem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub residents: Vec<Resident>,
    /// `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The outcome of an admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub resident: Resident,
    /// `true` when an earlier request with the same idempotency key and content
    /// created this resident and this one only replays it.
    pub replayed: bool,
}

#[async_trait]
pub trait ResidentReader: Send + Sync + std::fmt::Debug {
    async fn get(&self, ckid: &ResidentId) -> Result<Resident, StoreError>;
    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError>;
}

/// The outcome of a feeding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feeding {
    /// The resident after this feeding (or, for a replay, as it is now).
    pub resident: Resident,
    /// `true` when this token's feeding was already applied and this one only replays
    /// it.
    pub replayed: bool,
}

#[async_trait]
pub trait ResidentFeeder: Send + Sync + std::fmt::Debug {
    /// Happiness +1 (never past 10), `feed_count` +1, `last_fed_at` now: one atomic write,
    /// applied once per `token` (a repeat with the same token replays it).
    async fn feed(&self, ckid: &ResidentId, token: &IdempotencyKey) -> Result<Feeding, StoreError>;
}

#[async_trait]
pub trait ResidentAdmitter: Send + Sync + std::fmt::Debug {
    /// Stores a new resident. With a key, a retry replays the first answer and never
    /// admits twice; a different registration under the same key is a conflict.
    async fn admit(
        &self,
        new: &NewResident,
        key: Option<&IdempotencyKey>,
    ) -> Result<Admission, StoreError>;
}

#[async_trait]
pub trait Readiness: Send + Sync + std::fmt::Debug {
    /// Ok when the table answers.
    async fn ready(&self) -> Result<(), StoreError>;
}
