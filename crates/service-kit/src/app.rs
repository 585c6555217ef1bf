//! Serving a router: the standard middleware, a listener the caller can ask the port
//! of (port 0 in tests), and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::Route;
use tokio::net::TcpListener;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::Problem;

/// The bounds every service runs within.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a request may take before it is answered 503. Longer than the DynamoDB
    /// client's whole-operation timeout, so a store outage answers first, as a 503.
    pub request_timeout: Duration,
    /// Largest request body accepted (413 beyond).
    pub body_bytes: usize,
    /// Requests handled at once; more are shed with 503 rather than queued into
    /// collapse.
    pub concurrency: usize,
    /// After SIGTERM, how long in-flight requests may finish; well inside ECS's 30 s
    /// stop timeout.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            body_bytes: 16 * 1024,
            concurrency: 512,
            drain: Duration::from_secs(20),
        }
    }
}

/// A service bound to its port, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    drain: Duration,
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
                    .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                        Problem::unavailable("The service is busy; please retry shortly.")
                            .into_response()
                    }))
                    .load_shed()
                    .concurrency_limit(limits.concurrency)
                    .layer(TimeoutLayer::with_status_code(
                        StatusCode::SERVICE_UNAVAILABLE,
                        limits.request_timeout,
                    )),
            )
            // Enforced by the body extractors (Json, Form, Bytes), whose rejection each
            // service maps to its own 413.
            .layer(DefaultBodyLimit::max(limits.body_bytes))
            // Outermost on the routes, so a shed or timed-out request is traced too; health
            // and readiness are merged after it and so are never traced.
            .layer(axum::middleware::from_fn(telemetry::http::trace_requests));
        let router = routes.merge(health).layer(CatchPanicLayer::new());
        Ok(Self {
            listener,
            router,
            drain: limits.drain,
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
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let server = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            stop.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(true);
        });
        let drain = self.drain;
        let deadline = async move {
            let _ = stopping_rx.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(drain).await;
        };
        tokio::select! {
            served = server.into_future() => served,
            () = deadline => {
                tracing::warn!(?drain, "requests still running after the drain time; exiting anyway");
                Ok(())
            }
        }
    }
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
