//! What every API test asserts of an answer.

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use service_kit::PROBLEM_CONTENT_TYPE;

/// The `Content-Type` of `response`, or "" without one.
pub fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// Asserts an RFC 9457 answer of type `about:blank` with `status` (and, for a 503,
/// `Retry-After` in whole seconds); returns the body for further checks.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_problem_of_type(response, status, "about:blank").await
}

/// [`assert_problem`] for a problem of its own `type`.
pub async fn assert_problem_of_type(response: Response, status: StatusCode, kind: &str) -> Value {
    let actual = response.status();
    let content_type = content_type(&response);
    let retry_after = response.headers().get(RETRY_AFTER).cloned();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "body: {text}");
    assert_eq!(content_type, PROBLEM_CONTENT_TYPE, "body: {text}");
    let body: Value = serde_json::from_str(&text).expect("a JSON problem body");
    assert_eq!(body["type"], kind, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(
        body["title"],
        status.canonical_reason().expect("a known status"),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "a problem without detail: {body}"
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        let seconds: u32 = retry_after
            .expect("a 503 carries Retry-After")
            .to_str()
            .expect("an ASCII Retry-After")
            .parse()
            .expect("Retry-After is whole seconds");
        assert!(seconds > 0);
    }
    body
}
