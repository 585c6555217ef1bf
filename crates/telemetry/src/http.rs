//! HTTP in and out: a server span per request that continues the caller's trace, and an
//! HTTP client that carries the trace to the next service.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::TraceContextExt;
use tracing::{Instrument, field};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::access_log;
use crate::metrics::record_http_request;
use crate::xray::{self, Continuation, HEADER, format_trace_id};

/// Paths that are probed constantly and not worth a trace.
const UNTRACED: [&str; 2] = ["/health", "/ready"];

/// An answer slower than this is always logged (and kept by the collectors' sampling).
pub const SLOW_REQUEST: std::time::Duration = std::time::Duration::from_secs(1);

/// What went wrong behind a response, put in its extensions by whoever made it (a
/// service's error type) so that the request's log line carries the whole cause chain
/// at `level`: logged once, where the answer is made, not where the error is converted.
#[derive(Debug, Clone)]
pub struct Failure {
    pub level: tracing::Level,
    pub cause: std::sync::Arc<dyn std::error::Error + Send + Sync>,
}

/// An HTTP span, server or client: the attributes both kinds carry (the name, kind and
/// method; the status and answer's code recorded later), then the kind's own fields.
macro_rules! http_span {
    ($span:literal, $kind:literal, $name:expr, $method:expr, $($fields:tt)*) => {
        tracing::info_span!(
            $span,
            otel.name = %$name,
            otel.kind = $kind,
            otel.status_code = field::Empty,
            http.request.method = %$method,
            http.response.status_code = field::Empty,
            $($fields)*
        )
    };
}

/// axum middleware (`axum::middleware::from_fn(telemetry::http::trace_requests)`, added
/// with `Router::layer` so the matched route is known): one server span per request,
/// continuing an incoming `X-Amzn-Trace-Id` (a missing or malformed one starts a new
/// trace, never an error), with HTTP semantic-convention attributes; a 5xx marks the
/// span as an error; the response carries `X-Amzn-Trace-Id: Root=…`.
pub async fn trace_requests(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if UNTRACED.contains(&path.as_str()) {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let span = http_span!(
        "http.server", "server", name, method,
        http.route = route.as_deref(),
        url.path = %path,
        url.query = request.uri().query(),
        url.scheme = "http",
        user_agent.original = request.headers().get("user-agent").and_then(|v| v.to_str().ok()),
    );
    let incoming = request.headers().get(HEADER).and_then(|v| v.to_str().ok());
    match Continuation::from_header(incoming) {
        Continuation::Parent(parent) => {
            let _ = span.set_parent(parent);
        }
        Continuation::Root(trace_id) => {
            // Starting the span now, inside `with_trace_id`, gives it the ALB's trace ID.
            xray::with_trace_id(trace_id, || span.context());
        }
        Continuation::New => {}
    }
    let trace_id = span.context().span().span_context().trace_id();

    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    let elapsed = started.elapsed();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    // The request's one log line: always for failures and slow answers (with the
    // cause, when the answer says what it was), sampled by trace ID otherwise.
    let failure = response.extensions_mut().remove::<Failure>();
    span.in_scope(|| {
        let elapsed_ms = rounded_ms(elapsed);
        let status = status.as_u16();
        match failure {
            Some(Failure { level, cause }) => {
                let error = crate::errors::display(&*cause);
                if level == tracing::Level::ERROR {
                    tracing::error!(status, elapsed_ms, error, "answered {name}");
                } else {
                    tracing::warn!(status, elapsed_ms, error, "answered {name}");
                }
            }
            None if status >= 500 || elapsed >= SLOW_REQUEST => {
                tracing::warn!(status, elapsed_ms, "answered {name}");
            }
            None if access_log::keeps(trace_id) => {
                tracing::info!(status, elapsed_ms, "answered {name}");
            }
            None => {}
        }
    });
    record_http_request(
        &method,
        route.as_deref().unwrap_or("(unmatched)"),
        status.as_u16(),
        elapsed,
    );
    if let Ok(value) = HeaderValue::from_str(&format!("Root={}", format_trace_id(trace_id))) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// `elapsed` in milliseconds to 0.01 ms (`0.29`, not `0.29284899999999997`): finer is
/// noise, and a log line is read by people and queries alike.
fn rounded_ms(elapsed: std::time::Duration) -> f64 {
    (elapsed.as_secs_f64() * 100_000.0).round() / 100.0
}

/// The X-Ray trace ID of the current request, for pages that show it (a 503 page says
/// which trace to quote).
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| format_trace_id(span_context.trace_id()))
}

/// An HTTP client whose every call is a client span carrying `X-Amzn-Trace-Id` (in the
/// process-wide X-Ray propagator's form). Name the service a call goes to with
/// [`Remote`] in the request's extensions, so traces and X-Ray's service map show the
/// callee.
///
/// The span middleware is ours: reqwest-tracing, the maintained one, has no release for
/// the OpenTelemetry version the rest of the workspace uses.
pub fn client(
    builder: reqwest::ClientBuilder,
) -> reqwest::Result<reqwest_middleware::ClientWithMiddleware> {
    Ok(reqwest_middleware::ClientBuilder::new(builder.build()?)
        .with(ClientSpans)
        .build())
}

/// The service a request goes to (`peer.service`, `aws.remote.service`), as
/// `request.with_extension(Remote("register"))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote(pub &'static str);

#[derive(Debug)]
struct ClientSpans;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for ClientSpans {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut axum::http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let remote = extensions.get::<Remote>().map(|r| r.0);
        let method = request.method().as_str().to_owned();
        let url = request.url();
        let host = url.host_str().unwrap_or_default().to_owned();
        let name = format!("{method} {}", remote.unwrap_or(&host));
        let span = http_span!(
            "http.client", "client", name, method,
            url.full = %format_args!("{}://{}{}", url.scheme(), url.authority(), url.path()),
            server.address = %host,
            server.port = url.port_or_known_default(),
            peer.service = remote,
            aws.remote.service = remote,
            error.type = field::Empty,
        );
        let context = span.context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(
                &context,
                &mut opentelemetry_http::HeaderInjector(request.headers_mut()),
            );
        });
        let result = next.run(request, extensions).instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                let status = response.status();
                span.record("http.response.status_code", status.as_u16());
                // A call refused (4xx) or failed (5xx) is the client span's error, as the
                // semantic conventions say; X-Ray shows it as an error or a fault.
                if status.is_client_error() || status.is_server_error() {
                    span.record("otel.status_code", "ERROR");
                    span.record("error.type", status.as_str());
                }
            }
            Err(err) => {
                let kind = if err.is_timeout() {
                    "timeout"
                } else {
                    "transport"
                };
                span.record("error.type", kind);
                crate::span::record_exception(&span, kind, &crate::errors::display(err));
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::rounded_ms;

    #[test]
    fn elapsed_milliseconds_are_rounded_to_a_hundredth() {
        assert_eq!(rounded_ms(Duration::from_nanos(292_848)), 0.29);
        assert_eq!(rounded_ms(Duration::from_nanos(292_851)), 0.29);
        assert_eq!(rounded_ms(Duration::from_nanos(296_000)), 0.3);
        assert_eq!(rounded_ms(Duration::from_micros(1_234_567)), 1234.57);
        assert_eq!(rounded_ms(Duration::ZERO), 0.0);
        assert_eq!(
            rounded_ms(Duration::from_micros(1_234_567)).to_string(),
            "1234.57"
        );
    }
}
