//! The accept loop: hyper-util's HTTP/1 server with the connection bounds `axum::serve`
//! leaves off, and a drain that waits for requests, not for connections.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

/// The connection bounds every service runs within.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From when a connection starts waiting for a request (its first, or the next one
    /// on a kept-alive connection) until the request's whole head has arrived. One
    /// timer in hyper, so it bounds both a client trickling header bytes and an idle
    /// kept-alive connection. Above the load balancer's idle timeout (infra sets the
    /// ALB's and Service Connect's below it), so the proxy, not us, closes an idle
    /// connection first and never reuses one we are closing.
    pub head_timeout: Duration,
    /// Connections open at once; beyond it new ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            head_timeout: Duration::from_secs(20),
            max_connections: 1024,
        }
    }
}

/// Serves `router` on `listener` until `stop`, then stops accepting, ends kept-alive
/// connections, and returns once no request is in flight (or after `drain`). A
/// connection still sending a request head when `stop` comes holds nothing up.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    drain: Duration,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let (in_flight, _) = watch::channel(0_usize);
    let in_flight = Arc::new(in_flight);
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
            () = &mut stop => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait, do not spin or die.
                Err(err) => {
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = counted(router.clone(), in_flight.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Closed by the client, the head timeout or shutdown: nothing to report.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    let all_closed = graceful.shutdown();
    let mut requests = in_flight.subscribe();
    tokio::select! {
        () = all_closed => {}
        _ = requests.wait_for(|n| *n == 0) => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!(?drain, "requests still running after the drain time; exiting anyway");
        }
    }
    Ok(())
}

/// The router as a hyper service that counts the requests it is answering.
fn counted(
    router: Router,
    in_flight: Arc<watch::Sender<usize>>,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Future<Output = Result<axum::response::Response, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let answering = Answering::start(in_flight.clone());
        async move {
            let response = router.oneshot(request.map(axum::body::Body::new)).await;
            drop(answering);
            response
        }
    })
}

/// One request in flight; counted off when answered or abandoned (a client that hangs
/// up drops the request's future).
struct Answering(Arc<watch::Sender<usize>>);

impl Answering {
    fn start(in_flight: Arc<watch::Sender<usize>>) -> Self {
        in_flight.send_modify(|n| *n += 1);
        Self(in_flight)
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}
