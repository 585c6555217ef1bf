//! Every page, in a real browser, at a phone's width (390 px) and a laptop's (1280 px),
//! with residents whose names are the longest unbroken ones the APIs take: nothing
//! sticks out sideways, feed buttons hold their text, cards hold their content, and
//! axe-core finds nothing. Each page is saved as `target/screenshots/<page>-<width>.png`.

use crate::browser::{Browser, ONE_BROWSER, card_css, fill_form};
use crate::helpers::{FAKE_CKID, token_in};
use crate::showcase::{LONG_NAME, LONG_OS, LONG_PET, LONG_TYPE, Showcase, evil_site};

#[tokio::test]
async fn every_page_at_390_and_1280_px_fits_holds_long_names_and_passes_axe() {
    let _one = ONE_BROWSER.lock().await;
    let show = Showcase::build().await;
    let evil = evil_site(&show.app.url(&format!("/residents/{}/feed", show.long_ckid))).await;
    let mut browser = Browser::start().await;
    for width in [390, 1280] {
        browser.set_width(width).await;
        walk(&browser, &show, &evil).await;
    }
    // The smallest phones: the header still fits (brand above one row of links).
    browser.set_width(320).await;
    browser.goto(&show.app.url("/residents")).await;
    browser.check_page("residents").await;
    let header = browser.header_height().await;
    assert!(header < 100.0, "a compact header at 320 px: {header} px");
    browser.close().await;
}

async fn browser_is_narrow(browser: &Browser) -> bool {
    browser.number("return window.innerWidth;", vec![]).await < 700.0
}

async fn walk(browser: &Browser, show: &Showcase, evil: &str) {
    let app = &show.app;
    let long = card_css(&show.long_ckid);

    browser.goto(&app.url("/")).await;
    browser.check_page("home").await;
    browser.goto(&app.url("/about")).await;
    browser.check_page("about").await;

    browser.goto(&app.url("/residents")).await;
    assert_eq!(browser.text(&format!("{long} .card-name")).await, LONG_NAME);
    browser.check_page("residents").await;
    let header = browser.header_height().await;
    let limit = if browser_is_narrow(browser).await {
        100.0
    } else {
        80.0
    };
    assert!(header < limit, "a compact header: {header} px");
    browser.click_css("a[rel=next]").await;
    browser.wait_for_path("/residents").await;
    assert!(browser.text("h1").await.contains("Our residents"));
    browser.check_page("residents-page-2").await;
    browser.goto(&app.url("/residents")).await;
    browser
        .click_css(&format!(
            ".chips a[href='/residents?os={}']",
            LONG_OS.to_lowercase()
        ))
        .await;
    browser.wait_for_path("/residents").await;
    assert_eq!(
        browser.text("h1").await,
        format!("Residents running {LONG_OS}")
    );
    browser.check_page("residents-filtered").await;
    browser.goto(&app.url("/residents?os=plan9")).await;
    assert!(
        browser
            .text(".empty")
            .await
            .starts_with("No resident runs plan9.")
    );
    browser.check_page("residents-none").await;

    // Feeding the long-named resident: back at its card, which says so.
    browser.goto(&app.url("/residents")).await;
    browser.click_css(&format!("{long} .button-feed")).await;
    let note = browser.text(&format!("{long} .fed-note")).await;
    assert!(
        note.starts_with(&format!("You fed {LONG_NAME}. Happiness went up from")),
        "{note}"
    );
    browser.check_page("residents-fed").await;

    browser
        .goto(&app.url(&format!("/residents/{}", show.long_ckid)))
        .await;
    assert_eq!(browser.text("h1").await, LONG_NAME);
    assert!(browser.text(".petname").await.contains(LONG_PET));
    assert!(browser.text(".bio").await.contains(LONG_TYPE));
    browser.check_page("resident").await;
    browser.click_css(".profile .button-feed").await;
    let note = browser.text(".profile .fed-note").await;
    assert!(note.starts_with(&format!("You fed {LONG_NAME}.")), "{note}");
    browser.check_page("resident-fed").await;

    browser.goto(&app.url("/register")).await;
    browser.check_page("register").await;
    let token = token_in(&browser.source().await);
    let invalid = Showcase::invalid_registration(&token);
    fill_form(
        browser,
        &invalid[0].1,
        &invalid[1].1,
        &invalid[2].1,
        &invalid[3].1,
        &invalid[4].1,
    )
    .await;
    browser.click("submit").await;
    let error = browser.text("#type-error").await;
    assert!(error.contains("server type"), "{error}");
    assert!(browser.text("#name-error").await.contains("server name"));
    assert_eq!(browser.value("name").await, invalid[0].1, "input kept");
    browser.check_page("register-errors").await;

    fill_form(browser, LONG_NAME, LONG_TYPE, "12", LONG_PET, LONG_OS).await;
    browser.click("submit").await;
    browser.wait_for_path("/register/thanks").await;
    assert_eq!(
        browser.text("h1").await,
        format!("Thank you! {LONG_NAME} has moved in.")
    );
    browser.check_page("thanks").await;

    // A form whose token was used (what Back used to bring back), with other details.
    browser.goto(&app.url("/register")).await;
    browser
        .set_value("input[name=idempotency_token]", &token)
        .await;
    fill_form(browser, "Another", LONG_TYPE, "1", "", LONG_OS).await;
    browser.click("submit").await;
    assert_eq!(
        browser.text(".notice h2").await,
        "This form was already used"
    );
    browser.check_page("register-conflict").await;
    browser
        .set_value("input[name=idempotency_token]", "a b")
        .await;
    browser.click("submit").await;
    assert_eq!(browser.text(".notice h2").await, "This form had expired");
    browser.check_page("register-expired").await;
    browser.set_value("#name", &"\u{1}".repeat(4000)).await;
    browser.click("submit").await;
    assert_eq!(
        browser.text(".notice h2").await,
        "That is more than we can take in"
    );
    browser.check_page("register-too-large").await;

    browser.goto(&app.url("/no/such/page")).await;
    assert!(browser.text("h1").await.contains("find that page"));
    browser.check_page("not-found").await;
    browser
        .goto(&app.url("/residents?cursor=tampered.cursor"))
        .await;
    assert!(browser.text("h1").await.contains("That link doesn"));
    browser.check_page("bad-link").await;
    browser
        .goto(&app.url(&format!("/residents/{}/feed", show.long_ckid)))
        .await;
    assert_eq!(browser.text("h1").await, "This address is for a button");
    browser.check_page("method-not-allowed").await;

    // A form on another site that feeds a resident: refused.
    browser.goto(evil).await;
    browser.click("claim").await;
    assert_eq!(browser.text("h1").await, "We didn't accept that form");
    browser.check_page("cross-site").await;

    browser.goto(&show.down.url("/residents")).await;
    assert!(browser.text(".trace-id").await.starts_with("1-"));
    browser.check_page("unavailable").await;
    browser.goto(&show.busy.url("/residents")).await;
    assert_eq!(browser.text("h1").await, "We're a little busy");
    browser.check_page("busy").await;

    // Writes to an API that is resting (nothing happened) and to one that does not know.
    let fake = card_css(FAKE_CKID);
    browser.goto(&show.resting.url("/residents")).await;
    browser.click_css(&format!("{fake} .button-feed")).await;
    assert!(browser.text(".lead").await.contains("so nobody was fed"));
    browser.check_page("feed-not-sent").await;
    browser.goto(&show.resting.url("/register")).await;
    fill_form(browser, LONG_NAME, LONG_TYPE, "12", LONG_PET, LONG_OS).await;
    browser.click("submit").await;
    assert_eq!(
        browser.text(".notice h2").await,
        "We couldn't send your request"
    );
    assert_eq!(browser.value("name").await, LONG_NAME, "input kept");
    browser.check_page("register-unavailable").await;
    browser.goto(&show.unsure.url("/residents")).await;
    browser.click_css(&format!("{fake} .button-feed")).await;
    assert_eq!(browser.text("h1").await, "We couldn't confirm the feeding");
    browser.check_page("feed-unconfirmed").await;
    browser.click_css("form.retry button").await;
    assert_eq!(browser.text("h1").await, "We couldn't confirm the feeding");
    browser.goto(&show.unsure.url("/register")).await;
    fill_form(browser, LONG_NAME, LONG_TYPE, "12", LONG_PET, LONG_OS).await;
    browser.click("submit").await;
    assert_eq!(
        browser.text(".notice h2").await,
        "We couldn't confirm your request"
    );
    assert_eq!(browser.text("#submit").await, "Try again");
    browser.check_page("register-unconfirmed").await;

    browser.goto(&show.internal_error_url).await;
    assert_eq!(browser.text("h1").await, "Something went wrong on our side");
    browser.check_page("internal-error").await;
}
