//! The site's pages: one askama template each (auto-escaped HTML), rendered through
//! [`Page`], the one `IntoResponse` wrapper, which turns a render failure into the 500
//! page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use domain::Resident;

use crate::avatar::Family;

/// The 500 page: plain HTML, not a template, so showing it cannot fail too.
pub const INTERNAL_ERROR_PAGE: &str = include_str!("../templates/500.html");

/// A template rendered with a status.
#[derive(Debug)]
pub struct Page<T>(pub StatusCode, pub T);

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        match self.1.render() {
            Ok(html) => (self.0, Html(html)).into_response(),
            Err(err) => {
                tracing::error!(error = %err, template = std::any::type_name::<T>(), "page did not render");
                (StatusCode::INTERNAL_SERVER_ERROR, Html(INTERNAL_ERROR_PAGE)).into_response()
            }
        }
    }
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

/// A resident as the pages show it.
#[derive(Debug, Clone)]
pub struct Card {
    pub ckid: String,
    pub name: String,
    pub petname: String,
    pub server_type: String,
    pub os: String,
    pub service: u16,
    pub happiness: u8,
    pub feed_count: u64,
    pub avatar: &'static str,
    pub avatar_alt: String,
}

impl From<Resident> for Card {
    fn from(resident: Resident) -> Self {
        let family = Family::of(&resident.server_type);
        Self {
            ckid: resident.ckid.to_string(),
            avatar: family.avatar(),
            avatar_alt: format!("{}, {}", resident.name, family.describe()),
            name: resident.name,
            petname: resident.petname,
            server_type: resident.server_type,
            os: resident.os,
            service: resident.service,
            happiness: resident.happiness.clamp(1, 10),
            feed_count: resident.feed_count,
        }
    }
}

impl Card {
    pub fn href(&self) -> String {
        format!("/residents/{}", self.ckid)
    }

    pub fn anchor(&self) -> String {
        format!("resident-{}", self.ckid)
    }

    /// One entry per heart of ten: full or empty.
    pub fn hearts(&self) -> Vec<bool> {
        (1..=10).map(|i| i <= self.happiness).collect()
    }

    pub fn years(&self) -> String {
        match self.service {
            1 => "1 year".to_owned(),
            n => format!("{n} years"),
        }
    }

    pub fn meals(&self) -> String {
        match self.feed_count {
            0 => "Not fed yet".to_owned(),
            1 => "Fed once".to_owned(),
            n => format!("Fed {n} times"),
        }
    }
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

#[derive(Debug, Template)]
#[template(path = "residents.html")]
pub struct ResidentsPage {
    pub section: Section,
    pub cards: Vec<Card>,
    /// The filter as typed (empty: all).
    pub os: String,
    pub next_href: Option<String>,
    /// Set when this is not the first page.
    pub first_href: Option<String>,
    /// Where a feed button brings the visitor back to.
    pub return_to: String,
}

#[derive(Debug, Template)]
#[template(path = "resident.html")]
pub struct ResidentPage {
    pub section: Section,
    pub card: Card,
    pub return_to: String,
}

#[derive(Debug, Template)]
#[template(path = "thanks.html")]
pub struct ThanksPage {
    pub section: Section,
    pub card: Card,
    pub return_to: String,
}

/// What the visitor typed into the admittance form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    pub name: String,
    #[serde(rename = "type")]
    pub server_type: String,
    pub service: String,
    pub petname: String,
    pub os: String,
    pub idempotency_token: String,
}

/// A problem per form field, shown beside it.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub name: Option<String>,
    pub server_type: Option<String>,
    pub service: Option<String>,
    pub petname: Option<String>,
    pub os: Option<String>,
    /// Problems that belong to no one field.
    pub general: Vec<String>,
}

impl FormErrors {
    /// Files `message` under the form field register named (`type` is the server
    /// type field).
    pub fn add(&mut self, field: &str, message: String) {
        let slot = match field {
            "name" => &mut self.name,
            "type" => &mut self.server_type,
            "service" => &mut self.service,
            "petname" => &mut self.petname,
            "os" => &mut self.os,
            _ => {
                self.general.push(message);
                return;
            }
        };
        match slot {
            Some(existing) => {
                existing.push_str("; ");
                existing.push_str(&message);
            }
            None => *slot = Some(message),
        }
    }

    /// (input id, message) for the summary at the top of the form, in form order.
    pub fn summary(&self) -> Vec<(&'static str, &str)> {
        [
            ("name", &self.name),
            ("type", &self.server_type),
            ("service", &self.service),
            ("petname", &self.petname),
            ("os", &self.os),
        ]
        .into_iter()
        .filter_map(|(id, message)| message.as_deref().map(|m| (id, m)))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.summary().is_empty() && self.general.is_empty()
    }
}

#[derive(Debug, Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub section: Section,
    pub form: RegisterForm,
    pub errors: FormErrors,
}

/// The 400, 404 and 503 pages.
#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub section: Section,
    pub status: u16,
    pub heading: &'static str,
    pub message: &'static str,
    /// The trace to quote when asking for help (503).
    pub trace_id: Option<String>,
}
