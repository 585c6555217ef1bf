//! The site's pages: one askama template each (auto-escaped HTML), rendered through
//! [`Page`], the one `IntoResponse` wrapper, which turns a render failure into the 500
//! page.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::card::{Card, FedNote, Profile};
use crate::form::{FormErrors, Notice, RegisterForm, Tone};
use crate::reference::{Lookup, Reference};

/// The 500 page: plain HTML, not a template, so showing it cannot fail too.
pub const INTERNAL_ERROR_PAGE: &str = include_str!("../templates/500.html");

/// Seconds a visitor (or a crawler) is asked to wait before trying a 503 again.
pub const RETRY_AFTER_SECONDS: &str = "30";

/// A template to render, with the status and caching it is answered with.
#[derive(Debug)]
pub struct Page<T> {
    status: StatusCode,
    template: T,
    no_store: bool,
    retry_after: bool,
}

impl<T: Template> Page<T> {
    /// 200.
    pub fn ok(template: T) -> Self {
        Self::with_status(StatusCode::OK, template)
    }

    pub fn with_status(status: StatusCode, template: T) -> Self {
        Self {
            status,
            template,
            no_store: false,
            retry_after: status == StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// `Cache-Control: no-store`, for a page carrying one-time tokens (forms, feed
    /// buttons): Back fetches it afresh instead of offering a used token again.
    #[must_use]
    pub fn no_store(mut self) -> Self {
        self.no_store = true;
        self
    }
}

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let html = match self.template.render() {
            Ok(html) => html,
            Err(err) => {
                tracing::error!(error = %err, template = std::any::type_name::<T>(), "page did not render");
                return internal_error_page();
            }
        };
        let mut response = (self.status, Html(html)).into_response();
        let headers = response.headers_mut();
        if self.no_store {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// The 500 page, for a bug: a page that did not render.
pub fn internal_error_page() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, Html(INTERNAL_ERROR_PAGE)).into_response()
}

/// Which part of the site a page belongs to (marks the navigation link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Home,
    Residents,
    Register,
    About,
    None,
}

#[derive(Debug, Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub section: Section,
}

#[derive(Debug, Template)]
#[template(path = "about.html")]
pub struct AboutPage {
    pub section: Section,
}

/// One choice of the OS filter: a link that lists the residents running it.
#[derive(Debug, Clone)]
pub struct OsChoice {
    pub label: String,
    pub href: String,
    pub current: bool,
}

#[derive(Debug, Template)]
#[template(path = "residents.html")]
pub struct ResidentsPage {
    pub section: Section,
    pub cards: Vec<Card>,
    /// The filter as asked for (empty: everyone).
    pub os: String,
    /// The filter as residents spell it (the choice's label), else as asked for.
    pub os_label: String,
    /// The systems residents run, each a link; empty when they could not be listed.
    pub os_choices: Vec<OsChoice>,
    /// 1 for the newest residents; counted along "More residents"; 0 for a later page
    /// whose number the link did not say.
    pub page: u32,
    pub next_href: Option<String>,
    /// Set when this is not the first page.
    pub first_href: Option<String>,
    /// Where a feed button brings the visitor back to.
    pub return_to: String,
    /// After feeding a resident whose card is not on this page.
    pub fed_elsewhere: Option<FedNote>,
}

impl ResidentsPage {
    pub fn title(&self) -> String {
        let mut title = if self.os.is_empty() {
            "Residents".to_owned()
        } else {
            format!("Residents running {}", self.os_label)
        };
        match self.page {
            1 => {}
            0 => title.push_str(", continued"),
            page => title.push_str(&format!(", page {page}")),
        }
        title
    }

    pub fn description(&self) -> String {
        let who = if self.os.is_empty() {
            "the servers retired to Cuddle Kube".to_owned()
        } else {
            format!("the servers at Cuddle Kube running {}", self.os_label)
        };
        match self.page {
            1 => format!("Meet {who}, newest arrivals first, and feed the ones who look peckish."),
            0 => format!("More of {who}: older residents, each with a feed button."),
            page => format!("Page {page} of {who}: older residents, each with a feed button."),
        }
    }

    /// Whether the filter asks for a system the choices do not offer.
    pub fn os_offered(&self) -> bool {
        self.os_choices.iter().any(|choice| choice.current)
    }
}

#[derive(Debug, Template)]
#[template(path = "resident.html")]
pub struct ResidentPage {
    pub section: Section,
    pub card: Card,
    pub profile: Profile,
    /// Other residents running the same system; `None` when they could not be listed.
    pub neighbours: Option<Vec<Card>>,
    /// Where the feed button brings the visitor back to.
    pub return_to: String,
}

#[derive(Debug, Template)]
#[template(path = "thanks.html")]
pub struct ThanksPage {
    pub section: Section,
    pub card: Card,
    pub return_to: String,
}

#[derive(Debug, Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub section: Section,
    pub form: RegisterForm,
    pub errors: FormErrors,
    pub notice: Option<Notice>,
}

impl RegisterPage {
    pub fn new(form: RegisterForm) -> Self {
        Self {
            section: Section::Register,
            form,
            errors: FormErrors::default(),
            notice: None,
        }
    }

    pub fn title(&self) -> &'static str {
        match (&self.notice, self.errors.is_empty()) {
            (_, false) => "Please check the form · Request admittance",
            (Some(notice), true) => notice.heading,
            (None, true) => "Request admittance",
        }
    }

    pub fn submit_label(&self) -> &'static str {
        match &self.notice {
            Some(notice) if notice.try_again => "Try again",
            _ => "Request admittance",
        }
    }
}

/// How an error page offers to try again.
#[derive(Debug, Clone)]
pub enum Retry {
    /// Load the same address again (a page that could not be read).
    Reload,
    /// Send the same feeding again, with the same token: safe, it is done once.
    Feed {
        action: String,
        token: String,
        return_to: String,
    },
}

/// The 400, 403, 404, 405, 413 and 503 pages.
#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub section: Section,
    pub status: u16,
    pub heading: &'static str,
    pub message: String,
    /// The trace to quote when asking for help (5xx).
    pub reference: Option<Reference>,
    pub retry: Option<Retry>,
    /// A link that leads on from here (e.g. the resident a feed button belonged to).
    pub onward: Option<(String, String)>,
}
