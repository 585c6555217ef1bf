//! server-listing over real HTTP: the service on port 0, against DynamoDB Local with a
//! fresh table per test (one binary, zero2prod style).

mod cursor;
mod errors;
mod feed;
mod get;
mod helpers;
mod list;
mod openapi;
mod outage;
mod without_store;
