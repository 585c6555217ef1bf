//! Every page with real data: home, about, robots.txt, residents (cards, order,
//! pagination, the OS filter, escaping), a resident's page and feeding.

use crate::helpers::{cards_in, feed_token_in, spawn_app, text_of, tokens_in};

fn title_of(html: &str) -> &str {
    let start = html.find("<title>").expect("a title") + "<title>".len();
    &html[start..start + html[start..].find("</title>").unwrap()]
}

fn description_of(html: &str) -> &str {
    let marker = "<meta name=\"description\" content=\"";
    let start = html.find(marker).expect("a description") + marker.len();
    &html[start..start + html[start..].find('"').unwrap()]
}

/// The `href` of the first link marked `rel` (`&` unescaped).
fn rel_href(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\""))?;
    let start = html[..at].rfind("href=\"").unwrap() + 6;
    let end = start + html[start..].find('"').unwrap();
    Some(html[start..end].replace("&#38;", "&"))
}

#[tokio::test]
async fn home_and_about_pitch_the_home_and_link_to_the_form() {
    let app = spawn_app().await;
    let home = app.page("/", 200).await;
    assert!(home.contains("<html lang=\"en\">"));
    assert!(home.contains("retirement home for servers"));
    assert!(home.contains("href=\"/register\""), "a call to action");
    assert!(home.contains("href=\"/static/site.css\""));
    assert!(!home.contains("<script"), "no script at all");
    assert!(
        !home.contains("style="),
        "no inline style (the CSP forbids it)"
    );
    let about = app.page("/about", 200).await;
    assert!(about.contains("About Cuddle Kube"));
    assert!(about.contains("aria-current=\"page\">About"));
}

#[tokio::test]
async fn every_page_has_its_own_title_and_description() {
    let app = spawn_app().await;
    for i in 0..13 {
        app.admit(&format!("Resident {i:02}"), "t2.micro", "linux")
            .await;
    }
    let resident = app.admit("Titled", "m5.large", "freebsd").await;
    let ckid = resident["ckid"].as_str().unwrap();
    let first = app.page("/residents", 200).await;
    let second = app
        .page(&rel_href(&first, "next").expect("a second page"), 200)
        .await;
    let mut seen = Vec::new();
    for (html, title) in [
        (app.page("/", 200).await, "Home · Cuddle Kube"),
        (app.page("/about", 200).await, "About · Cuddle Kube"),
        (first, "Residents · Cuddle Kube"),
        (second, "Residents, page 2 · Cuddle Kube"),
        (
            app.page("/residents?os=linux", 200).await,
            "Residents running linux · Cuddle Kube",
        ),
        (
            app.page(&format!("/residents/{ckid}"), 200).await,
            "Titled · Cuddle Kube",
        ),
        (
            app.page("/register", 200).await,
            "Request admittance · Cuddle Kube",
        ),
        (
            app.page(&format!("/register/thanks?ckid={ckid}"), 200)
                .await,
            "Welcome, Titled · Cuddle Kube",
        ),
    ] {
        assert_eq!(title_of(&html), title);
        let description = description_of(&html).to_owned();
        assert!(description.len() > 40, "{title}: {description}");
        assert!(
            !seen.contains(&description),
            "{title} repeats a description: {description}"
        );
        seen.push(description);
    }
}

#[tokio::test]
async fn robots_txt_welcomes_crawlers_but_not_on_thank_you_pages() {
    let app = spawn_app().await;
    let response = app.get("/robots.txt").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(text.starts_with("User-agent: *\n"), "{text}");
    assert!(text.contains("Disallow: /register/thanks\n"), "{text}");
    assert!(!text.contains("Disallow: /\n"), "the site is open: {text}");
}

#[tokio::test]
async fn residents_are_cards_newest_first_with_avatar_meter_and_feed_button() {
    let app = spawn_app().await;
    let empty = app.page("/residents", 200).await;
    assert!(empty.contains("No residents yet"));
    let old = app.admit("Old Timer", "m4.large", "linux").await;
    let new = app.admit("Zippy", "z1d.large", "freebsd").await;

    let html = app.page("/residents", 200).await;
    assert_eq!(cards_in(&html), 2);
    let (zippy, timer) = (html.find("Zippy").unwrap(), html.find("Old Timer").unwrap());
    assert!(zippy < timer, "newest first");
    assert!(html.contains(
        "src=\"/static/avatars/high-frequency.svg\" alt=\"Zippy, a high-frequency server with a lightning bolt, looking content\""
    ));
    assert!(html.contains(
        "src=\"/static/avatars/general.svg\" alt=\"Old Timer, a general-purpose server with a cardigan, looking content\""
    ));
    assert!(html.contains("src=\"/static/faces/content.svg\" alt=\"\""));
    assert!(html.contains("known as “pet”"));
    assert!(html.contains("<dd>z1d.large</dd>") && html.contains("<dd>freebsd</dd>"));
    assert!(html.contains("<dd>4 years</dd>"));
    assert!(html.contains("Happiness <span class=\"happiness-value\">5/10</span>"));
    assert_eq!(
        html.matches("heart heart-full").count(),
        10,
        "5 + 5 full hearts"
    );
    // Headings in order: the page's h1, then a card's h2.
    assert!(html.contains("<h1>Our residents</h1>"));
    assert!(!html.contains("<h3"), "no level skipped");
    assert_eq!(html.matches("<h2 class=\"card-name\"").count(), 2);
    for resident in [&old, &new] {
        let ckid = resident["ckid"].as_str().unwrap();
        assert!(html.contains(&format!("action=\"/residents/{ckid}/feed\"")));
        assert!(html.contains(&format!("href=\"/residents/{ckid}\"")));
        assert_eq!(feed_token_in(&html, ckid).len(), 26, "a ULID per button");
    }
    let tokens = tokens_in(&html);
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1], "each button its own token");
    assert_ne!(
        tokens,
        tokens_in(&app.page("/residents", 200).await),
        "new tokens for every rendering"
    );
    assert!(html.contains("name=\"return_to\" value=\"/residents\""));
}

#[tokio::test]
async fn a_residents_page_tells_its_story_and_introduces_the_neighbours() {
    let app = spawn_app().await;
    app.admit("Penguin One", "m5.large", "linux").await;
    app.admit("Windy", "c5.large", "windows").await;
    app.admit("Penguin Two", "r5.large", "Linux").await;
    let resident = app.admit("Hadoop Hal", "d2.4xlarge", "linux").await;
    let ckid = resident["ckid"].as_str().unwrap();
    let token = feed_token_in(&app.page("/residents", 200).await, ckid);
    app.feed(ckid, &token, "/residents").await;

    let html = app.page(&format!("/residents/{ckid}"), 200).await;
    assert!(html.contains("<h1 id=\"resident-name\" class=\"user-text\">Hadoop Hal</h1>"));
    assert!(html.contains("/static/avatars/storage.svg"));
    let registered = resident["registered_at"].as_str().unwrap();
    let day: u32 = registered[8..10].parse().unwrap();
    assert!(
        html.contains(&format!(
            "<dt>Moved in</dt><dd><time datetime=\"{}Z\">{day} ",
            &registered[..19]
        )),
        "the admission date"
    );
    assert!(html.contains("<dt>Years of service</dt><dd>4 years</dd>"));
    let last_fed = text_of(&html, "profile-facts").unwrap();
    assert!(last_fed.contains("Last fed just now"), "{last_fed}");
    assert!(last_fed.contains("Meals Fed once"), "{last_fed}");
    let bio = text_of(&html, "bio").unwrap();
    assert_eq!(
        bio,
        "Hadoop Hal is a storage-optimised server of type d2.4xlarge that kept everybody's \
         files safe and sound. After 4 years of service on linux, it likes a tidy terminal \
         and a warm kernel. Today it is content, humming quietly in its rack."
    );
    // Neighbours: the others running linux (ignoring case), newest first, not Windy.
    let neighbours = text_of(&html, "neighbour-list").unwrap();
    assert_eq!(
        neighbours,
        "Penguin Two r5.large · feeling content Penguin One m5.large · feeling content"
    );
    assert!(html.contains(&format!("name=\"return_to\" value=\"/residents/{ckid}\"")));
    assert!(!html.contains("<h3"));

    for missing in [
        "/residents/01KAS5V3TPJ6B4ZQ8M2N7R1XYC",
        "/residents/no%20such",
        "/residents/..%2F..%2Fhealth",
    ] {
        let html = app.page(missing, 404).await;
        assert!(html.contains("find that page"), "{missing}");
    }
}

#[tokio::test]
async fn a_lone_resident_is_told_it_has_no_neighbours_yet() {
    let app = spawn_app().await;
    let resident = app.admit("Solo", "t2.micro", "plan9").await;
    let html = app
        .page(
            &format!("/residents/{}", resident["ckid"].as_str().unwrap()),
            200,
        )
        .await;
    assert!(html.contains("Nobody else here runs plan9 yet."));
    assert!(html.contains("<dt>Last fed</dt><dd>Not fed yet</dd>"));
}

#[tokio::test]
async fn markup_in_names_is_escaped_everywhere() {
    let app = spawn_app().await;
    let evil = "<script>alert(1)</script>";
    let resident = app.admit(evil, "t3.micro\"><img src=x>", evil).await;
    let ckid = resident["ckid"].as_str().unwrap();
    for path in [
        "/residents".to_owned(),
        format!("/residents/{ckid}"),
        format!("/register/thanks?ckid={ckid}"),
    ] {
        let html = app.page(&path, 200).await;
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}"
        );
        assert!(!html.contains(evil), "{path}: raw markup");
        assert!(!html.contains("<img src=x>"), "{path}: raw markup");
        assert!(!html.contains("<script"), "{path}");
    }
    // Also in what the visitor typed into the filter.
    let html = app.page("/residents?os=%3Cb%3Ebold%3C%2Fb%3E", 200).await;
    assert!(html.contains("&#60;b&#62;bold&#60;/b&#62;") && !html.contains("<b>bold</b>"));
}

#[tokio::test]
async fn thirty_residents_page_by_twelve_with_the_apis_cursor() {
    let app = spawn_app().await;
    for i in 0..30 {
        app.admit(&format!("Resident {i:02}"), "t2.micro", "linux")
            .await;
    }
    let mut seen = Vec::new();
    let mut path = "/residents".to_owned();
    let mut sizes = Vec::new();
    loop {
        let html = app.page(&path, 200).await;
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
            let page = sizes.len();
            assert!(
                html.contains(&format!(
                    "<title>Residents, page {page} · Cuddle Kube</title>"
                )),
                "page {page}"
            );
        }
        let Some(next) = rel_href(&html, "next") else {
            break;
        };
        assert!(next.starts_with("/residents?cursor="), "{next}");
        assert!(
            next.ends_with(&format!("&page={}", sizes.len() + 1)),
            "{next}"
        );
        path = next;
    }
    assert_eq!(sizes, [12, 12, 6]);
    let expected: Vec<i32> = (0..30).rev().collect();
    assert_eq!(seen, expected, "every resident once, newest first");
    let html = app.page(&path, 200).await;
    assert!(!html.contains("rel=\"next\""));
}

#[tokio::test]
async fn the_os_filter_offers_the_systems_residents_run_and_lists_only_that_one() {
    let app = spawn_app().await;
    for i in 0..14 {
        app.admit(&format!("Penguin {i:02}"), "m5.large", "linux")
            .await;
    }
    app.admit("Windy", "c5.large", "Windows").await;
    app.admit("Beastie", "c5.large", "FreeBSD").await;

    let html = app.page("/residents", 200).await;
    let chips = text_of(&html, "chips").unwrap();
    assert_eq!(
        chips, "Any system linux FreeBSD Windows",
        "most common first"
    );
    assert!(html.contains("<a class=\"chip\" href=\"/residents?os=windows\">Windows</a>"));
    assert!(
        html.contains("<a class=\"chip\" href=\"/residents\" aria-current=\"true\">Any system</a>")
    );

    let html = app.page("/residents?os=windows", 200).await;
    assert_eq!(cards_in(&html), 1);
    assert!(html.contains("Windy") && !html.contains("Penguin"));
    assert!(html.contains("href=\"/residents?os=windows\" aria-current=\"true\">Windows</a>"));
    assert!(
        html.contains("<h1>Residents running <span class=\"user-text\">Windows</span></h1>"),
        "as residents spell it"
    );

    let html = app.page("/residents?os=Linux", 200).await;
    assert_eq!(cards_in(&html), 12);
    assert!(!html.contains("Windy"));
    let next = rel_href(&html, "next").expect("a next page");
    assert!(next.contains("&os=Linux"), "{next}");
    let html = app.page(&next, 200).await;
    assert_eq!(cards_in(&html), 2);
    assert!(!html.contains("Windy"));
    assert!(!html.contains("rel=\"next\""));
}

#[tokio::test]
async fn a_filter_nobody_matches_says_so_truthfully() {
    let app = spawn_app().await;
    app.admit("Penguin", "m5.large", "linux").await;
    let html = app.page("/residents?os=plan9", 200).await;
    assert_eq!(cards_in(&html), 0);
    let empty = text_of(&html, "empty").unwrap();
    assert!(
        empty
            .starts_with("No resident runs plan9. The systems our residents run are listed above."),
        "{empty}"
    );
    assert!(
        !empty.contains("yet. Every home starts empty"),
        "the home is not empty"
    );
    assert!(html.contains("href=\"/residents?os=plan9\" aria-current=\"true\">plan9</a>"));
    assert!(html.contains("href=\"/residents?os=linux\">linux</a>"));
}

#[tokio::test]
async fn feeding_raises_happiness_says_so_and_goes_back_to_the_card() {
    let app = spawn_app().await;
    let resident = app.admit("Hungry", "r5.large", "linux").await;
    let ckid = resident["ckid"].as_str().unwrap();
    let html = app.page("/residents?os=linux", 200).await;
    let token = feed_token_in(&html, ckid);
    assert!(html.contains("name=\"return_to\" value=\"/residents?os=linux\""));

    let response = app.feed(ckid, &token, "/residents?os=linux").await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/residents?os=linux&fed={ckid}&happiness=6#resident-{ckid}")
    );
    let html = app.page(&location, 200).await;
    assert_eq!(
        text_of(&html, "fed-note").as_deref(),
        Some("You fed Hungry. Happiness went up from 5 to 6 out of 10.")
    );
    assert!(html.contains(&format!(
        "<article class=\"card card-fed\" id=\"resident-{ckid}\""
    )));
    // Its buttons go back to the page without the word on the feeding.
    assert!(html.contains("name=\"return_to\" value=\"/residents?os=linux\""));
    let html = app.page(&format!("/residents/{ckid}"), 200).await;
    assert!(html.contains("<span class=\"happiness-value\">6/10</span>"));
    assert!(html.contains("Fed once"));
    assert!(!html.contains("fed-note"), "no word without a feeding");

    // From a resident's page, back to it, with the word there.
    let token = feed_token_in(&html, ckid);
    let response = app.feed(ckid, &token, &format!("/residents/{ckid}")).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/residents/{ckid}?fed={ckid}&happiness=7#resident-{ckid}")
    );
    let html = app.page(&location, 200).await;
    assert_eq!(
        text_of(&html, "fed-note").as_deref(),
        Some("You fed Hungry. Happiness went up from 6 to 7 out of 10.")
    );
    assert!(html.contains("/static/faces/happy.svg"), "the face follows");

    // Anything but a local path goes to the resident's own page: no open redirect.
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "",
        "residents",
    ] {
        let response = app.feed(ckid, "", evil).await;
        assert_eq!(response.status(), 303, "{evil}");
        let location = response.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with(&format!("/residents/{ckid}?fed={ckid}&happiness=")),
            "{evil:?}: {location}"
        );
    }
    let html = app
        .page(&format!("/residents/{ckid}?fed={ckid}&happiness=10"), 200)
        .await;
    assert!(html.contains("<span class=\"happiness-value\">10/10</span>"));
    assert!(html.contains("Fed 7 times"));
    assert!(html.contains("/static/faces/beaming.svg"));
    assert_eq!(
        text_of(&html, "fed-note").as_deref(),
        Some("You fed Hungry. Happiness is at 10 out of 10: it could not be happier.")
    );

    let response = app
        .feed("01KAS5V3TPJ6B4ZQ8M2N7R1XYC", "", "/residents")
        .await;
    assert_eq!(response.status(), 404);
}
