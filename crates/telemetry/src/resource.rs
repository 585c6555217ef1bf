//! Who is sending: service name and version, and where it runs on ECS.

use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::Resource;

/// The SDK's own detection (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`) plus the
/// binary's name and version, and the ECS task when running there.
pub(crate) fn detect(service: &'static str) -> Resource {
    let mut builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |v| v.is_empty()) {
        builder = builder.with_service_name(service);
    }
    // ECS sets this in every task's containers; its presence is enough to say where we
    // run, and the ADOT collector's resourcedetection adds the task's ARN and cluster.
    if std::env::var_os("ECS_CONTAINER_METADATA_URI_V4").is_some() {
        builder = builder.with_attributes([
            KeyValue::new("cloud.provider", "aws"),
            KeyValue::new("cloud.platform", "aws_ecs"),
            KeyValue::new("aws.ecs.launchtype", "fargate"),
        ]);
    }
    builder.build()
}

pub(crate) fn service_name(resource: &Resource) -> String {
    resource
        .get(&Key::from_static_str("service.name"))
        .map(|value| value.to_string())
        .unwrap_or_else(|| "unknown_service".into())
}
