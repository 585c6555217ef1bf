//! `GET /v1/servers`: pages newest first, with and without the `os` filter.

use crate::helpers::{assert_no_duplicates, json_ok, newest_first, spawn_app};

fn one_in_three_on_windows(i: usize) -> &'static str {
    if i.is_multiple_of(3) {
        "windows"
    } else {
        "linux"
    }
}

#[tokio::test]
async fn an_empty_table_lists_no_residents_and_no_cursor() {
    let app = spawn_app().await;

    let page = json_ok(app.list("").await).await;

    assert_eq!(
        page,
        serde_json::json!({"servers": [], "next_cursor": null})
    );
}

#[tokio::test]
async fn a_page_holds_12_residents_by_default_each_exactly_as_stored() {
    let app = spawn_app().await;
    let residents = app.insert_residents(13, |_| "linux").await;

    let page = json_ok(app.list("").await).await;

    let servers = page["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 12);
    assert!(page["next_cursor"].is_string());
    // The newest resident comes first, serialized as domain::Resident is.
    let newest = residents.last().unwrap();
    assert_eq!(servers[0], serde_json::to_value(newest).unwrap());
}

#[tokio::test]
async fn pages_through_250_residents_newest_first_without_gap_or_duplicate() {
    let app = spawn_app().await;
    let residents = app.insert_residents(250, one_in_three_on_windows).await;

    let (ids, sizes) = app.list_all("limit=100").await;

    assert_eq!(sizes, [100, 100, 50]);
    assert_no_duplicates(&ids);
    assert_eq!(ids, newest_first(&residents));

    // A last page that is exactly full still ends the listing.
    let (ids, sizes) = app.list_all("limit=50").await;
    assert_eq!(sizes, [50; 5]);
    assert_eq!(ids, newest_first(&residents));
}

#[tokio::test]
async fn the_os_filter_pages_through_only_that_os_newest_first() {
    let app = spawn_app().await;
    let residents = app.insert_residents(250, one_in_three_on_windows).await;
    let windows: Vec<_> = residents.iter().filter(|r| r.os == "windows").collect();
    assert_eq!(windows.len(), 84);

    let (ids, sizes) = app.list_all("limit=40&os=windows").await;

    assert_eq!(sizes, [40, 40, 4]);
    assert_no_duplicates(&ids);
    assert_eq!(ids, newest_first(windows.iter().copied()));

    // The filter ignores case, as the index is keyed by the lower-cased OS.
    let (upper, _) = app.list_all("limit=100&os=WINDOWS").await;
    assert_eq!(upper, ids);

    let (linux, sizes) = app.list_all("limit=100&os=linux").await;
    assert_eq!(sizes, [100, 66]);
    assert_eq!(
        linux,
        newest_first(residents.iter().filter(|r| r.os == "linux"))
    );
}

#[tokio::test]
async fn an_os_nobody_runs_lists_nothing() {
    let app = spawn_app().await;
    app.insert_residents(3, |_| "linux").await;

    let page = json_ok(app.list("os=plan9").await).await;

    assert_eq!(
        page,
        serde_json::json!({"servers": [], "next_cursor": null})
    );
}

#[tokio::test]
async fn empty_parameters_mean_the_defaults() {
    let app = spawn_app().await;
    let residents = app.insert_residents(13, |_| "linux").await;

    let page = json_ok(app.list("limit=&cursor=&os=").await).await;

    let servers = page["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 12);
    assert_eq!(servers[0]["ckid"], residents[12].ckid.to_string());
}
