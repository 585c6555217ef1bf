//! What a visitor sees when a page cannot be served. The cause is logged where it
//! happens (`api.rs`); a visitor only ever sees one of these pages, never an internal
//! message. No answer of an API becomes a 500: that page is for the site's own bugs
//! (a page that did not render, see `pages.rs`).

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use telemetry::xray::{TraceHeader, format_trace_id};

use crate::api_client::UpstreamError;
use crate::pages::{ErrorPage, Page, Retry, Section};
use crate::reference::{Reference, TraceLookup};

/// Why a page could not be served; each variant says its status.
#[derive(Debug)]
pub enum WebError {
    /// 404: no such page or resident.
    NotFound,
    /// 400: a link that cannot be right (a tampered cursor, a bad filter).
    BadLink,
    /// 400: a feed button the site did not write (a bad token), or one the API refused.
    BadFeedButton { resident: String },
    /// 403: a state-changing request sent from another site.
    CrossSite,
    /// 413: a form larger than any the site's pages send (its content is not read).
    TooLarge,
    /// 405: a method the address does not take (GET on a feed button's address).
    MethodNotAllowed { onward: Option<(String, String)> },
    /// 503: an API the page needs is not answering; nothing was changed.
    Unavailable,
    /// 503: server-listing did not feed the resident (it is unavailable); the same
    /// feeding can be sent again.
    FeedNotSent(Retry),
    /// 503: the feeding was sent but whether it happened is unknown; sending it again
    /// with the same token is safe.
    FeedUnconfirmed(Retry),
    /// 503: an API failed in a way it did not explain (a 500, an answer not
    /// understood); the cause is logged, the trace ID shown.
    UpstreamFailed,
}

/// For pages that read: what an API's failure means to the visitor.
impl From<UpstreamError> for WebError {
    fn from(err: UpstreamError) -> Self {
        match err {
            UpstreamError::NotFound => Self::NotFound,
            UpstreamError::BadRequest
            | UpstreamError::Invalid(_)
            | UpstreamError::Conflict
            | UpstreamError::TooLarge
            | UpstreamError::Refused(_) => Self::BadLink,
            UpstreamError::Unavailable | UpstreamError::OutcomeUnknown => Self::Unavailable,
            UpstreamError::Unexpected => Self::UpstreamFailed,
        }
    }
}

fn page(status: StatusCode, heading: &'static str, message: impl Into<String>) -> ErrorPage {
    ErrorPage {
        section: Section::None,
        status: status.as_u16(),
        heading,
        message: message.into(),
        reference: None,
        retry: None,
        onward: None,
    }
}

impl ErrorPage {
    fn traced(mut self) -> Self {
        self.reference = Reference::current();
        self
    }

    fn retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    fn onward(mut self, onward: Option<(String, String)>) -> Self {
        self.onward = onward;
        self
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, page) = match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                page(
                    StatusCode::NOT_FOUND,
                    "We couldn't find that page",
                    "Nobody by that name lives here, or the page has moved. Perhaps they are \
                     napping in another wing — try the list of residents.",
                ),
            ),
            Self::BadLink => (
                StatusCode::BAD_REQUEST,
                page(
                    StatusCode::BAD_REQUEST,
                    "That link doesn't look right",
                    "The address was changed or has expired. Start again from the list of \
                     residents.",
                ),
            ),
            Self::BadFeedButton { resident } => (
                StatusCode::BAD_REQUEST,
                page(
                    StatusCode::BAD_REQUEST,
                    "That feed button had expired",
                    "Nobody was fed. Go to the resident and press its feed button again.",
                )
                .onward(Some((resident, "Go to the resident".to_owned()))),
            ),
            Self::CrossSite => (
                StatusCode::FORBIDDEN,
                page(
                    StatusCode::FORBIDDEN,
                    "We didn't accept that form",
                    "It was sent from another website, so we did nothing with it: nobody was \
                     fed and nothing was admitted. If you meant to, use the buttons and forms \
                     here on Cuddle Kube.",
                ),
            ),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "That is more than we can take in",
                    "What you sent is far larger than any of our forms needs, so we did \
                     nothing with it. Please go back, shorten what you typed and send it \
                     again.",
                ),
            ),
            Self::MethodNotAllowed { onward } => (
                StatusCode::METHOD_NOT_ALLOWED,
                page(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "This address is for a button",
                    "It takes a form sent with a button, not a visit. To feed a resident, \
                     press the feed button on its card.",
                )
                .onward(onward),
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The residents are resting",
                    "We can't reach the part of Cuddle Kube that looks after the residents \
                     right now. Nothing is lost: please try again in a minute. If it keeps \
                     happening, tell us the reference below so we can follow your request.",
                )
                .traced()
                .retry(Retry::Reload),
            ),
            Self::FeedNotSent(retry) => (
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The residents are resting",
                    "We can't reach the part of Cuddle Kube that feeds the residents right \
                     now, so nobody was fed. Nothing is lost: please try again in a minute. \
                     If it keeps happening, tell us the reference below so we can follow \
                     your request.",
                )
                .traced()
                .retry(retry),
            ),
            Self::FeedUnconfirmed(retry) => (
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "We couldn't confirm the feeding",
                    "Your feeding reached us, but we couldn't confirm whether it happened. \
                     Trying again is safe: the resident will not be fed twice. If it keeps \
                     happening, tell us the reference below so we can follow your request.",
                )
                .traced()
                .retry(retry),
            ),
            Self::UpstreamFailed => (
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Something went wrong behind the scenes",
                    "A part of Cuddle Kube answered in a way we didn't expect. The staff can \
                     see what happened: tell us the reference below if it keeps happening.",
                )
                .traced()
                .retry(Retry::Reload),
            ),
        };
        // A 405's `Allow` header is axum's: it knows the route's methods.
        Page::with_status(status, page).no_store().into_response()
    }
}

/// The page of a request the site shed under load or that ran out of time. A page can
/// be loaded again; a form is safe to send again (its token makes it count once).
fn busy_page(reference: Option<Reference>, method: &Method) -> Response {
    let reading = matches!(*method, Method::GET | Method::HEAD);
    let message = if reading {
        "So many visitors at once that this page could not be served in time. Nothing is \
         lost: please try again in a minute. If it keeps happening, tell us the reference \
         below so we can follow your request."
    } else {
        "So many visitors at once that we could not finish your request in time. Please go \
         back and send it again in a minute: it is safe, nothing will be done twice. If it \
         keeps happening, tell us the reference below so we can follow your request."
    };
    let mut page = page(
        StatusCode::SERVICE_UNAVAILABLE,
        "We're a little busy",
        message,
    );
    page.reference = reference;
    if reading {
        page.retry = Some(Retry::Reload);
    }
    Page::with_status(StatusCode::SERVICE_UNAVAILABLE, page)
        .no_store()
        .into_response()
}

/// Middleware (`Application::layer`, inside the security headers, with the
/// `TRACE_LOOKUP` setting as its state): what service-kit answers itself, as
/// problem+json, becomes one of the site's pages — a 503 (load shed, or a request that
/// timed out) the busy page, a 413 (a body declared larger than the limit, refused
/// unread) the "too much" page. The probes keep their own answers; pages are left
/// alone.
pub async fn friendly_service_pages(
    State(lookup): State<Option<TraceLookup>>,
    request: Request,
    next: Next,
) -> Response {
    let probe = matches!(request.uri().path(), "/health" | "/ready");
    let method = request.method().clone();
    let response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if probe || html {
        return response;
    }
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return WebError::TooLarge.into_response();
    }
    if response.status() != StatusCode::SERVICE_UNAVAILABLE {
        return response;
    }
    // The request's span has ended here: its trace ID is on the response's header.
    let trace = response.headers().get("x-amzn-trace-id").cloned();
    let reference = trace
        .as_ref()
        .and_then(|value| TraceHeader::parse(value.to_str().ok()?))
        .map(|header| Reference::new(format_trace_id(header.root), lookup.as_ref()));
    let mut page = busy_page(reference, &method);
    if let Some(trace) = trace {
        page.headers_mut().insert("x-amzn-trace-id", trace);
    }
    page
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::{HeaderMap, Request, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::friendly_service_pages;
    use crate::reference::TraceLookup;

    const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793";

    /// What service-kit answers on a timeout (a bare 503) and on /ready when down.
    fn site() -> Router {
        site_with(None)
    }

    fn site_with(lookup: Option<TraceLookup>) -> Router {
        let timed_out = || async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [("x-amzn-trace-id", TRACE)],
            )
        };
        Router::new()
            .route("/residents", get(timed_out).post(timed_out))
            .route(
                "/register",
                axum::routing::post(|| async {
                    service_kit::Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too large")
                        .into_response()
                }),
            )
            .route(
                "/ready",
                get(|| async { service_kit::Problem::unavailable("not ready").into_response() }),
            )
            .layer(axum::middleware::from_fn_with_state(
                lookup,
                friendly_service_pages,
            ))
    }

    async fn send(request: Request<Body>) -> (StatusCode, HeaderMap, String) {
        send_to(site(), request).await
    }

    async fn send_to(site: Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let response = site.oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, 1 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_bare_503_becomes_the_busy_page_with_its_trace_id() {
        let request = Request::get("/residents").body(Body::empty()).unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(headers[header::RETRY_AFTER], "30");
        assert_eq!(headers["x-amzn-trace-id"], TRACE);
        assert!(body.contains("busy"), "{body}");
        assert!(body.contains("Try again"), "{body}");
        assert!(
            body.contains("1-5759e988-bd862e3fe1be46a994272793"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_busy_form_says_sending_again_is_safe_without_reloading_it() {
        let request = Request::post("/residents").body(Body::empty()).unwrap();
        let (status, _, body) = send(request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body.contains("send it again in a minute: it is safe"),
            "{body}"
        );
        assert!(
            !body.contains("Try again"),
            "a POST cannot be reloaded: {body}"
        );
    }

    #[tokio::test]
    async fn a_413_of_service_kit_becomes_the_too_much_page() {
        let request = Request::post("/register").body(Body::empty()).unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(body.contains("more than we can take in"), "{body}");
    }

    #[tokio::test]
    async fn probes_keep_their_answer() {
        let request = Request::get("/ready").body(Body::empty()).unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert!(body.contains("not ready"), "{body}");
    }

    #[tokio::test]
    async fn the_busy_page_links_to_where_its_reference_is_looked_up_escaped() {
        let lookup = "http://127.0.0.1:16686/trace/{trace_id}?a=1&b=\"><b>"
            .parse()
            .unwrap();
        let request = Request::get("/residents").body(Body::empty()).unwrap();
        let (status, _, body) = send_to(site_with(Some(lookup)), request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let href = "http://127.0.0.1:16686/trace/1-5759e988-bd862e3fe1be46a994272793\
                    ?a=1&#38;b=&#34;&#62;&#60;b&#62;";
        assert!(
            body.contains(&format!(
                "<p class=\"trace trace-lookup\">Look it up at <a href=\"{href}\">{href}</a></p>"
            )),
            "{body}"
        );
        assert!(!body.contains("<b>"), "{body}");
    }

    /// The site in front of APIs that do not answer, traced as `Application` traces it,
    /// with `TRACE_LOOKUP` as given.
    fn site_without_apis(trace_lookup: Option<&str>) -> Router {
        test_support::init_tracing_with_trace_ids();
        let closed = test_support::closed_url();
        let config = crate::Config {
            port: 0,
            server_listing_url: closed.parse().unwrap(),
            register_url: closed.parse().unwrap(),
            trace_lookup: trace_lookup.map(|template| template.parse().unwrap()),
        };
        let state = crate::AppState {
            apis: crate::api_client::ApiClient::new(
                telemetry::http::client(reqwest::Client::builder()).unwrap(),
                config.server_listing_url.clone(),
                config.register_url.clone(),
            ),
            config: std::sync::Arc::new(config),
            systems: std::sync::Arc::default(),
        };
        crate::router(state).layer(axum::middleware::from_fn(telemetry::http::trace_requests))
    }

    /// The trace ID the page quotes (and the response's header names).
    fn quoted(headers: &HeaderMap, body: &str) -> String {
        let trace_id = headers["x-amzn-trace-id"]
            .to_str()
            .unwrap()
            .strip_prefix("Root=")
            .unwrap()
            .to_owned();
        assert!(
            body.contains(&format!("<code class=\"trace-id\">{trace_id}</code>")),
            "{body}"
        );
        trace_id
    }

    fn registration() -> Request<Body> {
        let form = format!(
            "idempotency_token={}&name=Fluffy&type=t3.micro&service=3&petname=fl&os=linux",
            crate::form::new_token()
        );
        Request::post("/register")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    }

    #[tokio::test]
    async fn with_trace_lookup_set_a_503_page_says_where_to_look_its_reference_up() {
        let site = site_without_apis(Some("cargo xtask trace {trace_id} <i>&"));
        let request = Request::get("/residents").body(Body::empty()).unwrap();
        let (status, headers, body) = send_to(site.clone(), request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let trace_id = quoted(&headers, &body);
        assert!(
            body.contains(&format!(
                "<p class=\"trace trace-lookup\">Look it up with \
                 <code>cargo xtask trace {trace_id} &#60;i&#62;&#38;</code></p>"
            )),
            "{body}"
        );
        assert!(!body.contains("<i>"), "{body}");

        // The admittance form's notice when register does not answer quotes it too.
        let (status, headers, body) = send_to(site, registration()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let trace_id = quoted(&headers, &body);
        assert!(
            body.contains(&format!(
                "<code>cargo xtask trace {trace_id} &#60;i&#62;&#38;</code>"
            )),
            "{body}"
        );
    }

    #[tokio::test]
    async fn without_trace_lookup_a_503_page_only_quotes_its_reference() {
        let site = site_without_apis(None);
        for request in [
            Request::get("/residents").body(Body::empty()).unwrap(),
            registration(),
        ] {
            let (status, headers, body) = send_to(site.clone(), request).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            quoted(&headers, &body);
            assert!(!body.contains("trace-lookup"), "{body}");
            assert!(!body.contains("Look it up"), "{body}");
        }
    }
}
