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

#[async_trait]
pub trait ResidentFeeder: Send + Sync + std::fmt::Debug {
    /// Happiness +1 (never past 10), `feed_count` +1, `last_fed_at` now: one atomic write.
    async fn feed(&self, ckid: &ResidentId) -> Result<Resident, StoreError>;
}

#[async_trait]
pub trait ResidentAdmitter: Send + Sync + std::fmt::Debug {
    /// Stores a new resident. With a key, the resident and the key's record are written
    /// in one transaction, so a retry replays the first answer and never admits twice.
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
