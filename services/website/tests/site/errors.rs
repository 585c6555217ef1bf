//! When an API is down, answers 503, does not know whether a write happened, or answers
//! anything else: the visitor gets a page that says what happened and what to do, with
//! a trace ID to quote and a "Try again" that is safe; never a 500, never a blank page.

use std::time::Duration;

use axum::http::StatusCode;
use service_kit::Limits;
use test_support::closed_url;

use crate::helpers::{
    FAKE_CKID, TestApp, decoded, failing_api, fake_api, spawn_app, spawn_app_on,
    spawn_app_with_limits, spawn_fake_api, text_of, token_in, tokens_in,
};

/// What both APIs answer for a write whose outcome they do not know.
const OUTCOME_UNKNOWN: &str =
    "https://github.com/cuddlekube/cuddlekube/blob/main/docs/problems.md#outcome-unknown";

/// The trace ID a page asks the visitor to quote.
fn trace_id_in(html: &str, what: &str) -> String {
    let marker = "<code class=\"trace-id\">";
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{what}: no trace ID"))
        + marker.len();
    let trace_id = html[at..at + html[at..].find('<').unwrap()].to_owned();
    assert!(
        trace_id.starts_with("1-") && trace_id.len() == 35,
        "{what}: {trace_id}"
    );
    trace_id
}

fn assert_nothing_internal(html: &str, what: &str) {
    for internal in [
        "reqwest",
        "127.0.0.1",
        "Connection refused",
        "tcp",
        "builder error",
    ] {
        assert!(!html.contains(internal), "{what}: shows {internal:?}");
    }
}

async fn assert_friendly_503(response: reqwest::Response, what: &str) -> String {
    assert_eq!(response.status(), 503, "{what}");
    assert_eq!(response.headers()["retry-after"], "30", "{what}");
    assert!(
        response.headers().contains_key("content-security-policy"),
        "{what}"
    );
    let html = decoded(&response.text().await.unwrap());
    trace_id_in(&html, what);
    assert_nothing_internal(&html, what);
    html
}

/// A valid admission form with this token, sent to the site.
async fn post_registration(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_form(
        "/register",
        &[
            ("name", "Kept Name"),
            ("type", "t2.micro"),
            ("service", "7"),
            ("petname", "kept"),
            ("os", "linux"),
            ("idempotency_token", token),
        ],
    )
    .await
}

fn assert_form_kept(html: &str, token: &str, what: &str) {
    for value in ["Kept Name", "t2.micro", "7", "kept", "linux"] {
        assert!(
            html.contains(&format!("value=\"{value}\"")),
            "{what}: {value} kept"
        );
    }
    assert_eq!(token_in(html), token, "{what}: the same token");
}

/// The "Try again" form of a feeding: the same token, back to the same place.
fn assert_feed_retry(html: &str, token: &str, return_to: &str, what: &str) {
    assert!(
        html.contains(&format!(
            "<form class=\"retry\" method=\"post\" action=\"/residents/{FAKE_CKID}/feed\""
        )),
        "{what}: a retry form"
    );
    assert_eq!(tokens_in(html), [token], "{what}: the same token");
    assert!(
        html.contains(&format!("name=\"return_to\" value=\"{return_to}\"")),
        "{what}"
    );
    assert!(html.contains(">Try again</button>"), "{what}");
}

async fn assert_rest_of_site_works(app: &TestApp) {
    for path in [
        "/",
        "/about",
        "/static/site.css",
        "/favicon.ico",
        "/register",
        "/robots.txt",
    ] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn with_the_apis_unreachable_pages_that_need_them_are_a_503_with_a_trace_id() {
    let app = spawn_app_on(&closed_url(), &closed_url()).await;
    for path in [
        "/residents",
        "/residents?os=linux",
        "/residents/01KAS5V3TPJ6B4ZQ8M2N7R1XYC",
        "/register/thanks?ckid=01KAS5V3TPJ6B4ZQ8M2N7R1XYC",
    ] {
        let html = assert_friendly_503(app.get(path).await, path).await;
        assert!(html.contains("The residents are resting"), "{path}");
        assert!(html.contains("Nothing is lost"), "{path}");
        // "Try again" loads the same address again.
        assert!(
            html.contains("<a class=\"button\" href=\"\">Try again</a>"),
            "{path}"
        );
    }
    let response = app
        .feed(FAKE_CKID, "feed-token-1", "/residents?os=linux")
        .await;
    let html = assert_friendly_503(response, "feed").await;
    assert!(
        html.contains("so nobody was fed. Nothing is lost"),
        "{html}"
    );
    assert_feed_retry(&html, "feed-token-1", "/residents?os=linux", "feed");
    assert_rest_of_site_works(&app).await;
    // Readiness says so too.
    assert_eq!(app.get("/ready").await.status(), 503);
}

#[tokio::test]
async fn with_register_down_the_form_comes_back_with_the_input_and_a_clear_message() {
    let app = spawn_app_on(&closed_url(), &closed_url()).await;
    let token = app.form_token().await;
    let response = post_registration(&app, &token).await;
    let html = assert_friendly_503(response, "register").await;
    let notice = text_of(&html, "notice notice-warning").unwrap();
    assert!(
        notice.starts_with(
            "We couldn't send your request The part of Cuddle Kube that admits residents \
             isn't answering right now, so nothing was admitted. Nothing is lost"
        ),
        "{notice}"
    );
    assert_form_kept(&html, &token, "register down");
    assert!(html.contains(">Request admittance</button>"));
}

#[tokio::test]
async fn an_api_answering_503_is_a_503_page_too() {
    let url = spawn_fake_api(failing_api(503)).await;
    let app = spawn_app_on(&url, &url).await;
    let html = assert_friendly_503(app.get("/residents").await, "listing 503").await;
    assert!(html.contains("The residents are resting"));
    let token = app.form_token().await;
    let html = assert_friendly_503(post_registration(&app, &token).await, "register 503").await;
    assert!(html.contains("so nothing was admitted"));
    assert_form_kept(&html, &token, "register 503");
    assert_rest_of_site_works(&app).await;
}

#[tokio::test]
async fn a_feeding_whose_outcome_is_unknown_is_not_called_lost_and_can_be_tried_again() {
    let url = spawn_fake_api(fake_api(503, OUTCOME_UNKNOWN)).await;
    let app = spawn_app_on(&url, &url).await;
    let response = app.feed(FAKE_CKID, "feed-token-2", "/residents").await;
    let html = assert_friendly_503(response, "feed, outcome unknown").await;
    let lead = text_of(&html, "lead").unwrap();
    assert_eq!(
        lead,
        "Your feeding reached us, but we couldn't confirm whether it happened. Trying again \
         is safe: the resident will not be fed twice. If it keeps happening, tell us the \
         reference below so we can follow your request."
    );
    assert!(!html.contains("Nothing is lost") && !html.contains("nobody was fed"));
    assert!(html.contains("<h1>We couldn't confirm the feeding</h1>"));
    assert_feed_retry(&html, "feed-token-2", "/residents", "feed, outcome unknown");
}

#[tokio::test]
async fn an_admission_whose_outcome_is_unknown_keeps_the_form_and_token_to_try_again() {
    let url = spawn_fake_api(fake_api(503, OUTCOME_UNKNOWN)).await;
    let app = spawn_app_on(&url, &url).await;
    let token = app.form_token().await;
    let html = assert_friendly_503(post_registration(&app, &token).await, "admission").await;
    let notice = text_of(&html, "notice notice-warning").unwrap();
    assert_eq!(
        notice,
        format!(
            "We couldn't confirm your request Your request reached us, but we couldn't \
             confirm whether Kept Name was admitted. Trying again is safe: it will not be \
             admitted twice. Reference to quote: {}",
            trace_id_in(&html, "admission")
        )
    );
    assert!(!html.contains("nothing was admitted") && !html.contains("Nothing is lost"));
    assert_form_kept(&html, &token, "admission, outcome unknown");
    assert!(html.contains(">Try again</button>"));
}

/// Every status an API may answer a write with becomes a page that says what to do:
/// never the 500 page (issue 15: register's 413 used to be one).
#[tokio::test]
async fn no_answer_of_an_api_becomes_a_500() {
    for status in [
        400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429, 500, 501, 502, 503, 504, 301,
    ] {
        let url = spawn_fake_api(fake_api(status, "about:blank")).await;
        let app = spawn_app_on(&url, &url).await;
        let token = app.form_token().await;
        let response = post_registration(&app, &token).await;
        let register = response.status();
        let html = response.text().await.unwrap();
        assert!(register != 500, "register {status} → {register}");
        assert!(
            html.contains("id=\"notice-title\"") || html.contains("error-summary"),
            "register {status}: a word above the form"
        );
        assert!(
            html.contains("value=\"Kept Name\""),
            "register {status}: input kept"
        );
        assert_nothing_internal(&html, &format!("register {status}"));

        let response = app.feed(FAKE_CKID, "t", "/residents").await;
        let feed = response.status();
        let html = response.text().await.unwrap();
        assert!(feed != 500, "feed {status} → {feed}");
        assert!(html.contains("<h1>"), "feed {status}: a page");
        assert_nothing_internal(&html, &format!("feed {status}"));

        let reads = spawn_fake_api(failing_api(status)).await;
        let app = spawn_app_on(&reads, &reads).await;
        for path in ["/residents", &format!("/residents/{FAKE_CKID}")] {
            let response = app.get(path).await;
            let read = response.status();
            assert!(read != 500, "GET {path}, API {status} → {read}");
            assert!(
                response.text().await.unwrap().contains("<h1>"),
                "{path} {status}"
            );
        }
    }
}

#[tokio::test]
async fn each_refusal_of_a_write_says_what_to_fix() {
    for (status, site_status, register_says, feed_says) in [
        (
            400,
            400,
            "This form had expired",
            "That feed button had expired",
        ),
        (
            409,
            409,
            "This form was already used",
            "That feed button had expired",
        ),
        (
            413,
            413,
            "That is more than we can take in",
            "That feed button had expired",
        ),
        (
            415,
            400,
            "We couldn't accept the form",
            "That feed button had expired",
        ),
        (
            422,
            422,
            "Please check the form",
            "That feed button had expired",
        ),
        (
            500,
            503,
            "We couldn't confirm your request",
            "We couldn't confirm the feeding",
        ),
        (
            404,
            400,
            "We couldn't accept the form",
            "We couldn't find that page",
        ),
    ] {
        let url = spawn_fake_api(fake_api(status, "about:blank")).await;
        let app = spawn_app_on(&url, &url).await;
        let token = app.form_token().await;
        let response = post_registration(&app, &token).await;
        assert_eq!(response.status(), site_status, "register {status}");
        let html = decoded(&response.text().await.unwrap());
        assert!(html.contains(register_says), "register {status}");
        let response = app.feed(FAKE_CKID, "t", "/residents").await;
        let html = decoded(&response.text().await.unwrap());
        assert!(html.contains(feed_says), "feed {status}: {html}");
    }
}

#[tokio::test]
async fn the_website_sends_each_feed_buttons_token_as_the_idempotency_key() {
    let (keys_tx, mut keys) = tokio::sync::mpsc::unbounded_channel::<Option<String>>();
    let api = crate::helpers::fake_reads().route(
        "/v1/servers/{ckid}/feed",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let keys_tx = keys_tx.clone();
            async move {
                let key = headers
                    .get("idempotency-key")
                    .map(|v| v.to_str().unwrap().to_owned());
                keys_tx.send(key).unwrap();
                axum::Json(crate::helpers::fake_resident())
            }
        }),
    );
    let url = spawn_fake_api(api).await;
    let app = spawn_app_on(&url, &url).await;
    let html = app.page("/residents", 200).await;
    let token = crate::helpers::feed_token_in(&html, FAKE_CKID);
    assert_eq!(
        app.feed(FAKE_CKID, &token, "/residents").await.status(),
        303
    );
    assert_eq!(keys.recv().await.unwrap(), Some(token));
    // A client sending no token sends no key (the API's own behaviour applies).
    assert_eq!(app.feed(FAKE_CKID, "", "/residents").await.status(), 303);
    assert_eq!(keys.recv().await.unwrap(), None);
    // A token the site did not write never reaches the API.
    let response = app.feed(FAKE_CKID, "a\nb", "/residents").await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("That feed button had expired"));
    assert!(html.contains(&format!(
        "href=\"/residents/{FAKE_CKID}\">Go to the resident"
    )));
    assert!(keys.try_recv().is_err(), "nothing sent");
}

#[tokio::test]
async fn unknown_pages_are_a_404_page_broken_links_a_400_and_wrong_methods_a_405() {
    let app = spawn_app().await;
    for path in [
        "/nowhere",
        "/static/nothing.css",
        "/residents/a/b",
        "/v1/servers",
    ] {
        let response = app.get(path).await;
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
    let html = app.page("/residents?cursor=tampered.cursor", 400).await;
    assert!(html.contains("That link doesn"));
    let too_long = "x".repeat(40);
    app.page(&format!("/residents?os={too_long}"), 400).await;

    // A feed button's address, visited: a page, not a blank 405.
    let response = app.get(&format!("/residents/{FAKE_CKID}/feed")).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>This address is for a button</h1>"));
    assert!(html.contains(&format!(
        "href=\"/residents/{FAKE_CKID}\">Go to the resident"
    )));
    let response = app.post_form("/about", &[]).await;
    assert_eq!(response.status(), 405);
    assert!(
        response.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("This address is for a button")
    );
}

#[tokio::test]
async fn a_request_that_runs_out_of_time_gets_the_busy_page() {
    let slow = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        StatusCode::OK
    });
    let url = spawn_fake_api(slow).await;
    let limits = Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let app = spawn_app_with_limits(&url, &url, limits).await;
    let html = assert_friendly_503(app.get("/residents").await, "busy").await;
    assert!(html.contains("<h1>We're a little busy</h1>"));
    assert!(html.contains("<a class=\"button\" href=\"\">Try again</a>"));
}
