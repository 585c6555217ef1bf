//! Log lines, each carrying the trace in X-Ray form so that a line leads to its trace
//! and back: JSON objects for log tooling ([`JsonLines`]), or one short line per event
//! for a person at a terminal ([`PrettyLines`]).

use std::fmt::{self, Write as _};

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::xray::format_trace_id;

/// Where an event was written: the current span's name, and its trace (X-Ray form) and
/// span ID when it belongs to a valid trace.
struct Place {
    span: &'static str,
    ids: Option<(String, String)>,
}

fn place<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<Place>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let span = ctx.lookup_current()?;
    let context = tracing::dispatcher::get_default(|dispatch| {
        tracing_opentelemetry::get_otel_context(&span.id(), dispatch)
    });
    let ids = context.and_then(|context| {
        let span_context = context.span().span_context().clone();
        span_context.is_valid().then(|| {
            (
                format_trace_id(span_context.trace_id()),
                span_context.span_id().to_string(),
            )
        })
    });
    Some(Place {
        span: span.name(),
        ids,
    })
}

/// The span fields the log layer keeps: none. A line names its span and trace, not the
/// span's fields (those go to the trace), so the fmt layer's default of formatting every
/// field of every span into a string, at its start and at each `record`, was work no
/// line read: ≈ 3 % of a listing's CPU in its profile.
#[derive(Debug)]
pub(crate) struct NoSpanFields;

impl<'writer> FormatFields<'writer> for NoSpanFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        _: Writer<'writer>,
        _: R,
    ) -> fmt::Result {
        Ok(())
    }
}

/// `{"timestamp","level","service","target","message",...fields,"span","trace_id",
/// "span_id"}`: `trace_id` is `1-xxxxxxxx-yyyy…` and present on every line written
/// inside a traced request.
#[derive(Debug)]
pub(crate) struct JsonLines {
    pub service: String,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        let now = time::OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".into(), now.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("service".into(), self.service.clone().into());
        line.insert("target".into(), meta.target().into());
        event.record(&mut Fields(&mut line));
        if let Some(place) = place(ctx) {
            line.insert("span".into(), place.span.into());
            if let Some((trace_id, span_id)) = place.ids {
                line.insert("trace_id".into(), trace_id.into());
                line.insert("span_id".into(), span_id.into());
            }
        }
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole cause chain, so a failure's log line says why.
        self.0
            .insert(field.name().into(), crate::errors::display(value).into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

/// `12:34:56.789Z  WARN website telemetry::http: answered GET /residents status=503
/// elapsed_ms=2.31 error="…" trace_id=1-…`: one line per event (UTC time of day,
/// level, service, target, message, fields), the level coloured when the writer takes
/// ANSI colours. `trace_id` (the X-Ray form, as in [`JsonLines`]) ends every line
/// written inside a traced request, so grepping the reference a page quotes finds the
/// request's lines; the service is named because `cargo xtask dev` writes all three to
/// one terminal.
#[derive(Debug)]
pub(crate) struct PrettyLines {
    pub service: String,
}

impl<S, N> FormatEvent<S, N> for PrettyLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let ansi = writer.has_ansi_escapes();
        let paint = |code: &'static str| if ansi { code } else { "" };
        let (dim, reset) = (paint("\x1b[2m"), paint("\x1b[0m"));
        let level_colour = paint(match *meta.level() {
            Level::ERROR => "\x1b[31m",
            Level::WARN => "\x1b[33m",
            Level::INFO => "\x1b[32m",
            Level::DEBUG => "\x1b[34m",
            Level::TRACE => "\x1b[35m",
        });
        let now = time::OffsetDateTime::now_utc();
        write!(
            writer,
            "{dim}{:02}:{:02}:{:02}.{:03}Z{reset} {level_colour}{:>5}{reset} {} {dim}{}:{reset}",
            now.hour(),
            now.minute(),
            now.second(),
            now.millisecond(),
            meta.level(),
            self.service,
            meta.target(),
        )?;
        let mut fields = PrettyFields {
            message: String::new(),
            fields: String::new(),
            dim,
            reset,
        };
        event.record(&mut fields);
        write!(writer, " {}{}", fields.message, fields.fields)?;
        if let Some((trace_id, _)) = place(ctx).and_then(|place| place.ids) {
            write!(writer, " {dim}trace_id={reset}{trace_id}")?;
        }
        writeln!(writer)
    }
}

/// An event's message, then its other fields as ` name=value` (a value quoted when it
/// has spaces, quotes or `=` in it, so the line stays one line and splits cleanly).
struct PrettyFields {
    message: String,
    fields: String,
    dim: &'static str,
    reset: &'static str,
}

impl PrettyFields {
    fn push(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
            return;
        }
        let plain = !value.is_empty()
            && !value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '='));
        let (dim, name, reset) = (self.dim, field.name(), self.reset);
        let _ = if plain {
            write!(self.fields, " {dim}{name}={reset}{value}")
        } else {
            write!(self.fields, " {dim}{name}={reset}{value:?}")
        };
    }
}

impl Visit for PrettyFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole cause chain, as on a JSON line.
        self.push(field, &crate::errors::display(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    use super::*;

    /// What a test's subscriber wrote.
    #[derive(Debug, Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// What each format wrote.
    struct Outputs {
        json: Captured,
        pretty: Captured,
    }

    /// One process-wide subscriber writing both formats, as `init` sets it up: global,
    /// because a formatter finds a span's trace through the default dispatcher, which a
    /// scoped one (`with_default`) hides while an event is being written.
    fn outputs() -> &'static Outputs {
        static OUTPUTS: std::sync::OnceLock<Outputs> = std::sync::OnceLock::new();
        OUTPUTS.get_or_init(|| {
            let outputs = Outputs {
                json: Captured::default(),
                pretty: Captured::default(),
            };
            let provider = SdkTracerProvider::builder().build();
            let service = || "website".to_owned();
            tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .event_format(JsonLines { service: service() })
                        .with_writer(outputs.json.clone()),
                )
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .event_format(PrettyLines { service: service() })
                        .with_writer(outputs.pretty.clone()),
                )
                .try_init()
                .unwrap();
            outputs
        })
    }

    /// The lines written (as JSON or pretty) for an event outside any span, then one
    /// inside a traced span, both carrying `port`; and that span's trace ID in X-Ray
    /// form.
    fn lines(json: bool, port: u16) -> (Vec<String>, String) {
        let outputs = outputs();
        tracing::info!(port, "listening");
        let span = tracing::info_span!("http.server");
        let trace_id = {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            format_trace_id(span.context().span().span_context().trace_id())
        };
        span.in_scope(|| {
            let error = std::io::Error::other("connection refused");
            tracing::warn!(
                port,
                status = 503,
                elapsed_ms = 2.31,
                error = &error as &(dyn std::error::Error + 'static),
                route = "GET /residents",
                "answered GET /residents"
            );
        });
        let captured = if json { &outputs.json } else { &outputs.pretty };
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines = text
            .lines()
            .filter(|line| {
                line.contains(&format!("port={port}")) || line.contains(&format!("\"port\":{port}"))
            })
            .map(str::to_owned)
            .collect();
        (lines, trace_id)
    }

    #[test]
    fn pretty_lines_are_one_line_per_event_with_the_x_ray_trace_id_inside_a_request() {
        let (lines, trace_id) = lines(false, 8081);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            trace_id.starts_with("1-") && trace_id.len() == 35,
            "{trace_id}"
        );

        let outside = &lines[0];
        assert!(
            outside.contains(" INFO website telemetry::logs::tests: listening port=8081"),
            "{outside}"
        );
        assert!(!outside.contains("trace_id"), "{outside}");

        let inside = &lines[1];
        assert!(
            inside.contains(
                " WARN website telemetry::logs::tests: answered GET /residents port=8081 \
                 status=503 elapsed_ms=2.31 error=\"connection refused\" route=\"GET /residents\""
            ),
            "{inside}"
        );
        assert!(
            inside.ends_with(&format!(" trace_id={trace_id}")),
            "{inside}"
        );
    }

    #[test]
    fn json_lines_carry_the_trace_and_span_ids_inside_a_request() {
        let (lines, trace_id) = lines(true, 8082);
        let parsed: Vec<Value> = lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(parsed.len(), 2, "{lines:#?}");
        assert_eq!(parsed[0]["message"], "listening");
        assert_eq!(parsed[0]["port"], 8082);
        assert!(parsed[0].get("trace_id").is_none(), "{}", lines[0]);
        assert_eq!(parsed[1]["level"], "WARN");
        assert_eq!(parsed[1]["service"], "website");
        assert_eq!(parsed[1]["span"], "http.server");
        assert_eq!(parsed[1]["elapsed_ms"], 2.31);
        assert_eq!(parsed[1]["error"], "connection refused");
        assert_eq!(parsed[1]["trace_id"], trace_id.as_str());
        assert_eq!(parsed[1]["span_id"].as_str().unwrap().len(), 16);
    }
}
