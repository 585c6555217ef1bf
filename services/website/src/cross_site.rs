//! Refuses state-changing requests that a browser sent from another site (a form on
//! evil.example that feeds residents or admits servers), with the friendly 403 page.
//!
//! The same rule as Go's `net/http.CrossOriginProtection`: a browser says where a
//! request comes from in `Sec-Fetch-Site` (every current browser), else in `Origin`;
//! a request carrying neither is not from a browser's cross-site form (curl, scripts,
//! old browsers that never send cross-site forms without `Origin`) and is let through.
//! No token and no cookie are needed, which suits a site that sets none.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::WebError;

/// Middleware on the site's routes: state-changing requests from another origin get
/// the 403 page and never reach a handler.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if is_cross_site(request.method(), request.headers()) {
        tracing::info!(
            method = %request.method(),
            path = request.uri().path(),
            origin = ?request.headers().get(header::ORIGIN),
            sec_fetch_site = ?request.headers().get("sec-fetch-site"),
            "refused a cross-site request"
        );
        return WebError::CrossSite.into_response();
    }
    next.run(request).await
}

/// Whether a request changes state and was sent from another origin.
fn is_cross_site(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    // The browser's own word. "none" is the visitor's own doing (a bookmark, the
    // address bar); "same-site" is another origin (a sibling subdomain), refused too.
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    // An older browser: the origin's host must be the one the request was sent to.
    // The ALB passes the visitor's Host through, so both name the public host; the
    // scheme is not compared (TLS ends at the ALB).
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| url::Url::parse(origin).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        });
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        // `Origin: null` (a sandboxed or privacy-sensitive context), or no Host.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, Method};

    use super::is_cross_site;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn post(pairs: &[(&'static str, &'static str)]) -> bool {
        is_cross_site(&Method::POST, &headers(pairs))
    }

    #[test]
    fn other_sites_are_refused() {
        for pairs in [
            &[("sec-fetch-site", "cross-site")][..],
            &[("sec-fetch-site", "same-site")],
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://cuddlekube.example"),
                ("host", "cuddlekube.example"),
            ],
            &[
                ("origin", "https://evil.example"),
                ("host", "cuddlekube.example"),
            ],
            &[("origin", "null"), ("host", "cuddlekube.example")],
            &[
                ("origin", "https://cuddlekube.example:8443"),
                ("host", "cuddlekube.example"),
            ],
            &[
                ("origin", "https://cuddlekube.example.evil.example"),
                ("host", "cuddlekube.example"),
            ],
            &[("origin", "https://evil.example")],
            &[("origin", "not a url"), ("host", "cuddlekube.example")],
            &[("origin", "file:///"), ("host", "cuddlekube.example")],
        ] {
            assert!(post(pairs), "{pairs:?}");
        }
        assert!(is_cross_site(
            &Method::DELETE,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
    }

    #[test]
    fn this_site_the_visitor_and_non_browsers_are_let_through() {
        for pairs in [
            &[][..],
            &[("sec-fetch-site", "same-origin")],
            // No Origin, but the browser says same-origin.
            &[
                ("sec-fetch-site", "same-origin"),
                ("host", "cuddlekube.example"),
            ],
            &[("sec-fetch-site", "none")],
            // Behind the ALB: TLS ends there, the Host is the public name.
            &[
                ("origin", "https://cuddlekube.example"),
                ("host", "cuddlekube.example"),
            ],
            &[
                ("origin", "https://CuddleKube.example"),
                ("host", "cuddlekube.example"),
            ],
            &[
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080"),
            ],
            &[("host", "cuddlekube.example")],
        ] {
            assert!(!post(pairs), "{pairs:?}");
        }
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            let evil = headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil.example"),
            ]);
            assert!(!is_cross_site(&method, &evil), "{method} changes nothing");
        }
    }
}
