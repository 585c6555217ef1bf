//! Every page's HTML, as the site sends it, through the Nu HTML checker: no errors.

use crate::checkers::check_html;
use crate::helpers::{TestApp, feed_token_in, token_in};
use crate::showcase::Showcase;

async fn html_of(response: reqwest::Response, expected: u16, name: &str) -> String {
    assert_eq!(response.status(), expected, "{name}");
    response.text().await.expect("a body")
}

async fn get(app: &TestApp, path: &str, expected: u16, name: &str) -> String {
    html_of(app.get(path).await, expected, name).await
}

fn form<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn every_page_is_valid_html() {
    let show = Showcase::build().await;
    let app = &show.app;
    let long = &show.long_ckid;
    let mut pages: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, html: String| pages.push((name.to_owned(), html));

    add("home", get(app, "/", 200, "home").await);
    add("about", get(app, "/about", 200, "about").await);
    let residents = get(app, "/residents", 200, "residents").await;
    let next = {
        let at = residents.find("rel=\"next\"").expect("a second page");
        let start = residents[..at].rfind("href=\"").unwrap() + 6;
        residents[start..start + residents[start..].find('"').unwrap()].replace("&#38;", "&")
    };
    let token = feed_token_in(&residents, long);
    add("residents", residents);
    add("residents-page-2", get(app, &next, 200, "page 2").await);
    let os = crate::showcase::LONG_OS;
    add(
        "residents-filtered",
        get(app, &format!("/residents?os={os}"), 200, "filtered").await,
    );
    add(
        "residents-none",
        get(app, "/residents?os=plan9", 200, "none").await,
    );
    let fed = app.feed(long, &token, "/residents").await;
    let location = fed.headers()["location"].to_str().unwrap().to_owned();
    add("residents-fed", get(app, &location, 200, "fed").await);
    let resident = get(app, &format!("/residents/{long}"), 200, "resident").await;
    let token = feed_token_in(&resident, long);
    add("resident", resident);
    let fed = app.feed(long, &token, &format!("/residents/{long}")).await;
    let location = fed.headers()["location"].to_str().unwrap().to_owned();
    add(
        "resident-fed",
        get(app, &location, 200, "resident fed").await,
    );

    add("register", get(app, "/register", 200, "register").await);
    let token = app.form_token().await;
    let invalid = Showcase::invalid_registration(&token);
    let response = app.post_form("/register", &form(&invalid)).await;
    add(
        "register-errors",
        html_of(response, 422, "register errors").await,
    );
    let valid = Showcase::valid_registration(&token);
    let response = app.post_form("/register", &form(&valid)).await;
    assert_eq!(response.status(), 303);
    let thanks = response.headers()["location"].to_str().unwrap().to_owned();
    add("thanks", get(app, &thanks, 200, "thanks").await);
    let mut reused = Showcase::valid_registration(&token);
    reused[0].1 = "Another".to_owned();
    let response = app.post_form("/register", &form(&reused)).await;
    add(
        "register-conflict",
        html_of(response, 409, "conflict").await,
    );
    let body = "name=Kept&type=t3.micro&os=linux&idempotency_token=a%0Ab";
    let response = app.post_body("/register", body, &[]).await;
    add("register-expired", html_of(response, 400, "expired").await);
    let body = format!(
        "name={}&type=t3.micro&os=linux&idempotency_token={}",
        "%01".repeat(4000),
        app.form_token().await
    );
    let response = app.post_body("/register", &body, &[]).await;
    add(
        "register-too-large",
        html_of(response, 413, "too large").await,
    );

    add("not-found", get(app, "/nowhere", 404, "404").await);
    add(
        "bad-link",
        get(app, "/residents?cursor=x.y", 400, "400").await,
    );
    add(
        "method-not-allowed",
        get(app, &format!("/residents/{long}/feed"), 405, "405").await,
    );
    let response = app
        .post_form_with(
            &format!("/residents/{long}/feed"),
            &[],
            &[("origin", "https://evil.example")],
        )
        .await;
    add("cross-site", html_of(response, 403, "403").await);
    let response = app.feed(long, "a b", "/residents").await;
    add("feed-expired", html_of(response, 400, "feed expired").await);

    add(
        "unavailable",
        get(&show.down, "/residents", 503, "503").await,
    );
    let token = feed_token_in(
        &get(&show.resting, "/residents", 200, "resting").await,
        crate::helpers::FAKE_CKID,
    );
    let response = show
        .resting
        .feed(crate::helpers::FAKE_CKID, &token, "/residents")
        .await;
    add(
        "feed-not-sent",
        html_of(response, 503, "feed not sent").await,
    );
    let token = show.resting.form_token().await;
    let response = show
        .resting
        .post_form("/register", &form(&Showcase::valid_registration(&token)))
        .await;
    add(
        "register-unavailable",
        html_of(response, 503, "register down").await,
    );
    let response = show
        .unsure
        .feed(crate::helpers::FAKE_CKID, "t", "/residents")
        .await;
    add(
        "feed-unconfirmed",
        html_of(response, 503, "feed unknown").await,
    );
    let token = token_in(&get(&show.unsure, "/register", 200, "form").await);
    let response = show
        .unsure
        .post_form("/register", &form(&Showcase::valid_registration(&token)))
        .await;
    add(
        "register-unconfirmed",
        html_of(response, 503, "register unknown").await,
    );
    add("busy", get(&show.busy, "/residents", 503, "busy").await);
    let internal = reqwest::get(&show.internal_error_url).await.unwrap();
    add("internal-error", html_of(internal, 500, "500").await);

    let names: Vec<String> = pages.iter().map(|(name, _)| name.clone()).collect();
    let messages = check_html(&pages);
    for message in &messages {
        eprintln!(
            "{} [{}] {} — {}",
            message.page, message.kind, message.message, message.extract
        );
    }
    let errors: Vec<_> = messages
        .iter()
        .filter(|m| m.kind.starts_with("error") || m.kind.starts_with("non-document-error"))
        .collect();
    assert!(
        errors.is_empty(),
        "{} HTML errors in {names:?}",
        errors.len()
    );
    assert_eq!(pages.len(), 27, "every page checked: {names:?}");
}
