//! Security headers on every response the site makes: pages, static files, redirects,
//! error pages, probes, and the 503s service-kit answers itself when it sheds load or a
//! request times out (which also become the friendly 503 page).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use telemetry::xray::{TraceHeader, format_trace_id};

use crate::error;

/// No script at all, no inline style, nothing from another origin; forms post only
/// here; the site may not be framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Features the site never uses, switched off.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), \
     gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

const HEADERS: [(HeaderName, &str); 6] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

/// Outermost middleware (`Application::layer`): a bare 503 from service-kit's load
/// shedding or timeout becomes the friendly 503 page (the probes keep their own
/// answers), and every response gets the security headers.
pub async fn finish(request: Request, next: Next) -> Response {
    let probe = matches!(request.uri().path(), "/health" | "/ready");
    let response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if response.status() == StatusCode::SERVICE_UNAVAILABLE && !probe && !html {
        // The request's span has ended here: its trace ID is on the response's header.
        let trace = response.headers().get("x-amzn-trace-id").cloned();
        let trace_id = trace
            .as_ref()
            .and_then(|value| TraceHeader::parse(value.to_str().ok()?))
            .map(|header| format_trace_id(header.root));
        let mut page = error::busy_page(trace_id);
        if let Some(trace) = trace {
            page.headers_mut().insert("x-amzn-trace-id", trace);
        }
        return add_headers(page);
    }
    add_headers(response)
}

/// Sets (overrides) every security header.
fn add_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::{HeaderMap, Request, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::{CONTENT_SECURITY_POLICY, finish};

    const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793";

    /// What service-kit answers on a timeout (a bare 503) and on /ready when down.
    fn site() -> Router {
        Router::new()
            .route(
                "/residents",
                get(|| async {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [("x-amzn-trace-id", TRACE)],
                    )
                }),
            )
            .route(
                "/ready",
                get(|| async { service_kit::Problem::unavailable("not ready").into_response() }),
            )
            .layer(axum::middleware::from_fn(finish))
    }

    async fn get_page(path: &str) -> (StatusCode, HeaderMap, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = site().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, 1 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_bare_503_becomes_the_busy_page_with_its_trace_id_and_the_headers() {
        let (status, headers, body) = get_page("/residents").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(headers[header::RETRY_AFTER], "30");
        assert_eq!(headers["x-amzn-trace-id"], TRACE);
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(body.contains("busy"), "{body}");
        assert!(
            body.contains("1-5759e988-bd862e3fe1be46a994272793"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn probes_keep_their_answer_and_get_the_headers() {
        let (status, headers, body) = get_page("/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert!(body.contains("not ready"), "{body}");
    }
}
