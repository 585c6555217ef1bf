//! The admittance form: labels and help, post/redirect/get to the thank-you page, errors
//! beside their fields with the input kept, and one admission per token.

use crate::helpers::{spawn_site, token_in};

#[tokio::test]
async fn the_form_has_labelled_fields_with_help_and_a_token() {
    let site = spawn_site().await;
    let html = site.page("/register", 200).await;
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
    assert_ne!(
        token_in(&html),
        token_in(&site.page("/register", 200).await)
    );
}

#[tokio::test]
async fn a_registration_redirects_to_the_thank_you_page() {
    let site = spawn_site().await;
    let html = site.page("/register", 200).await;
    let token = token_in(&html);
    let response = site
        .post_form(
            "/register",
            &[
                ("name", "foo foo cuddly poops"),
                ("type", "m2.xlarge"),
                ("service", "10"),
                ("petname", "sven"),
                ("os", "linux"),
                ("idempotency_token", &token),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/register/thanks?ckid="), "{location}");
    let thanks = site.page(&location, 200).await;
    assert!(thanks.contains("foo foo cuddly poops has moved in"));
    assert!(thanks.contains("<dd>10 years</dd>"));
    assert!(thanks.contains("known as “sven”"));

    let residents = site.all_residents().await;
    assert_eq!(residents.len(), 1);
    assert_eq!(residents[0]["service"], 10);
    assert_eq!(residents[0]["petname"], "sven");

    assert_eq!(
        site.get("/register/thanks?ckid=01KAS5V3TPJ6B4ZQ8M2N7R1XYC")
            .await
            .status(),
        404
    );
    assert_eq!(site.get("/register/thanks").await.status(), 404);
}

#[tokio::test]
async fn invalid_input_comes_back_with_every_error_beside_its_field_and_the_input_kept() {
    let site = spawn_site().await;
    let token = token_in(&site.page("/register", 200).await);
    let long_pet = "p".repeat(40);
    let response = site
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
    let html = response.text().await.unwrap();
    for id in ["name", "service", "petname", "os"] {
        assert!(
            html.contains(&format!("<p class=\"error\" id=\"{id}-error\">")),
            "{id}"
        );
        assert!(
            html.contains(&format!("aria-describedby=\"{id}-help {id}-error\"")),
            "{id}"
        );
        assert!(
            html.contains(&format!("<a href=\"#{id}\">")),
            "{id} in the summary"
        );
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
    assert!(site.all_residents().await.is_empty());

    // Fixed, the same token admits.
    let response = site
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
    let site = spawn_site().await;
    let token = token_in(&site.page("/register", 200).await);
    let form = [
        ("name", "Twice"),
        ("type", "c4.large"),
        ("service", "2"),
        ("petname", "echo"),
        ("os", "linux"),
        ("idempotency_token", token.as_str()),
    ];
    let (first, second) = tokio::join!(
        site.post_form("/register", &form),
        site.post_form("/register", &form)
    );
    assert_eq!(first.status(), 303);
    assert_eq!(second.status(), 303);
    assert_eq!(first.headers()["location"], second.headers()["location"]);
    let third = site.post_form("/register", &form).await;
    assert_eq!(third.headers()["location"], first.headers()["location"]);
    assert_eq!(site.all_residents().await.len(), 1);
}

#[tokio::test]
async fn a_token_reused_with_other_details_gets_a_clear_message_and_a_new_token() {
    let site = spawn_site().await;
    let token = token_in(&site.page("/register", 200).await);
    let mut form = vec![
        ("name", "First"),
        ("type", "c4.large"),
        ("service", "2"),
        ("petname", ""),
        ("os", "linux"),
        ("idempotency_token", token.as_str()),
    ];
    assert_eq!(site.post_form("/register", &form).await.status(), 303);
    form[0] = ("name", "Second");
    let response = site.post_form("/register", &form).await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(html.contains("already sent once with different details"));
    assert!(html.contains("value=\"Second\""));
    let fresh = token_in(&html);
    assert_ne!(fresh, token);
    form[5] = ("idempotency_token", fresh.as_str());
    assert_eq!(site.post_form("/register", &form).await.status(), 303);
    assert_eq!(site.all_residents().await.len(), 2);
}
