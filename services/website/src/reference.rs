//! The reference a failure's page asks the visitor to quote (the request's X-Ray trace
//! ID), and, when the operator sets `TRACE_LOOKUP`, where staff look it up.

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// What `TRACE_LOOKUP` is replaced in.
const PLACEHOLDER: &str = "{trace_id}";

/// `TRACE_LOOKUP`: where a quoted trace ID is looked up, as a template holding
/// `{trace_id}`, such as `cargo xtask trace {trace_id}` or
/// `http://127.0.0.1:16686/trace/{trace_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLookup(Arc<str>);

impl FromStr for TraceLookup {
    type Err = String;
    fn from_str(template: &str) -> Result<Self, Self::Err> {
        let template = template.trim();
        if !template.contains(PLACEHOLDER) {
            return Err(format!("expected a template holding {PLACEHOLDER}"));
        }
        if template.chars().any(char::is_control) {
            return Err("expected one line without control characters".into());
        }
        Ok(Self(template.into()))
    }
}

impl TraceLookup {
    /// Where to look `trace_id` up.
    fn lookup(&self, trace_id: &str) -> Lookup {
        let text = self.0.replace(PLACEHOLDER, trace_id);
        if text.starts_with("http://") || text.starts_with("https://") {
            Lookup::Link(text)
        } else {
            Lookup::Command(text)
        }
    }
}

/// Where a reference is looked up: an address (a link on the page) or a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Link(String),
    Command(String),
}

/// A reference to quote, and where to look it up when the operator said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub trace_id: String,
    pub lookup: Option<Lookup>,
}

impl Reference {
    pub fn new(trace_id: String, lookup: Option<&TraceLookup>) -> Self {
        Self {
            lookup: lookup.map(|lookup| lookup.lookup(&trace_id)),
            trace_id,
        }
    }

    /// The current request's reference, with the lookup [`with_trace_lookup`] set for
    /// it; none outside a traced request.
    pub fn current() -> Option<Self> {
        let trace_id = telemetry::http::current_trace_id()?;
        let lookup = TRACE_LOOKUP.try_with(Clone::clone).ok().flatten();
        Some(Self::new(trace_id, lookup.as_ref()))
    }
}

tokio::task_local! {
    /// The lookup for the request being handled. Task-local rather than passed along
    /// because error pages are made by `IntoResponse`, which has no state, from every
    /// handler; like the trace ID it goes with (the request's span), it belongs to the
    /// request.
    static TRACE_LOOKUP: Option<TraceLookup>;
}

/// Middleware (`from_fn_with_state(config.trace_lookup, ...)`): the pages made while
/// handling the request say where to look their reference up.
pub async fn with_trace_lookup(
    State(lookup): State<Option<TraceLookup>>,
    request: Request,
    next: Next,
) -> Response {
    TRACE_LOOKUP.scope(lookup, next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn a_template_needs_the_placeholder_and_one_line() {
        assert!("cargo xtask trace".parse::<TraceLookup>().is_err());
        assert!("".parse::<TraceLookup>().is_err());
        assert!(
            "cargo xtask trace {trace_id}\nrm -rf"
                .parse::<TraceLookup>()
                .is_err()
        );
        assert!(
            " cargo xtask trace {trace_id} "
                .parse::<TraceLookup>()
                .is_ok()
        );
    }

    #[test]
    fn an_address_is_a_link_anything_else_a_command() {
        let link: TraceLookup = "http://127.0.0.1:16686/trace/{trace_id}".parse().unwrap();
        assert_eq!(
            Reference::new(TRACE.into(), Some(&link)).lookup,
            Some(Lookup::Link(format!(
                "http://127.0.0.1:16686/trace/{TRACE}"
            )))
        );
        let command: TraceLookup = "cargo xtask trace {trace_id}".parse().unwrap();
        assert_eq!(
            Reference::new(TRACE.into(), Some(&command)).lookup,
            Some(Lookup::Command(format!("cargo xtask trace {TRACE}")))
        );
        let ftp: TraceLookup = "ftp://traces/{trace_id}".parse().unwrap();
        assert!(matches!(
            Reference::new(TRACE.into(), Some(&ftp)).lookup,
            Some(Lookup::Command(_))
        ));
        assert_eq!(Reference::new(TRACE.into(), None).lookup, None);
    }
}
