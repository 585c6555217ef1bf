//! What X-Ray makes of the spans the services export: the received OTLP spans turned
//! back into SDK spans and through opentelemetry-aws's own X-Ray translator (the one its
//! X-Ray exporter uses), as X-Ray segment documents.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_aws::xray_exporter::{
    SegmentDocument, SegmentDocumentExporter, SegmentTranslator, XrayExporter,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue, any_value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};

use crate::otlp::ReceivedSpan;

/// The segment documents (as JSON) X-Ray would receive for `spans`, each service's
/// spans translated with that service's resource.
pub async fn segment_documents(spans: &[ReceivedSpan]) -> Vec<serde_json::Value> {
    let mut by_service: BTreeMap<&str, Vec<&ReceivedSpan>> = BTreeMap::new();
    for span in spans {
        by_service.entry(&span.service).or_default().push(span);
    }
    let documents = Collected::default();
    for spans in by_service.values() {
        let mut exporter = XrayExporter::new(documents.clone())
            .with_translator(SegmentTranslator::new().skip_timestamp_validation());
        exporter.set_resource(
            &Resource::builder_empty()
                .with_attributes(spans[0].resource.iter().filter_map(key_value))
                .build(),
        );
        exporter
            .export(spans.iter().map(|s| span_data(s)).collect())
            .await
            .expect("X-Ray translates every span");
    }
    documents.0.lock().expect("lock").clone()
}

#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<serde_json::Value>>>);

impl SegmentDocumentExporter for Collected {
    type Error = Infallible;

    async fn export_segment_documents(
        &self,
        batch: Vec<SegmentDocument<'_>>,
    ) -> Result<(), Infallible> {
        let mut documents = self.0.lock().expect("lock");
        for document in batch {
            documents.push(serde_json::from_str(&document.to_string()).expect("a JSON document"));
        }
        Ok(())
    }
}

fn span_data(span: &ReceivedSpan) -> SpanData {
    let raw = &span.raw;
    let id = |bytes: &[u8]| <[u8; 8]>::try_from(bytes).map_or(SpanId::INVALID, SpanId::from_bytes);
    let trace_id = <[u8; 16]>::try_from(raw.trace_id.as_slice()).expect("a 16-byte trace ID");
    let at = |nanos: u64| SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos);
    let status = match raw.status.as_ref().map(|s| (s.code, s.message.clone())) {
        Some((2, message)) => Status::error(message),
        Some((1, _)) => Status::Ok,
        _ => Status::Unset,
    };
    let mut events = SpanEvents::default();
    events.events = raw
        .events
        .iter()
        .map(|e| {
            opentelemetry::trace::Event::new(
                e.name.clone(),
                at(e.time_unix_nano),
                e.attributes.iter().filter_map(key_value).collect(),
                0,
            )
        })
        .collect();
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(trace_id),
            id(&raw.span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: id(&raw.parent_span_id),
        parent_span_is_remote: false,
        span_kind: match raw.kind {
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Internal,
        },
        name: Cow::Owned(raw.name.clone()),
        start_time: at(raw.start_time_unix_nano),
        end_time: at(raw.end_time_unix_nano),
        attributes: raw.attributes.iter().filter_map(key_value).collect(),
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status,
        instrumentation_scope: InstrumentationScope::builder(span.scope.clone()).build(),
    }
}

fn key_value(kv: &ProtoKeyValue) -> Option<KeyValue> {
    Some(KeyValue::new(kv.key.clone(), value(kv.value.as_ref()?)?))
}

fn value(value: &AnyValue) -> Option<Value> {
    Some(match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Value::from(s.clone()),
        any_value::Value::BoolValue(b) => Value::from(*b),
        any_value::Value::IntValue(i) => Value::from(*i),
        any_value::Value::DoubleValue(d) => Value::from(*d),
        any_value::Value::ArrayValue(array) => Value::Array(Array::String(
            array
                .values
                .iter()
                .filter_map(|v| match v.value.as_ref()? {
                    any_value::Value::StringValue(s) => Some(StringValue::from(s.clone())),
                    _ => None,
                })
                .collect(),
        )),
        _ => return None,
    })
}
