//! The site in a real headless Chromium over WebDriver (fantoccini): register through
//! the form, find the resident, feed it; errors with the input kept; a double-click
//! admits once; Back after an admission offers a fresh form. Each page visited is saved
//! as a PNG under `target/screenshots/`. [`Browser`] is also the driver of `walk.rs`.
//!
//! Needs `chromium` and `chromium-driver` (Debian packages; `.ci/run` installs them).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::{spawn_app, token_in};

const CHROMIUM: &str = "/usr/bin/chromium";

/// One browser at a time: two cores are shared with the rest of the test run.
pub static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// chromedriver on a free port, a Chromium session with a fresh profile; all stopped
/// and removed on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
    /// The viewport width asked for, in CSS pixels (screenshots are named by it).
    width: u32,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group, which Chromium joins: ending the
        // group ends the browser too, also when a test panicked mid-session.
        // `--`: without it, procps' kill does not read `-<pgid>` as a process group.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// What a page's layout looks like to the overflow check.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layout {
    scroll_width: f64,
    client_width: f64,
    inner_width: f64,
    /// Elements sticking out of the viewport on the right.
    too_wide: Vec<String>,
    /// Feed buttons whose text does not fit inside them.
    spilling_buttons: Vec<String>,
    /// Cards with content outside their box.
    spilling_cards: Vec<String>,
}

const LAYOUT_SCRIPT: &str = r#"
const root = document.documentElement;
const outside = (inner, outer) =>
  inner.width > 0 && (inner.left < outer.left - 0.5 || inner.right > outer.right + 0.5);
const describe = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
  (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '');
const tooWide = [...document.body.querySelectorAll('*')]
  .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5)
  .slice(0, 8).map(describe);
const spillingButtons = [...document.querySelectorAll('.button-feed')]
  .filter((b) => b.scrollWidth > b.clientWidth ||
    [...b.querySelectorAll('*')].some((e) => outside(e.getBoundingClientRect(), b.getBoundingClientRect())))
  .map((b) => b.textContent.trim());
const spillingCards = [...document.querySelectorAll('.card, .profile, .neighbour')]
  .filter((c) => [...c.querySelectorAll('*')]
    .some((e) => outside(e.getBoundingClientRect(), c.getBoundingClientRect())))
  .map(describe);
return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
  innerWidth: window.innerWidth, tooWide, spillingButtons, spillingCards };
"#;

const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] })
  .then((result) => done(result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary) }))))
  .catch((err) => done([{ id: 'axe-error', help: String(err), nodes: [] }]));
"#;

impl Browser {
    pub async fn start() -> Self {
        let port = test_support::free_port();
        let driver = chromedriver()
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
        let mut browser = Self {
            client: connect(port, &profile).await,
            driver,
            profile,
            width: 1280,
        };
        browser.set_width(1280).await;
        browser
    }

    /// Ends the WebDriver session (chromedriver closes Chromium); drop does the rest.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Makes the viewport `width` CSS pixels wide (and 900 high).
    pub async fn set_width(&mut self, width: u32) {
        self.width = width;
        self.set_viewport(width, 900).await;
    }

    /// Sizes the window so that the viewport (not the window) is `width` × `height`.
    async fn set_viewport(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("window size");
        let inner = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .expect("viewport size");
        let (inner_width, inner_height) = (
            inner[0].as_u64().unwrap_or(u64::from(width)),
            inner[1].as_u64().unwrap_or(u64::from(height)),
        );
        let grow = |asked: u32, got: u64| {
            u32::try_from(i64::from(asked) * 2 - i64::try_from(got).unwrap_or(0)).unwrap_or(asked)
        };
        if inner_width != u64::from(width) || inner_height != u64::from(height) {
            self.client
                .set_window_size(grow(width, inner_width), grow(height, inner_height))
                .await
                .expect("window size");
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The text of the first element matching `css`, waited for up to 30 s (a form's
    /// answer on a loaded two-core machine; once seen to take over 10 s while the
    /// other site tests ran beside the walk). A page that is replaced between
    /// finding the element and reading it (Back, or a reload) makes the element stale:
    /// then it is found again on the new page.
    pub async fn text(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let element = self
                .client
                .wait()
                .at_most(Duration::from_secs(30))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css}: {e}"));
            match element.text().await {
                Ok(text) => return text,
                Err(e) if is_stale(&e) && started.elapsed() < Duration::from_secs(30) => {}
                Err(e) => panic!("text of {css}: {e}"),
            }
        }
    }

    pub async fn fill(&self, id: &str, value: &str) {
        let input = self.client.find(Locator::Id(id)).await.expect(id);
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    /// Clicks the element with this id and waits for the page it leads to.
    pub async fn click(&self, id: &str) {
        self.click_css(&format!("#{id}")).await;
    }

    /// Clicks the first element matching `css` and waits for the page it leads to:
    /// every click here sends a form or follows a link (the site runs no script), and
    /// a test that reads on at once races the navigation — it may read the old page
    /// (a notice with the previous answer) or an element of it just going away.
    pub async fn click_css(&self, css: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        // A mark in the page's script globals: a new document starts without it.
        self.client
            .execute("window.ckBeforeClick = true;", vec![])
            .await
            .expect("mark the page");
        element.click().await.expect("click");
        until(Duration::from_secs(30), async || {
            let arrived = self
                .client
                .execute(
                    "return window.ckBeforeClick === undefined \
                       && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            // An error here is the navigation under way (no document to run in yet).
            match arrived {
                Ok(Value::Bool(true)) => Ok(()),
                other => Err(format!(
                    "clicking {css} led to no new page in 30 s: {other:?}"
                )),
            }
        })
        .await;
    }

    pub async fn value(&self, id: &str) -> String {
        let input = self.client.find(Locator::Id(id)).await.expect(id);
        input
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// Sets a form field's value from the test (hidden fields, control characters a
    /// visitor cannot type); the page itself runs no script.
    pub async fn set_value(&self, css: &str, value: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("set {css}: {e}"));
    }

    /// What `script` returns (given `args`), which must be a number.
    pub async fn number(&self, script: &str, args: Vec<serde_json::Value>) -> f64 {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
            .as_f64()
            .unwrap_or_else(|| panic!("{script}: not a number"))
    }

    /// The site header's height, in px.
    pub async fn header_height(&self) -> f64 {
        let script =
            "return document.querySelector('.site-header').getBoundingClientRect().height;";
        self.number(script, vec![]).await
    }

    pub async fn wait_for_path(&self, prefix: &str) -> String {
        until(Duration::from_secs(15), async || {
            let url = self.client.current_url().await.expect("current URL");
            if url.path().starts_with(prefix) {
                Ok(url.to_string())
            } else {
                Err(format!("never reached {prefix}; at {url}"))
            }
        })
        .await
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    /// Saves the whole page (not only the viewport) as
    /// `target/screenshots/<name>-<width>.png`.
    pub async fn screenshot(&self, name: &str) {
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await
            .ok()
            .and_then(|h| h.as_u64())
            .unwrap_or(900)
            .clamp(600, 8000);
        self.set_viewport(self.width, u32::try_from(height).unwrap_or(900))
            .await;
        let png = self.client.screenshot().await.expect("screenshot");
        self.set_viewport(self.width, 900).await;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        std::fs::write(dir.join(format!("{name}-{}.png", self.width)), png)
            .expect("write screenshot");
    }

    /// The checks every page must pass at every width: nothing sticks out sideways, a
    /// feed button's text stays inside it, cards hold their content, and axe-core
    /// finds no accessibility violation. Then the screenshot.
    pub async fn check_page(&self, name: &str) {
        let what = format!("{name} at {} px", self.width);
        let layout: Layout = serde_json::from_value(
            self.client
                .execute(LAYOUT_SCRIPT, vec![])
                .await
                .unwrap_or_else(|e| panic!("{what}: layout: {e}")),
        )
        .expect("layout");
        assert!(
            layout.scroll_width <= layout.inner_width && layout.scroll_width <= layout.client_width,
            "{what}: {} px wide in a {} px viewport; sticking out: {:?}",
            layout.scroll_width,
            layout.inner_width,
            layout.too_wide
        );
        assert!(layout.too_wide.is_empty(), "{what}: {:?}", layout.too_wide);
        assert!(
            layout.spilling_buttons.is_empty(),
            "{what}: text outside its feed button: {:?}",
            layout.spilling_buttons
        );
        assert!(
            layout.spilling_cards.is_empty(),
            "{what}: content outside its card: {:?}",
            layout.spilling_cards
        );
        let violations = self.axe().await;
        assert!(
            violations.is_empty(),
            "{what}: axe-core found {} violation(s): {:#}",
            violations.len(),
            Value::Array(violations)
        );
        self.screenshot(name).await;
    }

    /// axe-core's violations on the current page.
    async fn axe(&self) -> Vec<Value> {
        let injected = format!("{}\nreturn typeof axe;", crate::checkers::axe_source());
        let kind = self
            .client
            .execute(&injected, vec![])
            .await
            .expect("inject axe-core");
        assert_eq!(kind, json!("object"), "axe-core is in the page");
        match self
            .client
            .execute_async(AXE_RUN, vec![])
            .await
            .expect("run axe-core")
        {
            Value::Array(violations) => violations,
            other => panic!("axe-core answered {other}"),
        }
    }
}

/// What `probe` answers, asked every 50 ms for at most `limit`; past that, a panic with
/// what it last said was missing.
async fn until<T>(limit: Duration, mut probe: impl AsyncFnMut() -> Result<T, String>) -> T {
    let started = Instant::now();
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(missing) => assert!(started.elapsed() < limit, "{missing}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether WebDriver says the element is gone with its page. Chromium sometimes says so
/// as an "unknown error" from its inspector instead of "stale element reference" (seen
/// in CI: "Node with given id does not belong to the document").
fn is_stale(error: &fantoccini::error::CmdError) -> bool {
    error.is_stale_element_reference()
        || error
            .to_string()
            .contains("does not belong to the document")
}

/// chromedriver, and so Chromium, kept to the last CPU when there are several.
/// Chromium raises its own threads' priority (as root, it may); left free on a small
/// shared machine it starved everything else there, this test process (run under
/// `nice`) and the shell that started it included, until the run stalled. On one CPU
/// the whole walk runs as fast, and the other CPUs stay responsive.
fn chromedriver() -> Command {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let pinned = cpus > 1
        && Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
    if pinned {
        let mut command = Command::new("taskset");
        command.args(["-c", &(cpus - 1).to_string(), "chromedriver"]);
        command
    } else {
        Command::new("chromedriver")
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

pub async fn fill_form(
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

pub fn card_css(ckid: &str) -> String {
    format!("#resident-{ckid}")
}

#[tokio::test]
async fn a_visitor_registers_a_server_finds_it_and_feeds_it() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    app.admit("Old Timer", "m4.large", "linux").await;
    app.admit("Speedy", "z1d.large", "freebsd").await;
    app.admit("Gamer", "p3.2xlarge", "windows").await;
    let browser = Browser::start().await;

    browser.goto(&app.url("/")).await;
    assert!(browser.text("h1").await.contains("warm place to rest"));

    browser.goto(&app.url("/register")).await;
    fill_form(&browser, "Cuddles", "t3.medium", "6", "snugglebot", "linux").await;
    browser.click("submit").await;
    let thanks = browser.wait_for_path("/register/thanks").await;
    assert!(browser.text("h1").await.contains("Cuddles has moved in"));
    let ckid = thanks
        .split("ckid=")
        .nth(1)
        .expect("the new ckid")
        .to_owned();

    browser.goto(&app.url("/residents")).await;
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
    browser.click_css(&format!("{card} .button-feed")).await;
    // Back on the list, at the card, which says who was fed and how it went.
    let started = Instant::now();
    loop {
        let url = browser.client.current_url().await.expect("current URL");
        if url.query().is_some_and(|q| q.contains("fed=")) {
            assert_eq!(url.fragment(), Some(&card[1..]), "{url}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no redirect: {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        browser.text(&format!("{card} .fed-note")).await,
        "You fed Cuddles. Happiness went up from 5 to 6 out of 10."
    );
    assert_eq!(
        browser.text(&format!("{card} .happiness-value")).await,
        "6/10"
    );
    assert!(
        browser
            .text(&format!("{card} .meals"))
            .await
            .contains("Fed once")
    );
    // Landed on the card, with room above it (not flush to the top of the viewport).
    let top = browser
        .number(
            "return document.querySelector(arguments[0]).getBoundingClientRect().top;",
            vec![json!(card)],
        )
        .await;
    assert!(
        (8.0..200.0).contains(&top),
        "the card is {top} px from the top"
    );

    browser.goto(&app.url(&format!("/residents/{ckid}"))).await;
    assert_eq!(browser.text("h1").await, "Cuddles");
    assert!(
        browser
            .text(".bio")
            .await
            .starts_with("Cuddles is a burstable server")
    );
    let facts = browser.text(".profile-facts").await.to_lowercase();
    assert!(facts.contains("last fed\njust now"), "{facts}");
    browser.close().await;
}

#[tokio::test]
async fn an_invalid_form_shows_the_errors_in_the_sites_words_and_keeps_the_input() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/register")).await;
    fill_form(&browser, "", "t2.micro", "a hundred and one", "pebbles", "").await;
    browser.click("submit").await;
    let summary = browser.text(".error-summary").await;
    assert!(summary.contains("Please check the form"), "{summary}");
    for (id, label) in [
        ("name", "server name"),
        ("service", "years in service"),
        ("os", "operating system"),
    ] {
        let error = browser.text(&format!("#{id}-error")).await;
        assert!(error.to_lowercase().contains(label), "{id}: {error}");
        assert!(!error.starts_with(id), "{id}: register's words: {error}");
    }
    assert_eq!(browser.value("type").await, "t2.micro");
    assert_eq!(browser.value("service").await, "a hundred and one");
    assert_eq!(browser.value("petname").await, "pebbles");
    assert!(app.all_residents().await.is_empty());
    browser.close().await;
}

/// issue 18: admit, press Back, change the name, send — used to show the red
/// "already sent" box, because Back brought back the used token. The form is sent
/// `no-store`, so a browser that honours it for Back offers a fresh form; Chromium keeps
/// such pages in its back/forward cache anyway (it restores the very page, token and
/// all), and then the page says what happened — the first server moved in — and one
/// more press admits the second.
#[tokio::test]
async fn back_after_an_admission_leads_to_admitting_another_server_without_an_error() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/register")).await;
    let used = token_in(&browser.source().await);
    fill_form(&browser, "First Arrival", "m5.large", "3", "", "linux").await;
    browser.click("submit").await;
    browser.wait_for_path("/register/thanks").await;
    browser.client.back().await.expect("back");
    browser.wait_for_path("/register").await;
    let restored = token_in(&browser.source().await) == used;
    browser.fill("name", "Second Arrival").await;
    browser.click("submit").await;
    if restored {
        assert_eq!(
            browser.text(".notice h2").await,
            "This form was already used"
        );
        let notice = browser
            .client
            .find(Locator::Css(".notice"))
            .await
            .expect("the notice");
        assert_eq!(
            notice.attr("class").await.expect("class").as_deref(),
            Some("notice notice-info"),
            "news, not an error"
        );
        assert!(
            browser
                .client
                .find(Locator::Css(".error-summary"))
                .await
                .is_err(),
            "no error box"
        );
        assert_eq!(browser.value("name").await, "Second Arrival", "input kept");
        browser.click("submit").await;
    }
    browser.wait_for_path("/register/thanks").await;
    assert!(
        browser
            .text("h1")
            .await
            .contains("Second Arrival has moved in")
    );
    let mut names: Vec<String> = app
        .all_residents()
        .await
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["First Arrival", "Second Arrival"]);
    browser.close().await;
}

#[tokio::test]
async fn a_double_click_on_submit_admits_one_server() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/register")).await;
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
    let named: Vec<_> = app
        .all_residents()
        .await
        .into_iter()
        .filter(|r| r["name"] == "Double Trouble")
        .collect();
    assert_eq!(named.len(), 1, "{named:?}");
    browser.close().await;
}
