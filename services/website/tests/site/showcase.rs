//! Every page the site can show, for the checks that look at all of them (the browser
//! at two widths with axe-core, and the Nu HTML checker): a site whose residents have
//! the longest unbroken names the APIs allow, and sites whose APIs are down, resting,
//! unsure whether a write happened, or too slow.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Html;
use service_kit::Limits;
use test_support::closed_url;

use crate::helpers::{
    TestApp, fake_api, spawn_app, spawn_app_on, spawn_app_with_limits, spawn_fake_api,
};

/// The longest names the APIs take, without a space or a hyphen to break at.
pub const LONG_NAME: &str = "WolfeschlegelsteinhausenbergerdorffWMWMWMWMMainframeWorkhorseXYZ";
pub const LONG_PET: &str = "MWMWSnugglebotWithoutSpacesWMWMW";
pub const LONG_TYPE: &str = "m5.24xlargeWMWMWMWMWMWMWMWMWMWMW";
pub const LONG_OS: &str = "LinuxDistributionWithALongNameXY";

/// What both APIs answer for a write whose outcome they do not know.
pub const OUTCOME_UNKNOWN: &str =
    "https://github.com/cuddlekube/cuddlekube/blob/main/docs/problems.md#outcome-unknown";

/// The sites, and what lives on them.
#[derive(Debug)]
pub struct Showcase {
    /// The real APIs; more than a page of residents, the newest with the long names.
    pub app: TestApp,
    /// The resident with the long names.
    pub long_ckid: String,
    /// Both APIs unreachable.
    pub down: TestApp,
    /// Reads work; writes answer a plain 503 (nothing happened).
    pub resting: TestApp,
    /// Reads work; writes answer 503 outcome-unknown.
    pub unsure: TestApp,
    /// Every page runs out of time.
    pub busy: TestApp,
    /// Serves the 500 page (and the files it uses), which no API answer can cause.
    pub internal_error_url: String,
}

impl Showcase {
    pub async fn build() -> Self {
        let app = spawn_app().await;
        for i in 0..12 {
            let os = if i % 3 == 0 { "windows" } else { "linux" };
            app.admit(&format!("Resident {i:02}"), "t3.micro", os).await;
        }
        app.admit("Grumpy Gus", "c5.large", LONG_OS).await;
        let long = app
            .admit_with(serde_json::json!({
                "name": LONG_NAME, "petname": LONG_PET, "type": LONG_TYPE, "os": LONG_OS,
                "service": 100, "happiness": 1
            }))
            .await;
        let resting_api = spawn_fake_api(fake_api(503, "about:blank")).await;
        let unsure_api = spawn_fake_api(fake_api(503, OUTCOME_UNKNOWN)).await;
        let slow = axum::Router::new().fallback(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK
        });
        let slow_api = spawn_fake_api(slow).await;
        let busy_limits = Limits {
            request_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        Self {
            long_ckid: long["ckid"].as_str().unwrap().to_owned(),
            app,
            down: spawn_app_on(&closed_url(), &closed_url()).await,
            resting: spawn_app_on(&resting_api, &resting_api).await,
            unsure: spawn_app_on(&unsure_api, &unsure_api).await,
            busy: spawn_app_with_limits(&slow_api, &slow_api, busy_limits).await,
            internal_error_url: spawn_fake_api(internal_error_site()).await,
        }
    }

    /// A form that sends the same registration with the long values (a little too
    /// long for the name, so register refuses it field by field).
    pub fn invalid_registration(token: &str) -> Vec<(&'static str, String)> {
        vec![
            ("name", format!("{LONG_NAME}WWWWWW")),
            ("type", String::new()),
            ("service", "a hundred and one".to_owned()),
            ("petname", format!("{LONG_PET}WWWW")),
            ("os", LONG_OS.to_owned()),
            ("idempotency_token", token.to_owned()),
        ]
    }

    pub fn valid_registration(token: &str) -> Vec<(&'static str, String)> {
        vec![
            ("name", LONG_NAME.to_owned()),
            ("type", LONG_TYPE.to_owned()),
            ("service", "12".to_owned()),
            ("petname", LONG_PET.to_owned()),
            ("os", LONG_OS.to_owned()),
            ("idempotency_token", token.to_owned()),
        ]
    }
}

/// The 500 page as the site answers it, and the files it asks for, read from the
/// source tree (the site itself only shows it when a page fails to render).
fn internal_error_site() -> axum::Router {
    let static_file = |path: &'static str, content_type: &'static str| {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let body = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", content_type)], body) }
        })
    };
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/500.html"),
    )
    .expect("the 500 page");
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || {
                let page = page.clone();
                async move { (StatusCode::INTERNAL_SERVER_ERROR, Html(page)) }
            }),
        )
        .route(
            "/static/site.css",
            static_file("static/site.css", "text/css"),
        )
        .route(
            "/static/avatars/sleeping.svg",
            static_file("static/avatars/sleeping.svg", "image/svg+xml"),
        )
}

/// A page on another site (another host name: `localhost`, where the site is on
/// `127.0.0.1`) whose form feeds a resident: the browser marks it cross-site.
pub async fn evil_site(target: &str) -> String {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Free \
         prizes</title></head><body><main><h1>Free prizes</h1><form method=\"post\" \
         action=\"{target}\"><input type=\"hidden\" name=\"return_to\" value=\"/\">\
         <button id=\"claim\" type=\"submit\">Claim</button></form></main></body></html>"
    );
    let url = spawn_fake_api(axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { Html(page) }
        }),
    ))
    .await;
    url.replace("127.0.0.1", "localhost")
}
