//! Feeding: one conditional UpdateItem per feeding, exact and idempotent without a
//! transaction.
//!
//! The update pushes the feeding's token onto the resident's `recent_feeds` (dropping the
//! oldest) and its condition refuses a token already there, so a repeat — an SDK retry
//! of an attempt DynamoDB applied but whose answer was lost, or a client repeating with
//! the same `Idempotency-Key` — is refused and answered as a replay from the item the
//! refusal hands back. Happiness is raised only below 10 (the condition again); at 10
//! the feeding still counts. `ReturnValues=ALL_NEW` makes the answer the feeding's own.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use domain::{Happiness, IdempotencyKey, ResidentId, Timestamp};
use tracing::instrument;

use super::DynamoStore;
use crate::item::{Item, REMEMBERED_FEEDINGS, feeding_mark, n, s};
use crate::table::attr;
use crate::{Feeding, ResidentFeeder, StoreError};

/// Updates a feeding may take when the item keeps changing under it (another feeding
/// reaching 10 in between); each one is a different shape, so few are ever needed.
const FEED_ATTEMPTS: u32 = 4;

/// The shape of one feeding's update, chosen from what the item holds.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// Raise happiness (the item is below 10), or only count the feeding.
    raise: bool,
    /// The item has its `recent_feeds` list; if not (an item written before there was
    /// one), the update creates it.
    has_list: bool,
}

enum Tried {
    Fed(Item),
    /// The condition refused the update; the item as it is, if there is one.
    Refused(Option<Item>),
}

#[async_trait]
impl ResidentFeeder for DynamoStore {
    #[instrument(skip(self, token), fields(table = %self.table))]
    async fn feed(&self, ckid: &ResidentId, token: &IdempotencyKey) -> Result<Feeding, StoreError> {
        let mark = feeding_mark(token);
        let mut shape = Shape {
            raise: !self.at_most_happy.contains(ckid),
            has_list: true,
        };
        for _ in 0..FEED_ATTEMPTS {
            let current = match self.try_feed(ckid, &mark, shape).await? {
                Tried::Fed(item) => {
                    let resident: domain::Resident = serde_dynamo::from_item(item)?;
                    self.at_most_happy.note(&resident);
                    return Ok(Feeding {
                        resident,
                        replayed: false,
                    });
                }
                Tried::Refused(None) => return Err(StoreError::NotFound),
                Tried::Refused(Some(current)) => current,
            };
            if remembers(&current, &mark) {
                return Ok(Feeding {
                    resident: serde_dynamo::from_item(current)?,
                    replayed: true,
                });
            }
            let Some(AttributeValue::N(happiness)) = current.get("happiness") else {
                return Err(StoreError::internal(format!(
                    "resident {ckid} is in the 2019 shape: run `cuddlekube-admin migrate`"
                )));
            };
            shape = Shape {
                raise: happiness.parse::<u8>().is_ok_and(|h| h < Happiness::MAX),
                has_list: current.contains_key(attr::RECENT_FEEDS),
            };
        }
        Err(StoreError::Unavailable(
            "feeding kept meeting concurrent changes".into(),
        ))
    }
}

/// Whether the item's recent feedings include `mark`.
fn remembers(item: &Item, mark: &AttributeValue) -> bool {
    matches!(item.get(attr::RECENT_FEEDS), Some(AttributeValue::L(marks)) if marks.contains(mark))
}

impl DynamoStore {
    /// One feeding in one update: `feed_count` +1, `last_fed_at` now, happiness +1 when
    /// `shape.raise`, the token remembered — if the condition that `shape` assumes holds.
    async fn try_feed(
        &self,
        ckid: &ResidentId,
        mark: &AttributeValue,
        shape: Shape,
    ) -> Result<Tried, StoreError> {
        let mut set = vec![
            "feed_count = if_not_exists(feed_count, :zero) + :one",
            "last_fed_at = :now",
        ];
        let mut condition = vec!["attribute_exists(ckid)"];
        let mut values = vec![
            (":zero", n(0)),
            (":one", n(1)),
            (":now", s(Timestamp::now().to_string())),
            (":max", n(Happiness::MAX)),
        ];
        if shape.raise {
            set.push("happiness = happiness + :one");
            condition.push("happiness < :max");
        } else {
            condition.push("happiness >= :max");
        }
        // The list stays REMEMBERED_FEEDINGS long: the token goes in at the end (a SET
        // past the end appends) while the oldest leaves from the front.
        let push_mark = format!("recent_feeds[{REMEMBERED_FEEDINGS}] = :mark");
        let mut remove = "";
        if shape.has_list {
            set.push(&push_mark);
            remove = " REMOVE recent_feeds[0]";
            condition.push("attribute_exists(recent_feeds) AND NOT contains(recent_feeds, :mark)");
            values.push((":mark", mark.clone()));
        } else {
            set.push("recent_feeds = :marks");
            condition.push("attribute_not_exists(recent_feeds)");
            let mut marks = vec![AttributeValue::Null(true); REMEMBERED_FEEDINGS - 1];
            marks.push(mark.clone());
            values.push((":marks", AttributeValue::L(marks)));
        }
        let mut request = self
            .client
            .update_item()
            .table_name(self.table.as_str())
            .key(attr::CKID, s(ckid.as_str()))
            .update_expression(format!("SET {}{remove}", set.join(", ")))
            .condition_expression(condition.join(" AND "))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match self.traced("UpdateItem", request.send()).await {
            Ok(output) => Ok(Tried::Fed(output.attributes.unwrap_or_default())),
            Err(failed) => match failed.error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                    Ok(Tried::Refused(refused.item().cloned()))
                }
                _ => Err(StoreError::from_write(failed)),
            },
        }
    }
}

/// Residents seen at happiness 10. Happiness never falls, so the set never lies; it
/// only saves the attempt to raise. Bounded: when full it starts again.
#[derive(Debug, Default)]
pub(super) struct AtMostHappy(Mutex<HashSet<ResidentId>>);

const AT_MOST_HAPPY_CAPACITY: usize = 10_000;

impl AtMostHappy {
    fn contains(&self, ckid: &ResidentId) -> bool {
        self.0.lock().is_ok_and(|set| set.contains(ckid))
    }

    fn note(&self, resident: &domain::Resident) {
        if resident.happiness < Happiness::MAX {
            return;
        }
        if let Ok(mut set) = self.0.lock() {
            if set.len() >= AT_MOST_HAPPY_CAPACITY {
                set.clear();
            }
            set.insert(resident.ckid.clone());
        }
    }
}
