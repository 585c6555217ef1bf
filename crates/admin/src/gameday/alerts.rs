//! Where a game's alerts are, and which fire now: locally the Prometheus of the local
//! stack (`PROMETHEUS_URL`, which `cargo xtask dev` leaves for `cargo xtask admin`), on AWS
//! the environment's CloudWatch alarms (`cuddlekube-<env>-…`, as infra/ names them).

use std::fmt;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::primitives::DateTimeFormat;
use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use serde_json::Value;

/// How long reading the alerts may take: a game's progress line must not hang on it.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The services an alarm's name may carry (infra/ names alarms `…-<service>-…`).
const SERVICES: [&str; 4] = ["website", "register", "server-listing", "trace-gateway"];

#[derive(Debug)]
pub(super) enum AlertSource {
    /// A local stack's Prometheus: its alerts API, its `alertname` and `service` labels.
    Prometheus {
        url: String,
        /// Its web UI's alerts page: `PROMETHEUS_ALERTS_PAGE`, where `cargo xtask dev`
        /// found it (Debian's build serves it under `/classic/`), or `URL/alerts`.
        page: String,
        client: reqwest::Client,
    },
    /// An AWS environment's CloudWatch alarms, metric and composite.
    CloudWatch {
        client: aws_sdk_cloudwatch::Client,
        region: String,
        /// `cuddlekube-<env>-`: the environment's alarms and no other's.
        prefix: String,
    },
}

/// An alert firing now.
#[derive(Debug)]
pub(super) struct Alert {
    pub name: String,
    service: Option<String>,
    since: Option<String>,
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let service = self.service.as_deref().unwrap_or("-");
        write!(f, "{:<48} service={service}", self.name)?;
        match &self.since {
            Some(since) => write!(f, "  since {since}"),
            None => Ok(()),
        }
    }
}

impl AlertSource {
    /// Prometheus when `PROMETHEUS_URL` is set; otherwise the CloudWatch alarms of
    /// `ENVIRONMENT_NAME` (or of the environment the table's name carries).
    pub(super) async fn from_env() -> Result<Self, String> {
        if let Some(url) = std::env::var("PROMETHEUS_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            let client = reqwest::Client::builder()
                .timeout(READ_TIMEOUT)
                .build()
                .map_err(|e| e.to_string())?;
            let url = url.trim_end_matches('/').to_owned();
            let page = std::env::var("PROMETHEUS_ALERTS_PAGE")
                .ok()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| format!("{url}/alerts"));
            return Ok(Self::Prometheus { url, page, client });
        }
        let environment = environment_name()?;
        // The SDK reads its own variables, as for DynamoDB: region, credentials, and
        // AWS_ENDPOINT_URL_CLOUDWATCH (or AWS_ENDPOINT_URL) for a stand-in such as moto.
        let config = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(READ_TIMEOUT)
                    .build(),
            )
            .load()
            .await;
        let region = config
            .region()
            .ok_or("AWS_REGION is not set: set it to the environment's region")?
            .to_string();
        Ok(Self::CloudWatch {
            client: aws_sdk_cloudwatch::Client::new(&config),
            region,
            prefix: format!("cuddlekube-{environment}-"),
        })
    }

    /// Where a person sees the alerts.
    pub(super) fn alerts_page(&self) -> String {
        match self {
            Self::Prometheus { page, .. } => format!("alerts: {page}   (or `cargo xtask status`)"),
            Self::CloudWatch { region, prefix, .. } => format!(
                "alarms: {}#alarmsV2:   (those named {prefix}…)",
                console(region)
            ),
        }
    }

    /// How a request's trace is found.
    pub(super) fn trace_route(&self) -> String {
        let route = match self {
            Self::Prometheus { .. } => "`cargo xtask trace REFERENCE`".to_owned(),
            Self::CloudWatch { region, .. } => format!(
                "CloudWatch, X-Ray traces, Transaction Search (traceId = \"REFERENCE\") at {}",
                console(region)
            ),
        };
        format!(
            "traces: the reference a 503 page quotes (or any response's X-Amzn-Trace-Id) in \
             {route}; the span where it failed first names the service and the operation, its \
             `fault injected` event the cause"
        )
    }

    /// The alerts firing now.
    pub(super) async fn firing(&self) -> Result<Vec<Alert>, String> {
        match self {
            Self::Prometheus { url, client, .. } => prometheus_firing(client, url)
                .await
                .map_err(|e| format!("{url}: {}", telemetry::errors::display(&e))),
            Self::CloudWatch { client, prefix, .. } => cloudwatch_firing(client, prefix).await,
        }
    }
}

fn console(region: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}")
}

/// `ENVIRONMENT_NAME`, or the environment the table's name carries.
fn environment_name() -> Result<String, String> {
    if let Some(name) = std::env::var("ENVIRONMENT_NAME")
        .ok()
        .filter(|n| !n.is_empty())
    {
        return Ok(name);
    }
    let table = store::TableName::from_env()?;
    environment_of(table.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "no alerts to read: set PROMETHEUS_URL (a local stack's Prometheus) or \
             ENVIRONMENT_NAME (the AWS environment whose alarms to read; the table \
             {table} names none)"
            )
        })
}

/// `prod` of `cuddlekube-prod-residents` (as infra/data.yaml names the table) or of
/// `cuddlekube-prod`.
fn environment_of(table: &str) -> Option<&str> {
    let rest = table.strip_prefix("cuddlekube-")?;
    Some(rest.strip_suffix("-residents").unwrap_or(rest)).filter(|name| !name.is_empty())
}

/// Prometheus' `GET /api/v1/alerts`: the alerts in state `firing` (not `pending`).
async fn prometheus_firing(client: &reqwest::Client, url: &str) -> reqwest::Result<Vec<Alert>> {
    let answer: Value = client
        .get(format!("{url}/api/v1/alerts"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let text = |value: &Value| value.as_str().map(str::to_owned);
    Ok(answer["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|alert| alert["state"] == "firing")
        .map(|alert| Alert {
            name: text(&alert["labels"]["alertname"]).unwrap_or_default(),
            service: text(&alert["labels"]["service"]),
            since: text(&alert["activeAt"]),
        })
        .collect())
}

/// DescribeAlarms, every page: the environment's alarms in state ALARM. The state is
/// checked here too: moto, the tests' CloudWatch, answers a name prefix with every state.
async fn cloudwatch_firing(
    client: &aws_sdk_cloudwatch::Client,
    prefix: &str,
) -> Result<Vec<Alert>, String> {
    let pages = client
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .state_value(StateValue::Alarm)
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| format!("CloudWatch: {}", telemetry::errors::display(&e)))?;
    let alert = |name: Option<&str>, since: Option<&aws_sdk_cloudwatch::primitives::DateTime>| {
        let name = name.unwrap_or_default().to_owned();
        let service = SERVICES
            .iter()
            .find(|s| name[prefix.len().min(name.len())..].contains(*s))
            .map(|s| (*s).to_owned());
        let since = since.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok());
        Alert {
            name,
            service,
            since,
        }
    };
    let in_alarm = |state: Option<&StateValue>| state == Some(&StateValue::Alarm);
    Ok(pages
        .iter()
        .flat_map(|page| {
            let metric = page
                .metric_alarms()
                .iter()
                .filter(|a| in_alarm(a.state_value()))
                .map(|a| alert(a.alarm_name(), a.state_updated_timestamp()));
            let composite = page
                .composite_alarms()
                .iter()
                .filter(|a| in_alarm(a.state_value()))
                .map(|a| alert(a.alarm_name(), a.state_updated_timestamp()));
            metric.chain(composite).collect::<Vec<_>>()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_read_from_the_tables_name() {
        assert_eq!(environment_of("cuddlekube-prod-residents"), Some("prod"));
        assert_eq!(environment_of("cuddlekube-staging"), Some("staging"));
        assert_eq!(environment_of("cuddlekube"), None);
        assert_eq!(environment_of("cuddlekube--residents"), None);
        assert_eq!(environment_of("test-01j9"), None);
    }
}
