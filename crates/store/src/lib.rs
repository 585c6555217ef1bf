//! The residents table on DynamoDB.
//!
//! Services hold the store through the capability traits in `capabilities.rs` (`Arc<dyn ...>`), so
//! a handler sees only what it may do. [`DynamoStore`] implements them all against one
//! table whose layout is [`table::DEFINITION`].
//!
//! **Invariant:** no request path scans the table. Listing is a Query on an index;
//! only `cuddlekube-admin migrate` scans.

mod capabilities;
pub mod client;
mod cursor;
mod dynamo;
mod error;
mod interceptors;
mod item;
pub mod seed;
pub mod table;
mod traced;
mod transport;

pub use capabilities::{
    Admission, Feeding, ListQuery, Page, Readiness, ResidentAdmitter, ResidentFeeder,
    ResidentReader,
};
pub use client::{Connection, TableName, dynamodb_client};
pub use dynamo::{DynamoStore, MigrationReport};
pub use error::StoreError;
pub use transport::CA_BUNDLE_VAR;
