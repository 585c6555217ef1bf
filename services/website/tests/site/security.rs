//! Security headers on every kind of response, and caching of the embedded assets.

use crate::helpers::{closed_url, spawn_site, spawn_site_on};

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{what}: {csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert!(headers.contains_key("permissions-policy"), "{what}");
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let site = spawn_site().await;
    let resident = site.admit("Guarded", "t3.micro", "linux").await;
    let ckid = resident["ckid"].as_str().unwrap();
    for path in [
        "/",
        "/about",
        "/residents",
        "/register",
        "/static/site.css",
        "/favicon.ico",
        "/nowhere",
    ] {
        assert_security_headers(&site.get(path).await, path);
    }
    let feed = site
        .post_form(
            &format!("/residents/{ckid}/feed"),
            &[("return_to", "/residents")],
        )
        .await;
    assert_eq!(feed.status(), 303);
    assert_security_headers(&feed, "a redirect");
    let down = spawn_site_on(&closed_url(), &closed_url()).await;
    let response = down.get("/residents").await;
    assert_eq!(response.status(), 503);
    assert_security_headers(&response, "the 503 page");
}

#[tokio::test]
async fn static_assets_are_embedded_cached_and_revalidated_with_an_etag() {
    let site = spawn_site().await;
    for (path, content_type) in [
        ("/static/site.css", "text/css"),
        ("/static/avatars/general.svg", "image/svg+xml"),
        ("/static/logo.svg", "image/svg+xml"),
        ("/favicon.ico", "image/"),
    ] {
        let response = site.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}"
        );
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age"),
            "{path}"
        );
        let etag = headers["etag"].to_str().unwrap().to_owned();
        assert!(!response.bytes().await.unwrap().is_empty());

        let again = site.get_with(path, "if-none-match", &etag).await;
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
        let changed = site
            .get_with(path, "if-none-match", "\"something-else\"")
            .await;
        assert_eq!(changed.status(), 200, "{path}");
    }
}
