//! What the body extractor refuses before any field is looked at: malformed JSON (400),
//! a wrong or missing Content-Type (415), more than 16 KiB (413). All problem+json.

use reqwest::StatusCode;

use crate::helpers::{assert_created, assert_problem, spawn_app, valid_registration};

const LIMIT: usize = 16 * 1024;

/// A valid registration of exactly `len` bytes (padded with an ignored field).
fn registration_of_len(len: usize) -> String {
    let head = r#"{"name":"Padded","type":"t","os":"o","padding":""#;
    let tail = r#""}"#;
    let body = format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()));
    assert_eq!(body.len(), len);
    body
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    for body in [
        "",
        "{",
        r#"{"name": "a",}"#,
        "{'name': 'a'}",
        "nope",
        r#"{"name":"a"} trailing"#,
    ] {
        let response = app
            .post_registration_raw(Some("application/json"), body, None)
            .await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .starts_with("The body is not valid JSON"),
            "{body:?} -> {problem}"
        );
    }
    assert_eq!(app.resident_count().await, 0);
}

#[tokio::test]
async fn a_wrong_or_missing_content_type_is_a_415() {
    let app = spawn_app().await;
    let body = valid_registration().to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
    ] {
        let response = app
            .post_registration_raw(content_type, body.clone(), None)
            .await;
        let problem = assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{content_type:?} -> {problem}"
        );
    }
    // A charset parameter is still JSON.
    let response = app
        .post_registration_raw(Some("application/json; charset=utf-8"), body, None)
        .await;
    assert_created(response).await;
    assert_eq!(app.resident_count().await, 1);
}

#[tokio::test]
async fn a_body_of_16_kib_is_read_and_one_byte_more_is_a_413() {
    let app = spawn_app().await;

    assert_created(
        app.post_registration_raw(Some("application/json"), registration_of_len(LIMIT), None)
            .await,
    )
    .await;

    let response = app
        .post_registration_raw(
            Some("application/json"),
            registration_of_len(LIMIT + 1),
            None,
        )
        .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(app.resident_count().await, 1);
}

#[tokio::test]
async fn a_17_kib_body_is_answered_413_not_reset() {
    let app = spawn_app().await;
    // Repeated on one client (one kept-alive connection when the server allows it), so a
    // connection closed with the body unread would show up as a send error here.
    for _ in 0..10 {
        let response = app
            .post_registration_raw(
                Some("application/json"),
                registration_of_len(17 * 1024),
                None,
            )
            .await;
        let problem = assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
        assert_eq!(problem["detail"], "The body is too large.");
    }
    // Also when the client does not announce the length (chunked transfer).
    let answer = raw_chunked_post(&app.address, registration_of_len(17 * 1024)).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    // And the service still admits normal registrations afterwards.
    assert_created(app.post_registration(&valid_registration()).await).await;
    assert_eq!(app.resident_count().await, 1);
}

/// Sends `body` with `Transfer-Encoding: chunked` over a plain socket and returns the
/// whole answer as text; a reset connection fails the test.
async fn raw_chunked_post(address: &str, body: String) -> String {
    use std::io::{Read, Write};

    let authority = address.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        let mut socket = std::net::TcpStream::connect(&authority).expect("connect");
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("a read timeout");
        let mut request = format!(
            "POST /v1/registrations HTTP/1.1\r\nHost: {authority}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n"
        )
        .into_bytes();
        for chunk in body.as_bytes().chunks(1024) {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        socket.write_all(&request).expect("send the request");
        let mut answer = Vec::new();
        socket
            .read_to_end(&mut answer)
            .expect("read the whole answer (not a reset)");
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("the raw request ran")
}
