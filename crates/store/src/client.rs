//! The DynamoDB client and table name, configured from the environment.
//!
//! The SDK reads its own variables (`AWS_REGION`, credentials, and
//! `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local); we only bound its time.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;

/// Connect, per-attempt and whole-operation limits. The operation limit (with the
/// SDK's standard retries inside it) stays well under a service's request timeout, so
/// an outage becomes a prompt 503 rather than a hung request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_ATTEMPTS: u32 = 3;

/// Builds the client from the environment, or names the variable that is missing.
pub async fn dynamodb_client() -> Result<Client, String> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await;
    if config.region().is_none() {
        return Err(
            "AWS_REGION is not set: set it to the table's region (any value for DynamoDB Local)"
                .into(),
        );
    }
    Ok(Client::new(&config))
}

/// A DynamoDB table name: 3..=255 of `A-Z a-z 0-9 _ - .`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(String);

impl TableName {
    pub fn parse(value: &str) -> Result<Self, String> {
        let ok = (3..=255).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(format!(
                "{value:?} is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ - .)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for TableName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
