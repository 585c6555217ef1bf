//! The site in a real headless Chromium over WebDriver (fantoccini): register through
//! the form, find the resident, feed it; errors with the input kept; a double-click
//! admits once. Each page visited is saved as a PNG under `target/screenshots/`.
//!
//! Needs `chromium` and `chromium-driver` (Debian packages; `.ci/run` installs them).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{closed_url, spawn_site, spawn_site_on};

const CHROMIUM: &str = "/usr/bin/chromium";

/// One browser at a time: two cores are shared with the rest of the test run.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// chromedriver on a free port, a Chromium session with a fresh profile; all stopped
/// and removed on drop.
struct Browser {
    client: Client,
    driver: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group, which Chromium joins: ending the
        // group ends the browser too, also when a test panicked mid-session.
        let _ = Command::new("kill")
            .args(["-KILL", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            // Its own process group, which Chromium joins: see `Drop`.
            .process_group(0)
            .args([
                format!("--port={port}"),
                "--allowed-ips=127.0.0.1".to_owned(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (apt-get install chromium chromium-driver)");
        let profile = std::env::temp_dir().join(format!("ck-chromium-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&profile).expect("a profile directory");
        let browser = Self {
            client: connect(port, &profile).await,
            driver,
            profile,
        };
        browser
            .client
            .set_window_size(1280, 1100)
            .await
            .expect("window size");
        browser
    }

    /// Ends the WebDriver session (chromedriver closes Chromium); drop does the rest.
    async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The text of the first element matching `css`. A page that is replaced between
    /// finding the element and reading it (a POST/redirect back to the same path) makes
    /// the element stale: then it is found again on the new page.
    async fn text(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let element = self
                .client
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css}: {e}"));
            match element.text().await {
                Ok(text) => return text,
                Err(e)
                    if e.is_stale_element_reference()
                        && started.elapsed() < Duration::from_secs(10) => {}
                Err(e) => panic!("text of {css}: {e}"),
            }
        }
    }

    async fn fill(&self, id: &str, value: &str) {
        let input = self.client.find(Locator::Id(id)).await.expect(id);
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    async fn click(&self, id: &str) {
        let element = self.client.find(Locator::Id(id)).await.expect(id);
        element.click().await.expect("click");
    }

    async fn value(&self, id: &str) -> String {
        let input = self.client.find(Locator::Id(id)).await.expect(id);
        input
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    async fn wait_for_path(&self, prefix: &str) -> String {
        let started = Instant::now();
        loop {
            let url = self.client.current_url().await.expect("current URL");
            if url.path().starts_with(prefix) {
                return url.to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "never reached {prefix}; at {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves what the browser shows as `target/screenshots/<name>.png`.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

async fn connect(port: u16, profile: &std::path::Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let started = Instant::now();
    loop {
        let attempt = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match attempt {
            Ok(client) => return client,
            Err(err) if started.elapsed() > Duration::from_secs(20) => {
                panic!("no WebDriver session with Chromium: {err}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn fill_form(
    browser: &Browser,
    name: &str,
    server_type: &str,
    service: &str,
    petname: &str,
    os: &str,
) {
    browser.fill("name", name).await;
    browser.fill("type", server_type).await;
    browser.fill("service", service).await;
    browser.fill("petname", petname).await;
    browser.fill("os", os).await;
}

fn card_css(ckid: &str) -> String {
    format!("#resident-{ckid}")
}

#[tokio::test]
async fn a_visitor_registers_a_server_finds_it_and_feeds_it() {
    let _one = ONE_BROWSER.lock().await;
    let site = spawn_site().await;
    site.admit("Old Timer", "m4.large", "linux").await;
    site.admit("Speedy", "z1d.large", "freebsd").await;
    site.admit("Gamer", "p3.2xlarge", "windows").await;
    let browser = Browser::start().await;

    browser.goto(&site.url("/")).await;
    assert!(browser.text("h1").await.contains("warm place to rest"));
    browser.screenshot("home").await;
    browser.goto(&site.url("/about")).await;
    browser.screenshot("about").await;

    browser.goto(&site.url("/register")).await;
    browser.screenshot("register").await;
    fill_form(&browser, "Cuddles", "t3.medium", "6", "snugglebot", "linux").await;
    browser.click("submit").await;
    let thanks = browser.wait_for_path("/register/thanks").await;
    assert!(browser.text("h1").await.contains("Cuddles has moved in"));
    browser.screenshot("thanks").await;
    let ckid = thanks
        .split("ckid=")
        .nth(1)
        .expect("the new ckid")
        .to_owned();

    browser.goto(&site.url("/residents")).await;
    let card = card_css(&ckid);
    assert!(
        browser
            .text(&format!("{card} .card-name"))
            .await
            .contains("Cuddles")
    );
    assert_eq!(
        browser.text(&format!("{card} .happiness-value")).await,
        "5/10"
    );
    browser.screenshot("residents").await;

    browser
        .client
        .find(Locator::Css(&format!("{card} .button-feed")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for_path("/residents").await;
    let started = Instant::now();
    while browser.text(&format!("{card} .happiness-value")).await != "6/10" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "happiness did not go up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        browser
            .text(&format!("{card} .meals"))
            .await
            .contains("Fed once")
    );

    browser.goto(&site.url(&format!("/residents/{ckid}"))).await;
    assert_eq!(browser.text("h1").await, "Cuddles");
    browser.screenshot("resident").await;
    browser.goto(&site.url("/no/such/page")).await;
    assert!(browser.text("h1").await.contains("find that page"));
    browser.screenshot("not-found").await;

    let down = spawn_site_on(&closed_url(), &closed_url()).await;
    browser.goto(&down.url("/residents")).await;
    assert!(browser.text(".trace-id").await.starts_with("1-"));
    browser.screenshot("unavailable").await;
    browser.close().await;
}

#[tokio::test]
async fn an_invalid_form_shows_the_errors_and_keeps_the_input() {
    let _one = ONE_BROWSER.lock().await;
    let site = spawn_site().await;
    let browser = Browser::start().await;
    browser.goto(&site.url("/register")).await;
    fill_form(&browser, "", "t2.micro", "a hundred and one", "pebbles", "").await;
    browser.click("submit").await;
    let summary = browser.text(".error-summary").await;
    assert!(summary.contains("Please check the form"), "{summary}");
    for id in ["name", "service", "os"] {
        let error = browser.text(&format!("#{id}-error")).await;
        assert!(!error.is_empty(), "{id}");
    }
    assert_eq!(browser.value("type").await, "t2.micro");
    assert_eq!(browser.value("service").await, "a hundred and one");
    assert_eq!(browser.value("petname").await, "pebbles");
    browser.screenshot("register-errors").await;
    assert!(site.all_residents().await.is_empty());
    browser.close().await;
}

#[tokio::test]
async fn a_double_click_on_submit_admits_one_server() {
    let _one = ONE_BROWSER.lock().await;
    let site = spawn_site().await;
    let browser = Browser::start().await;
    browser.goto(&site.url("/register")).await;
    fill_form(&browser, "Double Trouble", "r4.large", "7", "dt", "linux").await;
    let submit = browser.client.find(Locator::Id("submit")).await.unwrap();
    let double_click = MouseActions::new("mouse".to_owned())
        .then(PointerAction::MoveToElement {
            element: submit,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser
        .client
        .perform_actions(double_click)
        .await
        .expect("double-click");
    browser.wait_for_path("/register/thanks").await;
    assert!(
        browser
            .text("h1")
            .await
            .contains("Double Trouble has moved in")
    );
    let named: Vec<_> = site
        .all_residents()
        .await
        .into_iter()
        .filter(|r| r["name"] == "Double Trouble")
        .collect();
    assert_eq!(named.len(), 1, "{named:?}");
    browser.close().await;
}
