//! When an API is down (nothing listening, or answering 503) the pages that need it
//! answer a friendly 503 with a trace ID to quote; the rest of the site keeps working.

use axum::http::StatusCode;

use crate::helpers::{TestSite, closed_url, spawn_site, spawn_site_on};

async fn assert_friendly_503(site: &TestSite, response: reqwest::Response, what: &str) {
    let _ = site;
    assert_eq!(response.status(), 503, "{what}");
    assert!(response.headers().contains_key("retry-after"), "{what}");
    assert!(
        response.headers().contains_key("content-security-policy"),
        "{what}"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("The residents are resting"), "{what}");
    let marker = "<code class=\"trace-id\">";
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{what}: no trace ID"))
        + marker.len();
    let trace_id = &html[at..at + html[at..].find('<').unwrap()];
    assert!(
        trace_id.starts_with("1-") && trace_id.len() == 35,
        "{what}: {trace_id}"
    );
    for internal in ["reqwest", "127.0.0.1", "Connection refused", "tcp"] {
        assert!(!html.contains(internal), "{what}: shows {internal:?}");
    }
}

/// A valid admission form, sent to the site.
async fn post_registration(site: &TestSite) -> reqwest::Response {
    site.post_form(
        "/register",
        &[
            ("name", "n"),
            ("type", "t2.micro"),
            ("os", "linux"),
            ("idempotency_token", "k"),
        ],
    )
    .await
}

async fn assert_rest_of_site_works(site: &TestSite) {
    for path in [
        "/",
        "/about",
        "/static/site.css",
        "/favicon.ico",
        "/register",
    ] {
        assert_eq!(site.get(path).await.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn with_the_apis_unreachable_pages_that_need_them_are_a_503_with_a_trace_id() {
    let site = spawn_site_on(&closed_url(), &closed_url()).await;
    for path in [
        "/residents",
        "/residents?os=linux",
        "/residents/01KAS5V3TPJ6B4ZQ8M2N7R1XYC",
        "/register/thanks?ckid=01KAS5V3TPJ6B4ZQ8M2N7R1XYC",
    ] {
        assert_friendly_503(&site, site.get(path).await, path).await;
    }
    let response = site
        .post_form(
            "/residents/01KAS5V3TPJ6B4ZQ8M2N7R1XYC/feed",
            &[("return_to", "/residents")],
        )
        .await;
    assert_friendly_503(&site, response, "feed").await;
    let response = post_registration(&site).await;
    assert_friendly_503(&site, response, "register").await;
    assert_rest_of_site_works(&site).await;
    // Readiness says so too.
    assert_eq!(site.get("/ready").await.status(), 503);
}

#[tokio::test]
async fn an_api_answering_503_is_a_503_page_too() {
    let app = axum::Router::new().fallback(|| async { StatusCode::SERVICE_UNAVAILABLE });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let site = spawn_site_on(&url, &url).await;
    assert_friendly_503(&site, site.get("/residents").await, "listing 503").await;
    let response = post_registration(&site).await;
    assert_friendly_503(&site, response, "register 503").await;
    assert_rest_of_site_works(&site).await;
}

#[tokio::test]
async fn unknown_pages_are_a_404_page_and_broken_links_a_400() {
    let site = spawn_site().await;
    for path in [
        "/nowhere",
        "/static/nothing.css",
        "/residents/a/b",
        "/v1/servers",
    ] {
        let response = site.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("find that page"), "{path}");
    }
    let html = site.page("/residents?cursor=tampered.cursor", 400).await;
    assert!(html.contains("That link doesn"));
    let too_long = "x".repeat(40);
    site.page(&format!("/residents?os={too_long}"), 400).await;
}
