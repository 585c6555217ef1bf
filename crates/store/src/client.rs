//! The DynamoDB clients and the table name, configured from the environment.
//!
//! The SDK reads its own variables (`AWS_REGION`, credentials, and
//! `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local); we bound its time, choose what its
//! TLS trusts (the platform's roots plus `AWS_CA_BUNDLE`, the AWS SDKs' variable for an
//! extra CA — how the local stacks trust their DynamoDB Local's TLS) and add the
//! interceptors that show each attempt in the trace and inject the DynamoDB faults.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::Client;
use faults::Faults;

use crate::interceptors::{AttemptRecorder, Throttle};
use crate::transport::Transport;

/// Connect, per-attempt and whole-operation limits. The operation limit (with the
/// SDK's standard retries inside it) stays well under a service's request timeout, so
/// an outage becomes a prompt 503 rather than a hung request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_ATTEMPTS: u32 = 3;

/// What every DynamoDB client of a process shares: the SDK's configuration and the TLS
/// transport.
#[derive(Debug, Clone)]
pub struct Connection {
    config: SdkConfig,
    transport: Transport,
}

impl Connection {
    /// Reads the environment, or names the variable that is missing or wrong.
    pub async fn from_env() -> Result<Self, String> {
        let transport = Transport::from_env()?;
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
        Ok(Self { config, transport })
    }

    /// The client a service's store uses: every attempt recorded on the call's span, and
    /// the DynamoDB faults of `faults` injected (`missing-ca-certificates` empties its
    /// trust store; `dynamodb-throttling` answers attempts with DynamoDB's throttling
    /// error through the SDK's interceptor API, so the SDK's own retries run).
    pub fn store_client(&self, faults: &Faults) -> Client {
        let config = aws_sdk_dynamodb::config::Builder::from(&self.config)
            .http_client(self.transport.switching_on(faults.clone()))
            .interceptor(AttemptRecorder)
            .interceptor(Throttle::new(faults.clone()))
            .build();
        Client::from_conf(config)
    }

    /// A client without faults, for what must keep working while a fault is on (the
    /// services' own watch on the fault switchboard) and for operators' tools.
    pub fn plain_client(&self) -> Client {
        let config = aws_sdk_dynamodb::config::Builder::from(&self.config)
            .http_client(self.transport.trusting())
            .interceptor(AttemptRecorder)
            .build();
        Client::from_conf(config)
    }
}

/// A plain client from the environment (tools and tests).
pub async fn dynamodb_client() -> Result<Client, String> {
    Ok(Connection::from_env().await?.plain_client())
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

    /// `RESIDENTS_TABLE`, default `cuddlekube`.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("RESIDENTS_TABLE") {
            Ok(name) if !name.is_empty() => {
                Self::parse(&name).map_err(|err| format!("RESIDENTS_TABLE: {err}"))
            }
            _ => Self::parse("cuddlekube"),
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
