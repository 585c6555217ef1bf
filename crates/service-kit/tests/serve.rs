//! The bounds `Application` serves within, seen from a client's socket: slow and idle
//! connections are closed, an oversize body is refused before it is sent, a timed-out
//! request is a problem that says what is known, and stopping does not wait for a
//! connection that never finished its request.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use service_kit::{Application, ConnectionLimits, Limits, health_router};
use tokio::sync::oneshot;

/// Far beyond every bound below: a test waits this long at most for what must happen.
const PATIENCE: Duration = Duration::from_secs(15);

fn limits() -> Limits {
    Limits {
        request_timeout: Duration::from_millis(300),
        connections: ConnectionLimits {
            head_timeout: Duration::from_millis(500),
            max_connections: 64,
        },
        drain: Duration::from_secs(60),
        ..Limits::default()
    }
}

/// A service with a slow route, serving until the returned sender is used or dropped;
/// its port and the task that ends when serving has stopped.
async fn serve() -> (u16, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let slow = || async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    };
    let routes = Router::new()
        .route("/slow", get(slow).post(slow))
        .route("/fast", get(|| async { "ok" }).post(|| async { "ok" }));
    let health = health_router(service_kit::ServiceInfo::new("test"), || async { Ok(()) });
    let app = Application::bind(0, routes, health, limits())
        .await
        .unwrap();
    let port = app.port();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (port, stop, running)
}

/// Connects, sends `bytes`, and reads until the server closes (or `PATIENCE` runs out,
/// which fails the test): what the server answered before closing.
fn send_and_read_to_close(port: u16, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
        Err(err) => panic!("the server kept the connection open: {err}"),
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_trickling_its_headers_is_disconnected() {
    let (port, _stop, _) = serve().await;
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
            .write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        // One more header byte now and then, never the blank line that ends the head.
        let mut buffer = [0u8; 256];
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(100));
            if stream.write_all(b"X").is_err() {
                return true;
            }
            stream.set_nonblocking(true).unwrap();
            let read = stream.read(&mut buffer);
            stream.set_nonblocking(false).unwrap();
            if matches!(read, Ok(0)) || matches!(&read, Err(e) if e.kind() != ErrorKind::WouldBlock)
            {
                return true;
            }
        }
        false
    })
    .await
    .unwrap();
    assert!(
        closed,
        "a connection trickling header bytes for 10 s is still open"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_kept_alive_connection_is_closed() {
    let (port, _stop, _) = serve().await;
    let answer = tokio::task::spawn_blocking(move || {
        send_and_read_to_close(port, b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
    })
    .await
    .unwrap();
    // It answered, kept the connection alive, and closed it once idle.
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_oversize_body_is_refused_before_it_is_sent() {
    let (port, _stop, _) = serve().await;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        // The head alone: the 1 MiB it announces never comes.
        stream
            .write_all(
                b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                  Content-Length: 1048576\r\n\r\n",
            )
            .unwrap();
        let mut head = [0u8; 512];
        let read = stream.read(&mut head).expect("an answer without the body");
        String::from_utf8_lossy(&head[..read]).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_request_is_a_problem_saying_what_is_known() {
    let (port, _stop, _) = serve().await;
    let client = reqwest::Client::new();
    let read = client
        .get(format!("http://127.0.0.1:{port}/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 503);
    assert_eq!(read.headers()["retry-after"], "2");
    assert_eq!(read.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = read.json().await.unwrap();
    assert_eq!(body["type"], "about:blank", "{body}");

    // A write that timed out may have happened: it says so.
    let write = client
        .post(format!("http://127.0.0.1:{port}/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 503);
    assert_eq!(write.headers()["retry-after"], "2");
    let body: serde_json::Value = write.json().await.unwrap();
    assert_eq!(body["type"], service_kit::OUTCOME_UNKNOWN, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("Idempotency-Key"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_does_not_wait_for_a_half_sent_request() {
    let (port, stop, running) = serve().await;
    let half_sent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    (&half_sent)
        .write_all(b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Le")
        .unwrap();
    // Let the server take the connection before it is told to stop.
    let answer = tokio::task::spawn_blocking(move || {
        send_and_read_to_close(
            port,
            b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop.send(()).unwrap();
    // The drain is 60 s; serving ends long before, with the half-sent request unfinished.
    tokio::time::timeout(PATIENCE, running)
        .await
        .expect("serving ended without waiting for the half-sent request")
        .unwrap();
    drop(half_sent);
}
