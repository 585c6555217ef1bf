//! A cursor that was tampered with, cut short, or carried to another filter is a 400
//! problem, never a 500.

use reqwest::StatusCode;

use crate::helpers::{TestApp, detail, json_ok, problem, spawn_app};

/// Lists one page and returns its `next_cursor`.
async fn next_cursor(app: &TestApp, query: &str) -> String {
    let page = json_ok(app.list(query).await).await;
    page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned()
}

async fn assert_refused(app: &TestApp, query: &str) {
    let body = problem(app.list(query).await, StatusCode::BAD_REQUEST).await;
    assert!(
        detail(&body).contains("cursor"),
        "{query}: the detail does not name the cursor: {body}"
    );
}

/// `text` with the character at `pos` replaced by another URL-safe one.
fn with_char_changed(text: &str, pos: usize) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    chars[pos] = if chars[pos] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn a_tampered_cursor_is_refused() {
    let app = spawn_app().await;
    app.insert_residents(5, |_| "linux").await;
    let cursor = next_cursor(&app, "limit=2").await;

    for pos in [
        0,
        cursor.len() / 3,
        cursor.find('.').unwrap() + 1,
        cursor.len() - 1,
    ] {
        let edited = with_char_changed(&cursor, pos);
        assert_refused(&app, &format!("limit=2&cursor={edited}")).await;
    }

    // The genuine cursor still works.
    let page = json_ok(app.list(&format!("limit=2&cursor={cursor}")).await).await;
    assert_eq!(page["servers"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_truncated_cursor_is_refused() {
    let app = spawn_app().await;
    app.insert_residents(5, |_| "linux").await;
    let cursor = next_cursor(&app, "limit=2").await;
    let dot = cursor.find('.').unwrap();

    for cut in [
        &cursor[..cursor.len() - 1],
        &cursor[..dot + 1],
        &cursor[..dot],
        &cursor[..5],
    ] {
        assert_refused(&app, &format!("limit=2&cursor={cut}")).await;
    }
}

#[tokio::test]
async fn a_cursor_from_another_filter_is_refused() {
    let app = spawn_app().await;
    app.insert_residents(9, |i| if i % 2 == 0 { "windows" } else { "linux" })
        .await;
    let windows = next_cursor(&app, "limit=2&os=windows").await;
    let unfiltered = next_cursor(&app, "limit=2").await;

    assert_refused(&app, &format!("limit=2&cursor={windows}")).await;
    assert_refused(&app, &format!("limit=2&os=linux&cursor={windows}")).await;
    assert_refused(&app, &format!("limit=2&os=windows&cursor={unfiltered}")).await;

    // The same filter, spelled in another case, is the same listing.
    json_ok(
        app.list(&format!("limit=2&os=Windows&cursor={windows}"))
            .await,
    )
    .await;
}

#[tokio::test]
async fn made_up_cursors_are_refused() {
    let app = spawn_app().await;

    for made_up in ["garbage", ".", "e30.AAAA", "%00%01", &"a".repeat(600)] {
        assert_refused(&app, &format!("cursor={made_up}")).await;
    }
}
