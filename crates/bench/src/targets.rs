//! The requests the bench measures: the services' endpoints, and the same work sent
//! straight to DynamoDB Local as the floor they are compared with.

use std::sync::Arc;

use loadgen::traffic::{Sample, timed};
use serde_json::{Value, json};

/// One kind of request, sent again and again by a worker.
#[derive(Clone)]
pub enum Target {
    /// `GET {url}`.
    Get { label: &'static str, url: String },
    /// A raw DynamoDB JSON call (`X-Amz-Target: DynamoDB_20120810.{operation}`) with
    /// `body(worker, step)`.
    Dynamo {
        label: &'static str,
        endpoint: String,
        operation: &'static str,
        body: Arc<dyn Fn(usize, u64) -> Value + Send + Sync>,
    },
    /// `POST {url(worker, step)}` with a JSON body and a fresh `Idempotency-Key`
    /// (as the website sends every write), or none.
    Post {
        label: &'static str,
        url: Arc<dyn Fn(usize, u64) -> String + Send + Sync>,
        body: Option<Value>,
        keyed: bool,
    },
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// DynamoDB Local keeps one database per access key and region: requests sent straight
/// to it name the bench's (it checks no signature).
pub const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0";

impl Target {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Get { label, .. } | Self::Dynamo { label, .. } | Self::Post { label, .. } => {
                label
            }
        }
    }

    pub async fn send(&self, client: &reqwest::Client, worker: usize, step: u64) -> Sample {
        let status = |r: &reqwest::Response| r.status().as_u16();
        let label = self.label();
        match self {
            Self::Get { url, .. } => timed(label, client.get(url).send(), status).await.0,
            Self::Dynamo {
                endpoint,
                operation,
                body,
                ..
            } => {
                let request = client
                    .post(endpoint)
                    .header("content-type", "application/x-amz-json-1.0")
                    .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
                    .header("authorization", AUTHORIZATION)
                    .body(body(worker, step).to_string())
                    .send();
                timed(label, request, status).await.0
            }
            Self::Post {
                url, body, keyed, ..
            } => {
                let mut request = client.post(url(worker, step));
                if let Some(body) = body {
                    request = request.json(body);
                }
                if *keyed {
                    request = request.header(
                        "idempotency-key",
                        format!("bench-{worker}-{step}-{}", unique()),
                    );
                }
                timed(label, request.send(), status).await.0
            }
        }
    }
}

/// A process-wide unique number: keys and ids never repeat across rounds.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The store's newest-first listing Query, as server-listing sends it (a page of 12 and
/// one more to know whether there is a next page, only the resident's own attributes).
pub fn query_body(table: &str) -> Value {
    let (projection, names) = store::table::resident_projection();
    let mut names = json!(names);
    names["#p"] = json!("listing");
    json!({
        "TableName": table,
        "IndexName": "by_registered_at",
        "ProjectionExpression": projection,
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":p": {"S": "resident"}},
        "ScanIndexForward": false,
        "Limit": 13
    })
}

/// A new resident as register writes one (the same attributes: see
/// `floor_item_is_an_admission`), put only if its ckid is free.
pub fn put_body(table: &str) -> Value {
    let n = unique();
    let slots = vec![json!({"NULL": true}); 16];
    json!({
        "TableName": table,
        "ConditionExpression": "attribute_not_exists(ckid)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        "Item": {
            "ckid": {"S": format!("bench{n:021}")},
            "name": {"S": "Bench Resident"},
            "type": {"S": "m5.large"},
            "service": {"N": "3"},
            "happiness": {"N": "5"},
            "petname": {"S": "benchy"},
            "os": {"S": "linux"},
            "registered_at": {"S": "2026-12-01T12:00:00.000000Z"},
            "feed_count": {"N": "0"},
            "listing": {"S": "resident"},
            "os_key": {"S": "linux"},
            "recent_feeds": {"L": slots},
            "fingerprint": {"S": "0".repeat(64)},
            "key_until": {"N": "1790000000"}
        }
    })
}

/// One feeding as an update of a resident's counters, only if the resident exists, with
/// the new item returned (as server-listing asks).
pub fn update_body(table: &str, ckid: &str) -> Value {
    json!({
        "TableName": table,
        "Key": {"ckid": {"S": ckid}},
        "UpdateExpression": "SET feed_count = feed_count + :one, last_fed_at = :now",
        "ConditionExpression": "attribute_exists(ckid)",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":now": {"S": "2026-12-01T12:00:00.000000Z"}},
        "ReturnValues": "ALL_NEW"
    })
}
