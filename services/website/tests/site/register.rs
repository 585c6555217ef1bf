//! The admittance form: labels and help, post/redirect/get to the thank-you page, errors
//! beside their fields in the site's words with the input kept, one admission per
//! token, and a page that says what to fix whatever register answers.

use crate::helpers::{spawn_app, text_of, token_in};

#[tokio::test]
async fn the_form_has_labelled_fields_with_help_and_a_token_and_is_never_stored() {
    let app = spawn_app().await;
    let response = app.get("/register").await;
    assert_eq!(response.status(), 200);
    // Back to the form must not bring back a used token.
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    for (id, label) in [
        ("name", "Server name"),
        ("type", "Server type"),
        ("service", "Years in service"),
        ("petname", "Pet name"),
        ("os", "Operating system"),
    ] {
        assert!(
            html.contains(&format!("<label for=\"{id}\">{label}")),
            "{id}"
        );
        assert!(html.contains(&format!("id=\"{id}\" name=\"{id}\"")), "{id}");
        assert!(
            html.contains(&format!("aria-describedby=\"{id}-help\"")),
            "{id}"
        );
    }
    assert_eq!(token_in(&html).len(), 26, "a ULID");
    assert_ne!(token_in(&html), app.form_token().await);
}

#[tokio::test]
async fn a_registration_redirects_to_the_thank_you_page() {
    let app = spawn_app().await;
    let response = app
        .register(&[
            ("name", "foo foo cuddly poops"),
            ("type", "m2.xlarge"),
            ("service", "10"),
            ("petname", "sven"),
            ("os", "linux"),
        ])
        .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/register/thanks?ckid="), "{location}");
    let thanks = app.page(&location, 200).await;
    assert!(thanks.contains("foo foo cuddly poops has moved in"));
    assert!(thanks.contains("<dd>10 years</dd>"));
    assert!(thanks.contains("known as “sven”"));

    let residents = app.all_residents().await;
    assert_eq!(residents.len(), 1);
    assert_eq!(residents[0]["service"], 10);
    assert_eq!(residents[0]["petname"], "sven");

    assert_eq!(
        app.get("/register/thanks?ckid=01KAS5V3TPJ6B4ZQ8M2N7R1XYC")
            .await
            .status(),
        404
    );
    assert_eq!(app.get("/register/thanks").await.status(), 404);
}

/// The message beside a field.
fn error_for(html: &str, id: &str) -> String {
    let marker = format!(
        "<p class=\"error\" id=\"{id}-error\"><span class=\"visually-hidden\">Error:</span> "
    );
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no error for {id}"))
        + marker.len();
    html[start..start + html[start..].find("</p>").unwrap()].to_owned()
}

#[tokio::test]
async fn invalid_input_comes_back_in_the_sites_words_beside_each_field_with_the_input_kept() {
    let app = spawn_app().await;
    let token = app.form_token().await;
    let long_pet = "p".repeat(40);
    let response = app
        .post_form(
            "/register",
            &[
                ("name", "   "),
                ("type", "t3.micro"),
                ("service", "ten <b>"),
                ("petname", &long_pet),
                ("os", ""),
                ("idempotency_token", &token),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    // Each message names the field by its label, as a sentence, in the site's words;
    // the specific one once register sends a `code`, the field's rule until then.
    for (id, specific, fallback) in [
        (
            "name",
            "Please enter the server name.",
            "Please check the server name: it should be 1 to 64 characters.",
        ),
        (
            "service",
            "Years in service must be a whole number, for example 7.",
            "Please check the years in service: it should be a whole number from 0 to 100, or left empty.",
        ),
        (
            "petname",
            "The pet name can be at most 32 characters long, and this one has 40. Please shorten it.",
            "Please check the pet name: it should be at most 32 characters, or left empty.",
        ),
        (
            "os",
            "Please enter the operating system, for example linux.",
            "Please check the operating system: it should be 1 to 32 characters.",
        ),
    ] {
        let message = error_for(&html, id);
        assert!(
            message == specific || message == fallback,
            "{id}: {message}"
        );
        assert!(
            html.contains(&format!("aria-describedby=\"{id}-help {id}-error\"")),
            "{id}"
        );
        assert!(
            html.contains(&format!("<a href=\"#{id}\">{message}</a>")),
            "{id} in the summary"
        );
    }
    // register's own words never reach the page.
    for raw in [
        "name is required",
        "must be at most",
        "whole number (got",
        "os is required",
    ] {
        assert!(!html.contains(raw), "shows {raw:?}");
    }
    assert!(!html.contains("id=\"type-error\""), "the type was fine");
    assert!(html.contains("value=\"t3.micro\""));
    assert!(
        html.contains("value=\"ten &#60;b&#62;\""),
        "input kept, escaped"
    );
    assert!(html.contains(&format!("value=\"{long_pet}\"")));
    assert_eq!(
        token_in(&html),
        token,
        "a refused registration keeps its token"
    );
    assert!(app.all_residents().await.is_empty());

    // Fixed, the same token admits.
    let response = app
        .post_form(
            "/register",
            &[
                ("name", "Fixed"),
                ("type", "t3.micro"),
                ("service", "3"),
                ("petname", "pip"),
                ("os", "linux"),
                ("idempotency_token", &token),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn a_double_submit_with_one_token_admits_once() {
    let app = spawn_app().await;
    let token = app.form_token().await;
    let form = [
        ("name", "Twice"),
        ("type", "c4.large"),
        ("service", "2"),
        ("petname", "echo"),
        ("os", "linux"),
        ("idempotency_token", token.as_str()),
    ];
    let (first, second) = tokio::join!(
        app.post_form("/register", &form),
        app.post_form("/register", &form)
    );
    assert_eq!(first.status(), 303);
    assert_eq!(second.status(), 303);
    assert_eq!(first.headers()["location"], second.headers()["location"]);
    let third = app.post_form("/register", &form).await;
    assert_eq!(third.headers()["location"], first.headers()["location"]);
    assert_eq!(app.all_residents().await.len(), 1);
}

/// The usual way to reuse a token: admit, press Back, change the name, send. The page
/// says the first server moved in, not that something went wrong.
#[tokio::test]
async fn a_token_reused_with_other_details_says_the_first_moved_in_and_offers_a_new_form() {
    let app = spawn_app().await;
    let token = app.form_token().await;
    let mut form = vec![
        ("name", "First"),
        ("type", "c4.large"),
        ("service", "2"),
        ("petname", ""),
        ("os", "linux"),
        ("idempotency_token", token.as_str()),
    ];
    assert_eq!(app.post_form("/register", &form).await.status(), 303);
    form[0] = ("name", "Second");
    let response = app.post_form("/register", &form).await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(html.contains("<div class=\"notice notice-info\" role=\"status\""));
    assert_eq!(
        text_of(&html, "notice notice-info").as_deref(),
        Some(
            "This form was already used The server you sent with this form before has moved \
             in. To admit another server, check the details below and press “Request \
             admittance”: it will be a new request."
        )
    );
    assert!(!html.contains("error-summary"), "not an error");
    assert!(html.contains("value=\"Second\""));
    let fresh = token_in(&html);
    assert_ne!(fresh, token);
    form[5] = ("idempotency_token", fresh.as_str());
    assert_eq!(app.post_form("/register", &form).await.status(), 303);
    assert_eq!(app.all_residents().await.len(), 2);
}

/// issue 15: a token with a control character used to become a header reqwest could
/// not build, shown as the 503 page and logged as an outage.
#[tokio::test]
async fn a_token_with_a_control_character_is_an_expired_form_like_a_too_long_one() {
    let app = spawn_app().await;
    let too_long = "k".repeat(129);
    let too_long = format!("idempotency_token={too_long}");
    for token in [
        "idempotency_token=a%0Ab",
        "idempotency_token=a%01b",
        "idempotency_token=a%7Fb",
        "idempotency_token=a%20b",
        too_long.as_str(),
    ] {
        let body = format!("name=Kept&type=t3.micro&os=linux&{token}");
        let response = app.post_body("/register", &body, &[]).await;
        assert_eq!(response.status(), 400, "{token}");
        let html = response.text().await.unwrap();
        assert_eq!(
            text_of(&html, "notice notice-warning").as_deref(),
            Some(
                "This form had expired Nothing was sent. Please check the details below and \
                 send the form again."
            ),
            "{token}"
        );
        assert!(html.contains("value=\"Kept\""), "{token}: input kept");
        assert_eq!(token_in(&html).len(), 26, "{token}: a fresh token");
    }
    assert!(app.all_residents().await.is_empty());
}

/// issue 15: a form under the site's 16 KiB whose JSON is over register's (every %01
/// becomes `\u0001`) made register answer 413, which the site showed as its 500 page.
#[tokio::test]
async fn a_form_too_large_for_register_asks_to_shorten_it() {
    let app = spawn_app().await;
    let token = app.form_token().await;
    let body = format!(
        "name={}&type=t3.micro&os=linux&idempotency_token={token}",
        "%01".repeat(4000)
    );
    assert!(body.len() < 16 * 1024);
    let response = app.post_body("/register", &body, &[]).await;
    assert_eq!(response.status(), 413);
    let html = response.text().await.unwrap();
    let notice = text_of(&html, "notice notice-error").unwrap();
    assert!(
        notice.starts_with("That is more than we can take in Together, the details are too long"),
        "{notice}"
    );
    assert!(html.contains("value=\"t3.micro\""), "input kept");
    assert_eq!(
        token_in(&html),
        token,
        "nothing was admitted: the token is kept"
    );
    assert!(app.all_residents().await.is_empty());
}

#[tokio::test]
async fn a_form_larger_than_the_site_takes_gets_a_page_not_a_problem_document() {
    let app = spawn_app().await;
    let body = format!("name={}&type=t3.micro&os=linux", "n".repeat(20 * 1024));
    for path in ["/register", "/residents/01KAS5V3TPJ6B4ZQ8M2N7R1XYC/feed"] {
        let response = app.post_body(path, &body, &[]).await;
        assert_eq!(response.status(), 413, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(response.headers().contains_key("content-security-policy"));
        let html = crate::helpers::decoded(&response.text().await.unwrap());
        assert!(
            html.contains("<h1>That is more than we can take in</h1>"),
            "{path}"
        );
    }
    assert!(app.all_residents().await.is_empty());
}
