//! HTTP to services on 127.0.0.1 for the checks, through ureq. Every status is an answer
//! to look at (a check may expect a 404 or a 503), and redirects are not followed (a
//! check asserts the 303 and its Location).

use std::sync::LazyLock;
use std::time::Duration;

use anyhow::{Context, ensure};
use serde_json::Value;
use ureq::http::{HeaderMap, Request};

pub struct HttpResponse {
    pub status: u16,
    headers: HeaderMap,
    pub body: String,
}

impl HttpResponse {
    /// The JSON body of an answer with that status; else an error quoting the answer.
    pub fn expect_json(&self, status: u16, request: &str) -> anyhow::Result<Value> {
        ensure!(
            self.status == status,
            "{request} answered {}: {}",
            self.status,
            self.body
        );
        self.json()
    }

    /// The first header of that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.body).with_context(|| format!("not JSON: {}", self.body))
    }
}

/// Bounds per step, so a service that hangs fails the check instead of the run.
static AGENT: LazyLock<ureq::Agent> = LazyLock::new(|| {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(Duration::from_secs(2)))
        .timeout_per_write(Some(Duration::from_secs(5)))
        .timeout_per_read(Some(Duration::from_secs(15)))
        .build()
        .new_agent()
});

/// Text as the website's pages hold it: escaped by askama's own HTML escaper, which
/// writes `"&'<>` as `&#34;&#38;&#39;&#60;&#62;` (html-escape writes `&amp;`, `&#x27;`…).
pub fn html_text(text: &str) -> String {
    let Ok(escaped) = askama::filters::escape(text, askama::filters::Html);
    escaped.to_string()
}

pub fn http_get(port: u16, path: &str) -> anyhow::Result<HttpResponse> {
    http_request("GET", port, path, None)
}

/// `method` on `http://127.0.0.1:{port}{path}`, with an optional (content type, body).
pub fn http_request(
    method: &str,
    port: u16,
    path: &str,
    body: Option<(&str, &str)>,
) -> anyhow::Result<HttpResponse> {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"));
    if let Some((content_type, _)) = body {
        request = request.header("Content-Type", content_type);
    }
    let request = request.body(body.map_or("", |(_, body)| body))?;
    let mut response = AGENT
        .run(request)
        .with_context(|| format!("{method} 127.0.0.1:{port}{path}"))?;
    let body = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("read the answer to {method} {path}"))?;
    Ok(HttpResponse {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::*;

    /// Serves one connection with `answer` and returns the request line it got.
    fn serve_once(answer: &'static str) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            stream.write_all(answer.as_bytes()).unwrap();
            first
        });
        (port, server)
    }

    #[test]
    fn escapes_text_as_the_templates_do() {
        assert_eq!(
            html_text(r#"O'Brien & <x> "q""#),
            "O&#39;Brien &#38; &#60;x&#62; &#34;q&#34;"
        );
        // A seed's apostrophe, as the hand-written escaper this replaces wrote it too.
        assert_eq!(
            html_text("The Build Box Under Dave's Desk"),
            "The Build Box Under Dave&#39;s Desk"
        );
    }

    #[test]
    fn an_error_status_is_an_answer() {
        let (port, server) = serve_once(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy",
        );
        let response = http_get(port, "/ready").unwrap();
        assert_eq!(server.join().unwrap().trim(), "GET /ready HTTP/1.1");
        assert_eq!((response.status, response.body.as_str()), (503, "busy"));
        assert!(response.expect_json(200, "GET /ready").is_err());
    }

    #[test]
    fn a_redirect_is_not_followed() {
        let (port, server) = serve_once(
            "HTTP/1.1 303 See Other\r\nLOCATION: /register/thanks?x=1\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
        );
        let response =
            http_request("POST", port, "/register", Some(("text/plain", "a=1"))).unwrap();
        assert_eq!(server.join().unwrap().trim(), "POST /register HTTP/1.1");
        assert_eq!(response.status, 303);
        assert_eq!(response.header("location"), Some("/register/thanks?x=1"));
    }
}
