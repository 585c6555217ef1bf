//! Fault scenarios: failures an operator switches on at runtime to show, and to test,
//! that one trace finds the culprit.
//!
//! - [`Scenario`] and [`Fault`]: the named scenarios and their settings, parsed from the
//!   operator's command line (`cuddlekube-admin faults on NAME [options]`).
//! - [`Switchboard`]: the one DynamoDB item (in the residents table, under a key no
//!   resident id can take) that holds the faults switched on, read and written with
//!   optimistic concurrency.
//! - [`Faults`]: a service's cached view of the switchboard, refreshed by [`watch`]
//!   every [`POLL_INTERVAL`], so asking whether a fault is on costs no DynamoDB call.
//!
//! **Invariant:** faults change only through the switchboard item, which no public
//! route writes; services only read it.

mod scenario;
mod switchboard;
mod watch;

pub use scenario::{Fault, FaultError, Rate, Scenario, Service};
pub use switchboard::{SWITCHBOARD_KEY, Switchboard, SwitchedOn};
pub use watch::{Faults, POLL_INTERVAL, watch};
