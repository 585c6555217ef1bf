//! A URL nobody answers on, for tests of an API that is down.

/// An `http://` URL nothing listens on: calls to it are refused, as an API that is down.
pub fn closed_url() -> String {
    format!("http://127.0.0.1:{}", crate::free_port())
}
