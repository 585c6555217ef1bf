//! What the two JSON APIs on the residents table (register, server-listing) share,
//! beside what every service shares (`service-kit`) and what they agree on with the
//! website (`api-contract`):
//!
//! - `router.rs`: an API's routes with their generated OpenAPI document at
//!   `/openapi.json`, and problem+json answers for a path or method it does not serve;
//! - `openapi.rs`: that document's shared parts (the failure answers every read and
//!   write may give, the bounds in words);
//! - `extract.rs`: a resident's `{ckid}` and the `Idempotency-Key` header;
//! - `store.rs`: how a `StoreError` is answered, and starting a service on the table
//!   with its watch on the fault switchboard.

mod extract;
pub mod openapi;
mod router;
mod store;

pub use extract::{Ckid, IdempotencyKeyHeader, NO_SUCH_RESIDENT, NotAResident};
pub use router::api_router;
pub use store::{bind_on_store, run_store_service, store_problem};
