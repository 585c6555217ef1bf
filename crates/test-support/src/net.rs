//! Loopback ports for tests: one free to bind, and a URL nobody answers on.

use std::net::TcpListener;

/// A loopback port that was free a moment ago (bound, then released). A process that
/// takes its port from an argument (chromedriver, java) binds it right after.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// An `http://` URL nothing listens on: calls to it are refused, as an API that is down.
pub fn closed_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}
