//! Security headers on every kind of response, caching of the embedded assets, and
//! state-changing requests from other sites refused.

use test_support::closed_url;

use crate::helpers::{TestApp, decoded, feed_token_in, spawn_app, spawn_app_on};

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
    let app = spawn_app().await;
    let resident = app.admit("Guarded", "t3.micro", "linux").await;
    let ckid = resident["ckid"].as_str().unwrap();
    for path in [
        "/",
        "/about",
        "/residents",
        "/register",
        "/robots.txt",
        "/static/site.css",
        "/favicon.ico",
        "/nowhere",
        &format!("/residents/{ckid}/feed"),
    ] {
        assert_security_headers(&app.get(path).await, path);
    }
    let feed = app.feed(ckid, "", "/residents").await;
    assert_eq!(feed.status(), 303);
    assert_security_headers(&feed, "a redirect");
    let refused = app
        .post_form_with(
            &format!("/residents/{ckid}/feed"),
            &[],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert_security_headers(&refused, "the 403 page");
    let down = spawn_app_on(&closed_url(), &closed_url()).await;
    let response = down.get("/residents").await;
    assert_eq!(response.status(), 503);
    assert_security_headers(&response, "the 503 page");
}

#[tokio::test]
async fn static_assets_are_embedded_cached_and_revalidated_with_an_etag() {
    let app = spawn_app().await;
    for (path, content_type) in [
        ("/static/site.css", "text/css"),
        ("/static/avatars/general.svg", "image/svg+xml"),
        ("/static/faces/beaming.svg", "image/svg+xml"),
        ("/static/logo.svg", "image/svg+xml"),
        ("/favicon.ico", "image/"),
    ] {
        let response = app.get(path).await;
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

        let again = app.get_with(path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
        let changed = app
            .get_with(path, &[("if-none-match", "\"something-else\"")])
            .await;
        assert_eq!(changed.status(), 200, "{path}");
    }
}

/// The site's own origin as a browser names it, and the Host it sends.
fn own_origin(app: &TestApp) -> (String, String) {
    (app.address.clone(), format!("127.0.0.1:{}", app.port))
}

/// issue 15: a form on another site fed residents and admitted servers.
#[tokio::test]
async fn feeding_and_admitting_from_another_site_are_refused_with_a_friendly_403() {
    let app = spawn_app().await;
    let resident = app.admit("Target", "t3.micro", "linux").await;
    let ckid = resident["ckid"].as_str().unwrap();
    let feed = format!("/residents/{ckid}/feed");
    let registration = [
        ("name", "Planted"),
        ("type", "t3.micro"),
        ("os", "linux"),
        ("idempotency_token", "evil-token"),
    ];
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[("sec-fetch-site", "cross-site")],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        // A sibling site (evil.cuddlekube.example) is another origin too.
        &[("sec-fetch-site", "same-site")],
        // A sandboxed frame or a privacy-minded redirect says only "null".
        &[("origin", "null")],
        // The public name, but another port.
        &[
            ("origin", "https://cuddlekube.example:8443"),
            ("host", "cuddlekube.example"),
        ],
    ] {
        let response = app
            .post_form_with(&feed, &[("return_to", "/")], headers)
            .await;
        assert_eq!(response.status(), 403, "feed {headers:?}");
        let html = decoded(&response.text().await.unwrap());
        assert!(
            html.contains("<h1>We didn't accept that form</h1>"),
            "{headers:?}"
        );
        assert!(html.contains("nobody was fed and nothing was admitted"));
        let response = app
            .post_form_with("/register", &registration, headers)
            .await;
        assert_eq!(response.status(), 403, "register {headers:?}");
    }
    assert_eq!(app.resident(ckid).await["feed_count"], 0, "never fed");
    assert_eq!(app.all_residents().await.len(), 1, "nothing admitted");
}

#[tokio::test]
async fn the_site_itself_the_alb_and_clients_without_a_browser_are_let_through() {
    let app = spawn_app().await;
    let resident = app.admit("Fed", "t3.micro", "linux").await;
    let ckid = resident["ckid"].as_str().unwrap();
    let (origin, host) = own_origin(&app);
    let cases: [&[(&str, &str)]; 6] = [
        // A browser on the site itself.
        &[("origin", &origin), ("sec-fetch-site", "same-origin")],
        // Same-origin without an Origin header (some browsers omit it).
        &[("sec-fetch-site", "same-origin")],
        // An older browser: Origin only, naming the host it sent the form to.
        &[("origin", &origin), ("host", &host)],
        // Behind the ALB: TLS ends there, the Host is the public name.
        &[
            ("origin", "https://cuddlekube.example"),
            ("host", "cuddlekube.example"),
        ],
        // The visitor's own doing (a bookmark, the address bar).
        &[("sec-fetch-site", "none")],
        // curl and scripts send neither.
        &[],
    ];
    for headers in cases {
        let token = feed_token_in(&app.page("/residents", 200).await, ckid);
        let response = app
            .post_form_with(
                &format!("/residents/{ckid}/feed"),
                &[("idempotency_token", &token), ("return_to", "/residents")],
                headers,
            )
            .await;
        assert_eq!(response.status(), 303, "{headers:?}");
    }
    assert_eq!(app.resident(ckid).await["feed_count"], 6);
    let token = app.form_token().await;
    let response = app
        .post_form_with(
            "/register",
            &[
                ("name", "Welcome"),
                ("type", "t3.micro"),
                ("os", "linux"),
                ("idempotency_token", &token),
            ],
            &[("origin", &origin), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(response.status(), 303);
}
