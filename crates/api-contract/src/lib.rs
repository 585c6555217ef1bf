//! The wire contract between the website and the two JSON APIs: where each operation
//! lives, the headers and problem types both sides read, and the bodies they exchange.
//! The APIs serve these paths and types (and document them from the same definitions);
//! the website calls and reads them. Nothing here does I/O.

mod problem;

use domain::{Resident, ResidentId};
use http::HeaderName;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use problem::{FieldProblem, OUTCOME_UNKNOWN, ProblemDetails};

/// The operations' paths, as axum and OpenAPI write them (`{ckid}` a path parameter).
pub mod paths {
    use super::ResidentId;

    /// server-listing: `GET` a page of residents, newest first.
    pub const SERVERS: &str = "/v1/servers";
    /// server-listing: `GET` one resident.
    pub const SERVER: &str = "/v1/servers/{ckid}";
    /// server-listing: `POST` to feed one resident.
    pub const FEED: &str = "/v1/servers/{ckid}/feed";
    /// register: `POST` a registration to admit a resident.
    pub const REGISTRATIONS: &str = "/v1/registrations";

    /// [`SERVER`] of `ckid`: where a resident is read (register's `Location`).
    pub fn server(ckid: &ResidentId) -> String {
        with_ckid(SERVER, ckid)
    }

    /// [`FEED`] of `ckid`.
    pub fn feed(ckid: &ResidentId) -> String {
        with_ckid(FEED, ckid)
    }

    // A ckid is letters, digits, '.', '_' and '-': nothing to escape in a path.
    fn with_ckid(template: &str, ckid: &ResidentId) -> String {
        template.replace("{ckid}", ckid.as_str())
    }
}

/// The request header that makes a write safe to repeat.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Set (to `true`) on an answer that replays an earlier write with the same key.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// One page of residents, newest first (`GET /v1/servers`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServerPage {
    pub servers: Vec<Resident>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_residents_paths_fill_in_its_ckid() {
        let ckid = ResidentId::parse("ck1").unwrap();
        assert_eq!(paths::server(&ckid), "/v1/servers/ck1");
        assert_eq!(paths::feed(&ckid), "/v1/servers/ck1/feed");
    }
}
