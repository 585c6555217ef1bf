//! Serving a router: the standard middleware, a listener the caller can ask the port
//! of (port 0 in tests), and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use tokio::net::TcpListener;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;

use crate::Problem;
use crate::serve::{ConnectionLimits, serve};

/// The bounds every service runs within.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a request may take before it is answered 503. Longer than the DynamoDB
    /// client's whole-operation timeout, so a store outage answers first, as a 503.
    pub request_timeout: Duration,
    /// Largest request body accepted (413 beyond; at once when `Content-Length` says so).
    pub body_bytes: usize,
    /// Requests handled at once; more are shed with 503 rather than queued into
    /// collapse.
    pub concurrency: usize,
    /// After SIGTERM, how long in-flight requests may finish; well inside ECS's 30 s
    /// stop timeout.
    pub drain: Duration,
    pub connections: ConnectionLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            body_bytes: 16 * 1024,
            concurrency: 512,
            drain: Duration::from_secs(20),
            connections: ConnectionLimits::default(),
        }
    }
}

/// A service bound to its port, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    limits: Limits,
}

impl Application {
    /// Binds `0.0.0.0:port` (0 picks a free port) and wraps `routes` in the standard
    /// middleware. `health` (from [`crate::health_router`]) is served beside them but is
    /// never shed or timed out, so a busy service is not also reported dead.
    pub async fn bind(
        port: u16,
        routes: Router,
        health: Router,
        limits: Limits,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("0.0.0.0", port)).await?;
        let routes = routes
            .layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(answer_shed_or_timed_out))
                    .load_shed()
                    .concurrency_limit(limits.concurrency)
                    .timeout(limits.request_timeout),
            )
            // Enforced by the body extractors (Json, Form, Bytes), whose rejection each
            // service maps to its own 413.
            .layer(DefaultBodyLimit::max(limits.body_bytes))
            .layer(axum::middleware::from_fn_with_state(
                limits.body_bytes,
                refuse_declared_oversize,
            ))
            // Outermost on the routes, so a shed or timed-out request is traced too; health
            // and readiness are merged after it and so are never traced.
            .layer(axum::middleware::from_fn(telemetry::http::trace_requests));
        let router = routes.merge(health).layer(CatchPanicLayer::new());
        Ok(Self {
            listener,
            router,
            limits,
        })
    }

    /// Wraps everything the service answers in `layer`, outside the standard middleware:
    /// it also sees the 503s of load shedding and timeouts, and the probes. For what
    /// must hold for every response (the website's security headers).
    #[must_use]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.router = self.router.layer(layer);
        self
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until Ctrl-C or SIGTERM, then drains.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes; then stops accepting, lets in-flight requests
    /// finish for at most the drain time, and returns.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            listener,
            router,
            limits,
        } = self;
        serve(listener, router, limits.connections, limits.drain, stop).await
    }
}

/// A request shed under load never ran: nothing happened. One that timed out may have
/// changed something if it was a write, and says so.
async fn answer_shed_or_timed_out(method: Method, err: tower::BoxError) -> Response {
    if err.is::<tower::load_shed::error::Overloaded>() {
        return Problem::unavailable("The service is busy; please retry shortly.").into_response();
    }
    if !err.is::<tower::timeout::error::Elapsed>() {
        return Problem::internal()
            .caused_by(tracing::Level::ERROR, ServiceError(err.to_string()))
            .into_response();
    }
    if method.is_safe() {
        Problem::unavailable("The request took too long; please retry shortly.").into_response()
    } else {
        Problem::outcome_unknown(
            "The request took too long to finish, so whether it changed anything is unknown. \
             Repeating it with the same Idempotency-Key is safe: it is never applied twice.",
        )
        .into_response()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ServiceError(String);

/// A body declared (by `Content-Length`) larger than the limit is refused before any of
/// it is read.
async fn refuse_declared_oversize(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "The body is too large.")
            .into_response();
    }
    next.run(request).await
}

/// Completes on Ctrl-C or SIGTERM (what ECS sends to stop a task).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
