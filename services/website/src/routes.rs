//! Routes and handlers: parse → call an API → render a page or redirect.

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::ResidentId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::ApiError;
use crate::error::WebError;
use crate::pages::{
    AboutPage, Card, FormErrors, HomePage, Page, RegisterForm, RegisterPage, ResidentPage,
    ResidentsPage, Section, ThanksPage,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/about", get(about))
        .route("/residents", get(residents))
        .route("/residents/{ckid}", get(resident))
        .route("/residents/{ckid}/feed", post(feed))
        .route("/register", get(register_form).post(register))
        .route("/register/thanks", get(thanks))
}

/// The fallback: the 404 page for any path the site does not have.
pub async fn not_found() -> WebError {
    WebError::NotFound
}

async fn home() -> impl IntoResponse {
    Page(
        StatusCode::OK,
        HomePage {
            section: Section::Home,
        },
    )
}

async fn about() -> impl IntoResponse {
    Page(
        StatusCode::OK,
        AboutPage {
            section: Section::About,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    cursor: String,
    os: String,
}

fn non_empty(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

#[tracing::instrument(skip_all)]
async fn residents(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let Query(query) = query.map_err(|_| WebError::BadRequest)?;
    let os = non_empty(&query.os);
    let cursor = non_empty(&query.cursor);
    let page = state.list_residents(cursor, os).await?;
    let filter = os.map(|os| format!("os={}", encode(os)));
    let next_href = page.next_cursor.map(|next| {
        let mut href = format!("/residents?cursor={}", encode(&next));
        if let Some(filter) = &filter {
            href.push('&');
            href.push_str(filter);
        }
        href
    });
    let first_href = cursor.map(|_| match &filter {
        Some(filter) => format!("/residents?{filter}"),
        None => "/residents".to_owned(),
    });
    let return_to = uri
        .path_and_query()
        .map_or_else(|| "/residents".to_owned(), |p| p.as_str().to_owned());
    Ok(Page(
        StatusCode::OK,
        ResidentsPage {
            section: Section::Residents,
            cards: page.servers.into_iter().map(Card::from).collect(),
            os: os.unwrap_or_default().to_owned(),
            next_href,
            first_href,
            return_to,
        },
    )
    .into_response())
}

/// A resident id from a path, or 404 without asking an API. Dot-only ids are refused
/// as well: in a URL path they would climb out of `/v1/servers/`.
fn resident_id(ckid: &str) -> Result<ResidentId, WebError> {
    if ckid.bytes().all(|b| b == b'.') {
        return Err(WebError::NotFound);
    }
    ResidentId::parse(ckid).map_err(|_| WebError::NotFound)
}

#[tracing::instrument(skip(state))]
async fn resident(
    State(state): State<AppState>,
    Path(ckid): Path<String>,
) -> Result<Response, WebError> {
    let ckid = resident_id(&ckid)?;
    let card = Card::from(state.resident(&ckid).await?);
    let return_to = card.href();
    Ok(Page(
        StatusCode::OK,
        ResidentPage {
            section: Section::Residents,
            card,
            return_to,
        },
    )
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FeedForm {
    return_to: String,
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

#[tracing::instrument(skip(state, form))]
async fn feed(
    State(state): State<AppState>,
    Path(ckid): Path<String>,
    form: Result<axum::Form<FeedForm>, FormRejection>,
) -> Result<Response, WebError> {
    let ckid = resident_id(&ckid)?;
    let return_to = form.map(|f| f.0.return_to).unwrap_or_default();
    state.feed(&ckid).await?;
    let back = if is_local_path(&return_to) {
        return_to
    } else {
        format!("/residents/{ckid}")
    };
    // Back to the resident's card, wherever it is on the page.
    let back = if back.contains('#') {
        back
    } else {
        format!("{back}#resident-{ckid}")
    };
    Ok(Redirect::to(&back).into_response())
}

async fn register_form() -> impl IntoResponse {
    Page(
        StatusCode::OK,
        RegisterPage {
            section: Section::Register,
            form: RegisterForm {
                idempotency_token: new_token(),
                ..RegisterForm::default()
            },
            errors: FormErrors::default(),
        },
    )
}

/// A fresh idempotency token for one filling-in of the form: the same token on a
/// double submit makes register admit the server once.
fn new_token() -> String {
    ulid::Ulid::new().to_string()
}

/// The registration register is sent: the form's fields as typed. `service` goes as a
/// number when it is one and as the text typed otherwise, so register reports it beside
/// the other fields' problems; left empty it is not sent (register's default applies).
fn registration(form: &RegisterForm) -> Value {
    let mut body = json!({
        "name": form.name,
        "type": form.server_type,
        "petname": form.petname,
        "os": form.os,
    });
    let service = form.service.trim();
    if !service.is_empty() {
        body["service"] = service
            .parse::<u64>()
            .map_or_else(|_| Value::from(service), Value::from);
    }
    body
}

#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    form: Result<axum::Form<RegisterForm>, FormRejection>,
) -> Result<Response, WebError> {
    let axum::Form(mut form) = form.map_err(|_| WebError::BadRequest)?;
    let token = form.idempotency_token.trim().to_owned();
    let mut errors = FormErrors::default();
    let status = match state.register(&registration(&form), &token).await {
        Ok(resident) => {
            return Ok(
                Redirect::to(&format!("/register/thanks?ckid={}", resident.ckid)).into_response(),
            );
        }
        Err(ApiError::Invalid(problems)) => {
            for problem in problems {
                errors.add(&problem.field, problem.message);
            }
            if errors.is_empty() {
                errors
                    .general
                    .push("Please check the details and send the form again.".to_owned());
            }
            // Refused registrations do not use up the token: keep it.
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(ApiError::Conflict) => {
            errors.general.push(
                "This form was already sent once with different details, and that first \
                 request was received. To admit another server, check the details below and \
                 send the form again."
                    .to_owned(),
            );
            form.idempotency_token = new_token();
            StatusCode::CONFLICT
        }
        Err(ApiError::BadRequest) => {
            errors.general.push(
                "The form had expired. Please check the details and send it again.".to_owned(),
            );
            form.idempotency_token = new_token();
            StatusCode::BAD_REQUEST
        }
        Err(other) => return Err(other.into()),
    };
    Ok(Page(
        status,
        RegisterPage {
            section: Section::Register,
            form,
            errors,
        },
    )
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ThanksQuery {
    ckid: String,
}

#[tracing::instrument(skip_all)]
async fn thanks(
    State(state): State<AppState>,
    query: Result<Query<ThanksQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let Query(query) = query.map_err(|_| WebError::BadRequest)?;
    let ckid = resident_id(&query.ckid)?;
    let card = Card::from(state.resident(&ckid).await?);
    let return_to = card.href();
    Ok(Page(
        StatusCode::OK,
        ThanksPage {
            section: Section::Register,
            card,
            return_to,
        },
    )
    .into_response())
}

/// A query value, form-encoded.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
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
        }
    }

    #[test]
    fn dot_ids_and_odd_ids_are_not_residents() {
        for bad in [".", "..", "...", "a/b", "a#b", "", &"x".repeat(65)] {
            assert!(resident_id(bad).is_err(), "{bad}");
        }
        assert!(resident_id("01DD36HHG000000000030DT7GA").is_ok());
        assert!(resident_id("ck1").is_ok());
    }

    #[test]
    fn service_goes_as_typed_when_not_a_number() {
        let mut form = RegisterForm {
            name: "n".into(),
            server_type: "t3.micro".into(),
            os: "linux".into(),
            ..RegisterForm::default()
        };
        assert!(registration(&form).get("service").is_none());
        form.service = " 7 ".into();
        assert_eq!(registration(&form)["service"], json!(7));
        form.service = "ten".into();
        assert_eq!(registration(&form)["service"], json!("ten"));
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("abc.DEF-_"), "abc.DEF-_");
        assert_eq!(encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
