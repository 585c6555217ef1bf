//! Every page with real data: home, about, residents (cards, order, pagination, the OS
//! filter, escaping), a resident's page and feeding.

use crate::helpers::{cards_in, spawn_site};

#[tokio::test]
async fn home_and_about_pitch_the_home_and_link_to_the_form() {
    let site = spawn_site().await;
    let home = site.page("/", 200).await;
    assert!(home.contains("<html lang=\"en\">"));
    assert!(home.contains("retirement home for servers"));
    assert!(home.contains("href=\"/register\""), "a call to action");
    assert!(home.contains("href=\"/static/site.css\""));
    assert!(!home.contains("<script"), "no script at all");
    assert!(
        !home.contains("style="),
        "no inline style (the CSP forbids it)"
    );
    let about = site.page("/about", 200).await;
    assert!(about.contains("About Cuddle Kube"));
    assert!(about.contains("aria-current=\"page\">About"));
}

#[tokio::test]
async fn residents_are_cards_newest_first_with_avatar_meter_and_feed_button() {
    let site = spawn_site().await;
    let empty = site.page("/residents", 200).await;
    assert!(empty.contains("No residents"));
    let old = site.admit("Old Timer", "m4.large", "linux").await;
    let new = site.admit("Zippy", "z1d.large", "freebsd").await;

    let html = site.page("/residents", 200).await;
    assert_eq!(cards_in(&html), 2);
    let (zippy, timer) = (html.find("Zippy").unwrap(), html.find("Old Timer").unwrap());
    assert!(zippy < timer, "newest first");
    assert!(html.contains(
        "src=\"/static/avatars/high-frequency.svg\" alt=\"Zippy, a high-frequency server"
    ));
    assert!(
        html.contains(
            "src=\"/static/avatars/general.svg\" alt=\"Old Timer, a general-purpose server"
        )
    );
    assert!(html.contains("known as “pet”"));
    assert!(html.contains("<dd>z1d.large</dd>") && html.contains("<dd>freebsd</dd>"));
    assert!(html.contains("<dd>4 years</dd>"));
    assert!(html.contains("Happiness <span class=\"happiness-value\">5/10</span>"));
    assert_eq!(
        html.matches("heart heart-full").count(),
        10,
        "5 + 5 full hearts"
    );
    for resident in [&old, &new] {
        let ckid = resident["ckid"].as_str().unwrap();
        assert!(html.contains(&format!("action=\"/residents/{ckid}/feed\"")));
        assert!(html.contains(&format!("href=\"/residents/{ckid}\"")));
    }
    assert!(html.contains("name=\"return_to\" value=\"/residents\""));
}

#[tokio::test]
async fn a_residents_own_page_and_an_unknown_one() {
    let site = spawn_site().await;
    let resident = site.admit("Hadoop Hal", "d2.4xlarge", "linux").await;
    let ckid = resident["ckid"].as_str().unwrap();
    let html = site.page(&format!("/residents/{ckid}"), 200).await;
    assert!(html.contains("<h1>Hadoop Hal</h1>"));
    assert!(html.contains("/static/avatars/storage.svg"));
    assert!(html.contains(&format!("name=\"return_to\" value=\"/residents/{ckid}\"")));

    for missing in [
        "/residents/01KAS5V3TPJ6B4ZQ8M2N7R1XYC",
        "/residents/no%20such",
        "/residents/..%2F..%2Fhealth",
    ] {
        let html = site.page(missing, 404).await;
        assert!(html.contains("find that page"), "{missing}");
    }
}

#[tokio::test]
async fn markup_in_names_is_escaped_everywhere() {
    let site = spawn_site().await;
    let evil = "<script>alert(1)</script>";
    let resident = site.admit(evil, "t3.micro\"><img src=x>", evil).await;
    let ckid = resident["ckid"].as_str().unwrap();
    for path in [
        "/residents".to_owned(),
        format!("/residents/{ckid}"),
        format!("/register/thanks?ckid={ckid}"),
    ] {
        let html = site.page(&path, 200).await;
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}"
        );
        assert!(!html.contains(evil), "{path}: raw markup");
        assert!(!html.contains("<img src=x>"), "{path}: raw markup");
        assert!(!html.contains("<script"), "{path}");
    }
    // Also in what the visitor typed into the filter.
    let html = site.page("/residents?os=%3Cb%3Ebold%3C%2Fb%3E", 200).await;
    assert!(html.contains("&#60;b&#62;bold&#60;/b&#62;") && !html.contains("<b>bold</b>"));
}

#[tokio::test]
async fn thirty_residents_page_by_twelve_with_the_apis_cursor() {
    let site = spawn_site().await;
    for i in 0..30 {
        site.admit(&format!("Resident {i:02}"), "t2.micro", "linux")
            .await;
    }
    let mut seen = Vec::new();
    let mut path = "/residents".to_owned();
    let mut sizes = Vec::new();
    loop {
        let html = site.page(&path, 200).await;
        sizes.push(cards_in(&html));
        let mut on_page: Vec<(usize, i32)> = (0..30)
            .filter_map(|i| {
                html.find(&format!(">Resident {i:02}</a>"))
                    .map(|at| (at, i))
            })
            .collect();
        on_page.sort();
        seen.extend(on_page.into_iter().map(|(_, i)| i));
        if path != "/residents" {
            assert!(
                html.contains("href=\"/residents\" rel=\"first\""),
                "a way back to the newest"
            );
        }
        let Some(at) = html.find("rel=\"next\"") else {
            break;
        };
        let start = html[..at].rfind("href=\"").unwrap() + 6;
        let end = start + html[start..].find('"').unwrap();
        path = html[start..end].replace("&#38;", "&");
        assert!(path.starts_with("/residents?cursor="), "{path}");
    }
    assert_eq!(sizes, [12, 12, 6]);
    let expected: Vec<i32> = (0..30).rev().collect();
    assert_eq!(seen, expected, "every resident once, newest first");
}

#[tokio::test]
async fn the_os_filter_lists_only_that_os_across_pages() {
    let site = spawn_site().await;
    for i in 0..14 {
        site.admit(&format!("Penguin {i:02}"), "m5.large", "linux")
            .await;
    }
    site.admit("Windy", "c5.large", "windows").await;
    let html = site.page("/residents?os=windows", 200).await;
    assert_eq!(cards_in(&html), 1);
    assert!(html.contains("Windy") && !html.contains("Penguin"));
    assert!(
        html.contains("value=\"windows\""),
        "the filter stays filled in"
    );

    let html = site.page("/residents?os=Linux", 200).await;
    assert_eq!(cards_in(&html), 12);
    assert!(!html.contains("Windy"));
    let at = html.find("rel=\"next\"").expect("a next page");
    let start = html[..at].rfind("href=\"").unwrap() + 6;
    let next = html[start..start + html[start..].find('"').unwrap()].replace("&#38;", "&");
    assert!(next.ends_with("&os=Linux"), "{next}");
    let html = site.page(&next, 200).await;
    assert_eq!(cards_in(&html), 2);
    assert!(!html.contains("Windy"));
    assert!(!html.contains("rel=\"next\""));
}

#[tokio::test]
async fn feeding_raises_happiness_and_goes_back_where_the_visitor_was() {
    let site = spawn_site().await;
    let resident = site.admit("Hungry", "r5.large", "linux").await;
    let ckid = resident["ckid"].as_str().unwrap();
    let feed = format!("/residents/{ckid}/feed");

    let response = site
        .post_form(&feed, &[("return_to", "/residents?os=linux")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("/residents?os=linux#resident-{ckid}").as_str()
    );
    let html = site.page(&format!("/residents/{ckid}"), 200).await;
    assert!(html.contains("Happiness <span class=\"happiness-value\">6/10</span>"));
    assert!(html.contains("Fed once"));

    // Anything but a local path goes to the resident's own page: no open redirect.
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "",
        "residents",
    ] {
        let response = site.post_form(&feed, &[("return_to", evil)]).await;
        assert_eq!(response.status(), 303, "{evil}");
        assert_eq!(
            response.headers()["location"],
            format!("/residents/{ckid}#resident-{ckid}").as_str(),
            "{evil:?}"
        );
    }
    let html = site.page(&format!("/residents/{ckid}"), 200).await;
    assert!(html.contains("Happiness <span class=\"happiness-value\">10/10</span>"));
    assert!(html.contains("Fed 6 times"));

    let response = site
        .post_form(
            "/residents/01KAS5V3TPJ6B4ZQ8M2N7R1XYC/feed",
            &[("return_to", "/residents")],
        )
        .await;
    assert_eq!(response.status(), 404);
}
