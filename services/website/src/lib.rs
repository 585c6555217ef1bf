//! website: the public Cuddle Kube site, the only service behind the public ALB. It
//! renders HTML from the two internal APIs and never talks to DynamoDB itself.
//!
//! `main.rs` only calls [`build`]; tests call [`build_with_config`] with port 0.
//!
//! Code map: `routes/` (handlers: `residents.rs`, `admission.rs`), `api_client.rs`
//! (the two APIs, through the traced client), `pages.rs` (askama templates and the one
//! `IntoResponse` wrapper), `card.rs` (a resident as the pages show it), `form.rs`
//! (the admittance form and its messages), `words.rs` (dates, "3 minutes ago", bios),
//! `os_filter.rs` (the OS filter's choices), `error.rs` (what a visitor sees when
//! something fails), `cross_site.rs` (forms from other sites refused), `security.rs`
//! (headers on every response), `assets.rs` (embedded static files), `avatar.rs`
//! (server family and mood → picture).

mod api_client;
mod assets;
mod avatar;
mod card;
mod cross_site;
mod error;
mod form;
mod os_filter;
mod pages;
mod reference;
mod routes;
mod security;
mod words;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use service_kit::config::{self, BaseUrl};
use service_kit::{Application, ConfigError, Limits, ServiceInfo, health_router};

pub use reference::TraceLookup;

use crate::api_client::ApiClient;

pub const INFO: ServiceInfo = ServiceInfo::new("website");

/// How long the website waits for an API before giving up on it.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    /// `SERVER_LISTING_URL`, e.g. `http://server-listing:8080`.
    pub server_listing_url: BaseUrl,
    /// `REGISTER_URL`, e.g. `http://register:8080`.
    pub register_url: BaseUrl,
    /// `TRACE_LOOKUP` (unset: off): where staff look up the trace ID a failure's page
    /// quotes, a template holding `{trace_id}`, e.g. `cargo xtask trace {trace_id}` or
    /// `http://127.0.0.1:16686/trace/{trace_id}`; the page shows it (an address as a
    /// link).
    pub trace_lookup: Option<TraceLookup>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            port: config::port()?,
            server_listing_url: config::var("SERVER_LISTING_URL")?,
            register_url: config::var("REGISTER_URL")?,
            trace_lookup: match std::env::var_os("TRACE_LOOKUP") {
                Some(value) if !value.is_empty() => Some(config::var("TRACE_LOOKUP")?),
                _ => None,
            },
        })
    }
}

/// Everything a handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Calls the APIs: every call is a client span carrying `X-Amzn-Trace-Id`.
    pub apis: ApiClient,
    /// Shared: axum clones the state for every request.
    pub config: Arc<Config>,
    /// The OS filter's choices, read from server-listing now and then.
    systems: Arc<os_filter::SystemsCache>,
}

/// The site's pages, static files and 404 fallback, with state-changing requests from
/// other sites refused ([`build_with_config`] adds health, readiness and, around
/// everything, the busy page and the security headers).
pub fn router(state: AppState) -> Router {
    let lookup = state.config.trace_lookup.clone();
    routes::routes()
        .with_state(state)
        .merge(assets::router())
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn(cross_site::refuse_cross_site))
        .layer(axum::middleware::from_fn_with_state(
            lookup,
            reference::with_trace_lookup,
        ))
}

pub async fn build() -> Result<Application, String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let port = config.port;
    build_with_config(config)
        .await
        .map_err(|err| format!("cannot start on port {port}: {err}"))
}

pub async fn build_with_config(config: Config) -> Result<Application, std::io::Error> {
    build_with_limits(config, Limits::default()).await
}

/// [`build_with_config`] with other bounds (tests: a request timeout short enough to
/// see the busy page).
pub async fn build_with_limits(
    config: Config,
    limits: Limits,
) -> Result<Application, std::io::Error> {
    let http = reqwest::Client::builder()
        .timeout(UPSTREAM_TIMEOUT)
        .connect_timeout(Duration::from_secs(1))
        .build()
        .map_err(std::io::Error::other)?;
    let port = config.port;
    let lookup = config.trace_lookup.clone();
    let http_client = telemetry::http::client(
        reqwest::Client::builder()
            .timeout(UPSTREAM_TIMEOUT)
            .connect_timeout(Duration::from_secs(1))
            // The APIs never redirect; a redirect would be a misconfiguration to report,
            // not to follow.
            .redirect(reqwest::redirect::Policy::none()),
    )
    .map_err(std::io::Error::other)?;
    let state = AppState {
        apis: ApiClient::new(
            http_client,
            config.server_listing_url.clone(),
            config.register_url.clone(),
        ),
        config: Arc::new(config.clone()),
        systems: Arc::default(),
    };
    // Ready when both APIs answer their liveness check (probes are not traced).
    let probe = move || {
        let (http, config) = (http.clone(), config.clone());
        async move {
            for api in [&config.server_listing_url, &config.register_url] {
                let url = api.join("/health");
                match http.get(&url).send().await {
                    Ok(response) if response.status().is_success() => {}
                    Ok(response) => return Err(format!("{url} answered {}", response.status())),
                    Err(err) => return Err(format!("{url} did not answer: {err}")),
                }
            }
            Ok(())
        }
    };
    let health = health_router(INFO, probe);
    Ok(Application::bind(port, router(state), health, limits)
        .await?
        // Inside the headers, so the busy page gets them too.
        .layer(axum::middleware::from_fn_with_state(
            lookup,
            error::friendly_service_pages,
        ))
        .layer(axum::middleware::from_fn(security::security_headers)))
}
