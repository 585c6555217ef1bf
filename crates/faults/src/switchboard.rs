//! The switchboard: one item in the residents table listing the faults switched on.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Fault, Scenario};

/// The item's key. Resident ids never contain `#`, so no API can read it as a resident,
/// and the listing indexes never hold it (it has none of their keys).
pub const SWITCHBOARD_KEY: &str = "fault#switchboard";

/// Longest a fault may stay on before it switches itself off: a forgotten demo must
/// not stay broken.
pub const MAX_LASTING: Duration = Duration::from_secs(24 * 60 * 60);

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A fault as switched on: its settings, since when, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchedOn {
    #[serde(flatten)]
    pub fault: Fault,
    pub since: Timestamp,
    pub until: Timestamp,
}

impl SwitchedOn {
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.until
    }
}

/// The switchboard item as stored. `version` makes every change a compare-and-set, so
/// two operators switching faults at once cannot undo each other.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Item {
    ckid: String,
    version: u64,
    /// At most one entry per scenario, in `Scenario::ALL` order.
    faults: Vec<SwitchedOn>,
}

/// Reads and changes the switchboard item in one table.
#[derive(Debug, Clone)]
pub struct Switchboard {
    client: Client,
    table: String,
}

impl Switchboard {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Every fault on the board, live or lapsed, by a strongly consistent read.
    pub async fn read(&self) -> Result<Vec<SwitchedOn>, Error> {
        Ok(self.load().await?.faults)
    }

    /// Switches `fault` on for `lasting` (replacing its earlier settings, if any).
    pub async fn switch_on(&self, fault: Fault, lasting: Duration) -> Result<SwitchedOn, Error> {
        if lasting.is_zero() || lasting > MAX_LASTING {
            return Err(format!(
                "--for must be more than 0 and at most {}",
                humantime::format_duration(MAX_LASTING)
            )
            .into());
        }
        let since = Timestamp::now();
        let on = SwitchedOn {
            fault,
            since,
            until: since.plus(time::Duration::try_from(lasting)?),
        };
        self.change(|faults| {
            faults.retain(|f| f.fault.scenario() != on.fault.scenario());
            faults.push(on.clone());
            faults.sort_by_key(|f| f.fault.scenario());
        })
        .await?;
        Ok(on)
    }

    /// Switches off `scenarios`; answers those that were on.
    pub async fn switch_off(&self, scenarios: &[Scenario]) -> Result<Vec<Scenario>, Error> {
        let mut were_on = Vec::new();
        self.change(|faults| {
            were_on = faults
                .iter()
                .map(|f| f.fault.scenario())
                .filter(|s| scenarios.contains(s))
                .collect();
            faults.retain(|f| !scenarios.contains(&f.fault.scenario()));
        })
        .await?;
        Ok(were_on)
    }

    async fn load(&self) -> Result<Item, Error> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("ckid", AttributeValue::S(SWITCHBOARD_KEY.into()))
            .consistent_read(true)
            .send()
            .await?;
        match found.item {
            Some(item) => Ok(serde_dynamo::from_item(item)?),
            None => Ok(Item {
                ckid: SWITCHBOARD_KEY.into(),
                ..Item::default()
            }),
        }
    }

    /// Read, change, write back only if nobody wrote in between; again if someone did.
    async fn change(&self, mut edit: impl FnMut(&mut Vec<SwitchedOn>)) -> Result<(), Error> {
        for _ in 0..5 {
            let mut item = self.load().await?;
            let read_version = item.version;
            edit(&mut item.faults);
            item.version += 1;
            let written = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(serde_dynamo::to_item(&item)?))
                .condition_expression("attribute_not_exists(ckid) OR version = :read")
                .expression_attribute_values(":read", AttributeValue::N(read_version.to_string()))
                .send()
                .await;
            match written {
                Ok(_) => return Ok(()),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Err("the switchboard kept changing under this command; try again".into())
    }
}
