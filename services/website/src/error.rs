//! What a visitor sees when a page cannot be served. The cause is logged where it
//! happens (`api.rs`); a visitor only ever sees one of these pages, never an internal
//! message.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::api::ApiError;
use crate::pages::{ErrorPage, INTERNAL_ERROR_PAGE, Page, Section};

/// Seconds a visitor (or a crawler) is asked to wait when an API is down.
const RETRY_AFTER_SECONDS: &str = "30";

#[derive(Debug)]
pub enum WebError {
    /// No such page or resident (404).
    NotFound,
    /// A link or form that cannot be right: a tampered cursor, a broken form (400).
    BadRequest,
    /// An API the page needs is not answering (503).
    Unavailable,
    /// A bug (500).
    Internal,
}

impl From<ApiError> for WebError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::NotFound => Self::NotFound,
            ApiError::BadRequest => Self::BadRequest,
            ApiError::Unavailable => Self::Unavailable,
            ApiError::Invalid(_) | ApiError::Conflict | ApiError::Unexpected => Self::Internal,
        }
    }
}

/// The page of a request the site shed under load or that ran out of time.
pub fn busy_page(trace_id: Option<String>) -> Response {
    unavailable_page(
        "We're a little busy",
        "So many visitors at once that this page could not be served in time. Nothing is \
         lost: please try again in a minute. If it keeps happening, tell us the reference \
         below so we can follow your request.",
        trace_id,
    )
}

fn unavailable_page(
    heading: &'static str,
    message: &'static str,
    trace_id: Option<String>,
) -> Response {
    let mut response = page(StatusCode::SERVICE_UNAVAILABLE, heading, message, trace_id);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    response
}

fn page(
    status: StatusCode,
    heading: &'static str,
    message: &'static str,
    trace_id: Option<String>,
) -> Response {
    Page(
        status,
        ErrorPage {
            section: Section::None,
            status: status.as_u16(),
            heading,
            message,
            trace_id,
        },
    )
    .into_response()
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => page(
                StatusCode::NOT_FOUND,
                "We couldn't find that page",
                "Nobody by that name lives here, or the page has moved. Perhaps they are \
                 napping in another wing — try the list of residents.",
                None,
            ),
            Self::BadRequest => page(
                StatusCode::BAD_REQUEST,
                "That link doesn't look right",
                "The address was changed or has expired. Start again from the list of \
                 residents.",
                None,
            ),
            Self::Unavailable => unavailable_page(
                "The residents are resting",
                "We can't reach the part of Cuddle Kube that looks after the residents right \
                 now. Nothing is lost: please try again in a minute. If it keeps happening, \
                 tell us the reference below so we can follow your request.",
                telemetry::http::current_trace_id(),
            ),
            Self::Internal => {
                (StatusCode::INTERNAL_SERVER_ERROR, Html(INTERNAL_ERROR_PAGE)).into_response()
            }
        }
    }
}
