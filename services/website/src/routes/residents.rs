//! The residents: the listing (pages, the OS filter), a resident's own page, and
//! feeding, which redirects back to where the visitor was with a word on who was fed.

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{LinkQuery, encode, resident_id};
use crate::AppState;
use crate::api_client::{PAGE_SIZE, UpstreamError};
use crate::card::{Card, FedNote, Profile};
use crate::error::WebError;
use crate::form::token_key;
use crate::pages::{OsChoice, Page, ResidentPage, ResidentsPage, Retry, Section};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/residents", get(list))
        .route("/residents/{ckid}", get(resident))
        .route("/residents/{ckid}/feed", post(feed))
}

/// How many other residents a resident's page shows.
const NEIGHBOURS: usize = 3;

/// The query parameters that carry the word after a feeding (`fed=<ckid>`,
/// `happiness=<after>`); they are dropped from every address a page links back to.
const FED: &str = "fed";
const HAPPINESS: &str = "happiness";

/// After the redirect from a feeding: which resident was fed and its happiness after.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Feedback {
    fed: String,
    happiness: String,
}

impl Feedback {
    /// The happiness after the feeding, when a resident was fed.
    fn happiness(&self) -> Option<u8> {
        if self.fed.is_empty() {
            return None;
        }
        self.happiness
            .parse::<u8>()
            .ok()
            .filter(|h| (1..=10).contains(h))
    }

    /// The happiness after the feeding, when `ckid` is the resident fed.
    fn happiness_of(&self, ckid: &str) -> Option<u8> {
        self.happiness().filter(|_| self.fed == ckid)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    cursor: String,
    os: String,
    /// The page number, a label only (the cursor says which residents).
    page: String,
    #[serde(flatten)]
    feedback: Feedback,
}

fn non_empty(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

/// The listing's address for a cursor, filter and page number.
fn listing_href(cursor: Option<&str>, os: Option<&str>, page: Option<u32>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(cursor) = cursor {
        query.append_pair("cursor", cursor);
    }
    if let Some(os) = os {
        query.append_pair("os", os);
    }
    if let Some(page) = page.filter(|page| *page > 1) {
        query.append_pair("page", &page.to_string());
    }
    match query.finish() {
        query if query.is_empty() => "/residents".to_owned(),
        query => format!("/residents?{query}"),
    }
}

#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    LinkQuery(query): LinkQuery<ListQuery>,
) -> Result<Response, WebError> {
    let os = non_empty(&query.os);
    let cursor = non_empty(&query.cursor);
    // Page 1 has no cursor; a later page says its number, unless the link was made
    // without one (then it is just "more").
    let page = match cursor {
        None => Some(1),
        Some(_) => query.page.parse::<u32>().ok().filter(|page| *page > 1),
    };
    let (listing, systems) = tokio::join!(
        state.apis.list_residents(cursor, os, PAGE_SIZE),
        state.systems()
    );
    let listing = listing?;
    let mut cards: Vec<Card> = listing.servers.into_iter().map(Card::from).collect();
    let mut fed_elsewhere = None;
    if let Some(happiness) = query.feedback.happiness() {
        match cards
            .iter_mut()
            .find(|card| card.ckid == query.feedback.fed)
        {
            Some(card) => card.mark_fed(happiness),
            None => fed_elsewhere = Some(FedNote::new("the resident", happiness)),
        }
    }
    let wanted = os.map(str::to_lowercase);
    let os_choices: Vec<OsChoice> = systems
        .into_iter()
        .map(|system| OsChoice {
            current: wanted.as_deref() == Some(system.key.as_str()),
            href: format!("/residents?os={}", encode(&system.key)),
            label: system.label,
        })
        .collect();
    let os_label = os_choices.iter().find(|choice| choice.current).map_or_else(
        || os.unwrap_or_default().to_owned(),
        |choice| choice.label.clone(),
    );
    let next_href = listing
        .next_cursor
        .map(|next| listing_href(Some(&next), os, page.map(|page| page + 1)));
    Ok(Page::ok(ResidentsPage {
        section: Section::Residents,
        cards,
        os: os.unwrap_or_default().to_owned(),
        os_label,
        os_choices,
        page: page.unwrap_or(0),
        next_href,
        first_href: cursor.map(|_| listing_href(None, os, None)),
        return_to: listing_href(cursor, os, page),
        fed_elsewhere,
    })
    .no_store()
    .into_response())
}

#[tracing::instrument(skip(state, feedback))]
async fn resident(
    State(state): State<AppState>,
    Path(ckid): Path<String>,
    feedback: Result<Query<Feedback>, QueryRejection>,
) -> Result<Response, WebError> {
    let ckid = resident_id(&ckid)?;
    let mut card = Card::from(state.apis.resident(&ckid).await?);
    if let Ok(Query(feedback)) = feedback
        && let Some(happiness) = feedback.happiness_of(&card.ckid)
    {
        card.mark_fed(happiness);
    }
    // The neighbours are a nicety: the page is served without them if they cannot be
    // listed (the cause is logged by the call).
    let limit = u8::try_from(NEIGHBOURS + 1).unwrap_or(u8::MAX);
    let neighbours = state
        .apis
        .list_residents(None, non_empty(&card.os), limit)
        .await
        .ok()
        .map(|listing| {
            listing
                .servers
                .into_iter()
                .filter(|resident| resident.ckid != ckid)
                .take(NEIGHBOURS)
                .map(Card::from)
                .collect()
        });
    let profile = Profile::of(&card, OffsetDateTime::now_utc());
    let return_to = card.href();
    Ok(Page::ok(ResidentPage {
        section: Section::Residents,
        card,
        profile,
        neighbours,
        return_to,
    })
    .no_store()
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FeedForm {
    return_to: String,
    idempotency_token: String,
}

/// Whether `target` is a path on this site, safe to redirect to: it starts with one
/// `/` (not `//`, which a browser reads as another host), has no backslash (browsers
/// read `/\` as `//`) and nothing a header value cannot hold.
fn is_local_path(target: &str) -> bool {
    target.starts_with('/')
        && !target.starts_with("//")
        && target.len() <= 2048
        && target.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

/// Where a feeding goes back to: the form's `return_to` when it is a local path (its
/// fragment and any earlier feeding's word dropped), else the resident's own page.
fn back_to(return_to: &str, ckid: &str) -> String {
    if !is_local_path(return_to) {
        return format!("/residents/{ckid}");
    }
    let without_fragment = return_to.split('#').next().unwrap_or(return_to);
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name != FED && name != HAPPINESS)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        return path.to_owned();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    format!("{path}?{query}")
}

/// `back` with the word on the feeding, at the resident's card.
fn with_feedback(back: &str, ckid: &str, happiness: u8) -> String {
    let separator = if back.contains('?') { '&' } else { '?' };
    format!("{back}{separator}{FED}={ckid}&{HAPPINESS}={happiness}#resident-{ckid}")
}

#[tracing::instrument(skip(state, form))]
async fn feed(
    State(state): State<AppState>,
    Path(ckid): Path<String>,
    form: Result<axum::Form<FeedForm>, FormRejection>,
) -> Result<Response, WebError> {
    let ckid = resident_id(&ckid)?;
    let form = match form {
        Ok(axum::Form(form)) => form,
        Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(WebError::TooLarge);
        }
        // A client that sends no form (or another kind) feeds without a token and goes
        // back to the resident.
        Err(_) => FeedForm::default(),
    };
    let back = back_to(&form.return_to, ckid.as_str());
    let expired = || WebError::BadFeedButton {
        resident: format!("/residents/{ckid}"),
    };
    let key = token_key(&form.idempotency_token).map_err(|_| expired())?;
    let retry = || Retry::Feed {
        action: format!("/residents/{ckid}/feed"),
        token: form.idempotency_token.clone(),
        return_to: back.clone(),
    };
    match state.apis.feed_resident(&ckid, key.as_ref()).await {
        Ok(resident) => {
            let target = with_feedback(&back, ckid.as_str(), resident.happiness);
            Ok(Redirect::to(&target).into_response())
        }
        Err(UpstreamError::NotFound) => Err(WebError::NotFound),
        Err(UpstreamError::Unavailable) => Err(WebError::FeedNotSent(retry())),
        // A 500 (or an answer not understood) says no more than "unknown" either.
        Err(UpstreamError::OutcomeUnknown | UpstreamError::Unexpected) => {
            Err(WebError::FeedUnconfirmed(retry()))
        }
        Err(
            UpstreamError::BadRequest
            | UpstreamError::Conflict
            | UpstreamError::TooLarge
            | UpstreamError::Invalid(_)
            | UpstreamError::Refused(_),
        ) => Err(expired()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        for good in [
            "/",
            "/residents",
            "/residents?cursor=abc&os=linux",
            "/residents/ck1",
        ] {
            assert!(is_local_path(good), "{good}");
        }
        for bad in [
            "",
            "residents",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "/residents\r\nSet-Cookie: x=1",
            "/a b",
            "\\\\evil.example",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
            assert_eq!(back_to(bad, "ck1"), "/residents/ck1", "{bad:?}");
        }
    }

    #[test]
    fn going_back_drops_the_fragment_and_an_earlier_feedings_word() {
        assert_eq!(back_to("/residents", "ck1"), "/residents");
        assert_eq!(
            back_to(
                "/residents?os=linux&fed=ck0&happiness=4#resident-ck0",
                "ck1"
            ),
            "/residents?os=linux"
        );
        assert_eq!(
            back_to("/residents/ck1?fed=ck1&happiness=6", "ck1"),
            "/residents/ck1"
        );
        assert_eq!(
            with_feedback("/residents?os=linux", "ck1", 6),
            "/residents?os=linux&fed=ck1&happiness=6#resident-ck1"
        );
        assert_eq!(
            with_feedback("/residents/ck1", "ck1", 10),
            "/residents/ck1?fed=ck1&happiness=10#resident-ck1"
        );
    }

    #[test]
    fn the_word_after_feeding_is_for_the_resident_fed_only() {
        let feedback = Feedback {
            fed: "ck1".into(),
            happiness: "6".into(),
        };
        assert_eq!(feedback.happiness_of("ck1"), Some(6));
        assert_eq!(feedback.happiness_of("ck2"), None);
        for bad in ["0", "11", "six", ""] {
            let feedback = Feedback {
                fed: "ck1".into(),
                happiness: bad.into(),
            };
            assert_eq!(feedback.happiness_of("ck1"), None, "{bad}");
        }
    }

    #[test]
    fn listing_addresses_carry_cursor_filter_and_page() {
        assert_eq!(listing_href(None, None, Some(1)), "/residents");
        assert_eq!(
            listing_href(None, Some("linux"), None),
            "/residents?os=linux"
        );
        assert_eq!(
            listing_href(Some("abc.def"), Some("Free BSD"), Some(3)),
            "/residents?cursor=abc.def&os=Free+BSD&page=3"
        );
    }
}
