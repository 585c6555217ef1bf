//! Routes and handlers: parse → call an API → render a page or redirect. The residents'
//! pages and feeding are in `residents.rs`, the admittance form in `admission.rs`.

mod admission;
mod residents;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderValue, Uri, header};
use axum::response::IntoResponse;
use axum::routing::get;
use domain::ResidentId;

use crate::AppState;
use crate::error::WebError;
use crate::pages::{AboutPage, HomePage, Page, Section};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/about", get(about))
        .route("/robots.txt", get(robots))
        .merge(residents::routes())
        .merge(admission::routes())
        // Last: it applies to the routes registered before it.
        .method_not_allowed_fallback(method_not_allowed)
}

/// A page's query string; one that does not parse is a bad link (the 400 page).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(WebError))]
struct LinkQuery<T>(T);

impl From<QueryRejection> for WebError {
    fn from(_: QueryRejection) -> Self {
        Self::BadLink
    }
}

/// The fallback: the 404 page for any path the site does not have.
pub async fn not_found() -> WebError {
    WebError::NotFound
}

/// The 405 page (axum adds `Allow`). A feed button's address, visited, leads on to the
/// resident it belongs to.
async fn method_not_allowed(uri: Uri) -> WebError {
    let onward = uri
        .path()
        .strip_prefix("/residents/")
        .and_then(|rest| rest.strip_suffix("/feed"))
        .and_then(|ckid| resident_id(ckid).ok())
        .map(|ckid| {
            (
                format!("/residents/{ckid}"),
                "Go to the resident".to_owned(),
            )
        });
    WebError::MethodNotAllowed { onward }
}

async fn home() -> impl IntoResponse {
    Page::ok(HomePage {
        section: Section::Home,
    })
}

async fn about() -> impl IntoResponse {
    Page::ok(AboutPage {
        section: Section::About,
    })
}

/// Crawlers are welcome everywhere but on thank-you pages (one visitor's moment) and
/// feed buttons (which only take POST anyway).
const ROBOTS: &str = "User-agent: *\nDisallow: /register/thanks\nDisallow: /residents/*/feed\n";

async fn robots() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        ROBOTS,
    )
}

/// A resident id from a path, or 404 without asking an API. Dot-only ids are refused
/// as well: in a URL path they would climb out of `/v1/servers/`.
fn resident_id(ckid: &str) -> Result<ResidentId, WebError> {
    if ckid.bytes().all(|b| b == b'.') {
        return Err(WebError::NotFound);
    }
    ResidentId::parse(ckid).map_err(|_| WebError::NotFound)
}

/// A query value, form-encoded.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_ids_and_odd_ids_are_not_residents() {
        for bad in [".", "..", "...", "a/b", "a#b", "", &"x".repeat(65)] {
            assert!(resident_id(bad).is_err(), "{bad}");
        }
        assert!(resident_id("01DD36HHG000000000030DT7GA").is_ok());
        assert!(resident_id("ck1").is_ok());
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("abc.DEF-_"), "abc.DEF-_");
        assert_eq!(encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
