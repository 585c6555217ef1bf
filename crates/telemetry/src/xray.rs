//! The `X-Amzn-Trace-Id` header, in every form an ALB or X-Ray sends it.
//!
//! **Invariant:** only this module knows the header's format.
//!
//! Written here rather than taken from `opentelemetry_aws::trace::XrayPropagator`
//! (which we still use to inject) because that one drops the trace when the header has
//! a `Root` but no `Parent` — exactly what an ALB sends — and refuses `; Sampled=1`
//! with a space after the semicolon.

use std::cell::Cell;

use opentelemetry::Context;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::IdGenerator;

pub const HEADER: &str = "x-amzn-trace-id";
/// Longer headers are refused outright (X-Ray's own limit is far below this).
const MAX_HEADER_LEN: usize = 1024;

/// What an incoming header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceHeader {
    /// The trace: `Root=1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`.
    pub root: TraceId,
    /// The caller's segment, when the caller was traced (`Parent=` 16 hex digits).
    /// An ALB sends none.
    pub parent: Option<SpanId>,
    /// `Sampled=1` / `0`; `None` when absent or `?` (the receiver decides).
    pub sampled: Option<bool>,
}

impl TraceHeader {
    /// Parses a header value; `None` when it carries no usable `Root`, in which case the
    /// request starts a new trace. Unknown fields (`Self=`, `Lineage=`, ...) are ignored.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() > MAX_HEADER_LEN {
            return None;
        }
        let mut root = None;
        let mut parent = None;
        let mut sampled = None;
        for field in value.split(';') {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "root" if root.is_none() => root = Some(parse_trace_id(value)?),
                "parent" => parent = parse_span_id(value),
                "sampled" => {
                    sampled = match value {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    }
                }
                _ => {}
            }
        }
        Some(Self {
            root: root?,
            parent,
            sampled,
        })
    }

    /// The header value to send on: `Root=...;Parent=...;Sampled=...`.
    pub fn format(&self) -> String {
        let mut value = format!("Root={}", format_trace_id(self.root));
        if let Some(parent) = self.parent {
            value.push_str(&format!(";Parent={parent}"));
        }
        match self.sampled {
            Some(true) => value.push_str(";Sampled=1"),
            Some(false) => value.push_str(";Sampled=0"),
            None => {}
        }
        value
    }
}

/// An OpenTelemetry trace ID in X-Ray form: `1-` + 8 hex digits (epoch seconds) + `-` +
/// 24 hex digits, e.g. `1-5759e988-bd862e3fe1be46a994272793`.
pub fn format_trace_id(id: TraceId) -> String {
    let hex = format!("{id}");
    format!("1-{}-{}", &hex[..8], &hex[8..])
}

/// Parses the X-Ray form of a trace ID.
pub fn parse_trace_id(value: &str) -> Option<TraceId> {
    let rest = value.strip_prefix("1-")?;
    let (time, unique) = rest.split_once('-')?;
    let hex = |s: &str, len| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(time, 8) || !hex(unique, 24) {
        return None;
    }
    let id = TraceId::from_hex(&format!("{time}{unique}")).ok()?;
    (id != TraceId::INVALID).then_some(id)
}

fn parse_span_id(value: &str) -> Option<SpanId> {
    if value.len() != 16 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    SpanId::from_hex(value)
        .ok()
        .filter(|id| *id != SpanId::INVALID)
}

/// How a server span joins an incoming header.
#[derive(Debug, Clone)]
pub enum Continuation {
    /// The caller was traced: its segment becomes our parent.
    Parent(Context),
    /// Only a trace ID arrived (from an ALB): our span starts that trace's first segment.
    Root(TraceId),
    /// Nothing usable: a new trace.
    New,
}

impl Continuation {
    pub fn from_header(value: Option<&str>) -> Self {
        match value.and_then(TraceHeader::parse) {
            Some(TraceHeader {
                root,
                parent: Some(parent),
                sampled,
            }) => {
                // Without a decision (`?` or absent) we trace: the caller asked us to decide.
                let flags = if sampled == Some(false) {
                    TraceFlags::default()
                } else {
                    TraceFlags::SAMPLED
                };
                let context = SpanContext::new(root, parent, flags, true, TraceState::default());
                Self::Parent(Context::new().with_remote_span_context(context))
            }
            // A caller that decided not to sample may send no Parent. OpenTelemetry carries
            // "not sampled" only on a parent, so an unsampled remote parent with a fresh
            // span ID stands in: nothing of the trace is recorded (so the made-up ID is
            // never a dangling link), logs keep the trace ID, callees hear Sampled=0.
            Some(TraceHeader {
                root,
                parent: None,
                sampled: Some(false),
            }) => {
                let parent = opentelemetry_aws::trace::XrayIdGenerator::default().new_span_id();
                let context = SpanContext::new(
                    root,
                    parent,
                    TraceFlags::default(),
                    true,
                    TraceState::default(),
                );
                Self::Parent(Context::new().with_remote_span_context(context))
            }
            Some(TraceHeader {
                root, parent: None, ..
            }) => Self::Root(root),
            None => Self::New,
        }
    }
}

thread_local! {
    static NEXT_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// Runs `start` (which must start a root span) so that the span gets `trace_id`.
pub(crate) fn with_trace_id<R>(trace_id: TraceId, start: impl FnOnce() -> R) -> R {
    NEXT_TRACE_ID.with(|next| next.set(Some(trace_id)));
    let result = start();
    NEXT_TRACE_ID.with(|next| next.set(None));
    result
}

/// X-Ray's ID generator (trace IDs that begin with the epoch second, as X-Ray requires),
/// except that a root span started inside [`with_trace_id`] takes the given trace ID.
/// OpenTelemetry has no other way to begin a root span inside an existing trace ID.
#[derive(Debug, Default)]
pub(crate) struct ContinuingIdGenerator(opentelemetry_aws::trace::XrayIdGenerator);

impl IdGenerator for ContinuingIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        NEXT_TRACE_ID
            .with(Cell::take)
            .unwrap_or_else(|| self.0.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

/// The process-wide propagator: extracts with [`TraceHeader`], injects in X-Ray's form.
#[derive(Debug, Default)]
pub struct XrayPropagator {
    inject: opentelemetry_aws::trace::XrayPropagator,
}

impl TextMapPropagator for XrayPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.inject.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match Continuation::from_header(extractor.get(HEADER)) {
            Continuation::Parent(parent) => {
                cx.with_remote_span_context(parent.span().span_context().clone())
            }
            _ => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        self.inject.fields()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn reads_every_form_a_caller_sends() {
        let root = parse_trace_id(ROOT).unwrap();
        let parent = SpanId::from_hex("53995c3f42cd8ad8").unwrap();
        let cases = [
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                Some(parent),
                Some(true),
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793; Sampled=1",
                None,
                Some(true),
            ),
            ("Root=1-5759e988-bd862e3fe1be46a994272793", None, None),
            (
                "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793",
                None,
                None,
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?;Lineage=a87bd80c:1|68fd508a:5",
                Some(parent),
                None,
            ),
            (
                "sampled=0; root=1-5759e988-bd862e3fe1be46a994272793 ;parent=53995c3f42cd8ad8",
                Some(parent),
                Some(false),
            ),
        ];
        for (value, want_parent, want_sampled) in cases {
            let header = TraceHeader::parse(value).unwrap_or_else(|| panic!("{value} refused"));
            assert_eq!(header.root, root, "{value}");
            assert_eq!(header.parent, want_parent, "{value}");
            assert_eq!(header.sampled, want_sampled, "{value}");
        }
    }

    #[test]
    fn refuses_headers_without_a_usable_root() {
        for value in [
            "",
            "garbage",
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=1-5759e988",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98g-bd862e3fe1be46a994272793",
            "Root=1-00000000-000000000000000000000000",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=1-5759e988-bd862e3fe1be46a9942727931",
        ] {
            assert_eq!(TraceHeader::parse(value), None, "{value:?} was accepted");
        }
        assert_eq!(
            TraceHeader::parse(&format!("Root={ROOT};{}", "x".repeat(2000))),
            None
        );
    }

    #[test]
    fn a_bad_parent_keeps_the_root() {
        let header = TraceHeader::parse(&format!("Root={ROOT};Parent=zz")).unwrap();
        assert_eq!(header.parent, None);
    }

    #[test]
    fn continuation_follows_the_header() {
        assert!(matches!(Continuation::from_header(None), Continuation::New));
        assert!(matches!(
            Continuation::from_header(Some("nonsense")),
            Continuation::New
        ));
        assert!(matches!(
            Continuation::from_header(Some(&format!("Root={ROOT}"))),
            Continuation::Root(_)
        ));
        for header in [
            format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0"),
            // Root-only, not sampled: the decision is kept through a stand-in parent.
            format!("Root={ROOT};Sampled=0"),
        ] {
            let Continuation::Parent(cx) = Continuation::from_header(Some(&header)) else {
                panic!("expected a parent for {header}");
            };
            let span = cx.span();
            assert!(span.span_context().is_remote(), "{header}");
            assert!(!span.span_context().is_sampled(), "{header}");
            assert_eq!(format_trace_id(span.span_context().trace_id()), ROOT);
        }
    }

    #[test]
    fn the_id_generator_continues_a_given_trace_once() {
        let generator = ContinuingIdGenerator::default();
        let root = parse_trace_id(ROOT).unwrap();
        assert_eq!(with_trace_id(root, || generator.new_trace_id()), root);
        assert_ne!(generator.new_trace_id(), root);
        // New X-Ray trace IDs begin with the current epoch second.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let fresh = format_trace_id(generator.new_trace_id());
        let seconds = u64::from_str_radix(&fresh[2..10], 16).unwrap();
        assert!(seconds.abs_diff(now) < 5, "{fresh}");
    }

    proptest! {
        #[test]
        fn headers_round_trip(root in "[1-9a-f][0-9a-f]{31}", parent in proptest::option::of("[1-9a-f][0-9a-f]{15}"), sampled in proptest::option::of(any::<bool>())) {
            let header = TraceHeader {
                root: TraceId::from_hex(&root).unwrap(),
                parent: parent.map(|p| SpanId::from_hex(&p).unwrap()),
                sampled,
            };
            prop_assert_eq!(TraceHeader::parse(&header.format()), Some(header));
        }

        #[test]
        fn trace_ids_round_trip(root in "[1-9a-f][0-9a-f]{31}") {
            let id = TraceId::from_hex(&root).unwrap();
            let text = format_trace_id(id);
            prop_assert_eq!(text.len(), 35);
            prop_assert_eq!(parse_trace_id(&text), Some(id));
        }

        #[test]
        fn arbitrary_text_never_panics(value in "\\PC{0,300}") {
            if let Some(header) = TraceHeader::parse(&value) {
                prop_assert!(value.to_ascii_lowercase().contains("root="));
                prop_assert_ne!(header.root, TraceId::INVALID);
            }
        }

        #[test]
        fn mangled_roots_start_a_new_trace(cut in 0usize..35) {
            let mangled = format!("Root={}", &"1-5759e988-bd862e3fe1be46a994272793"[..cut]);
            prop_assert_eq!(TraceHeader::parse(&mangled), None);
        }
    }
}
