//! The admittance form: post/redirect/get to a thank-you page, or the form again with
//! everything typed kept and a word on what to do, whatever register answered.

use axum::Router;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::{LinkQuery, resident_id};
use crate::AppState;
use crate::api_client::UpstreamError;
use crate::card::Card;
use crate::error::WebError;
use crate::form::{FormErrors, Notice, RegisterForm, new_token, token_key};
use crate::pages::{Page, RegisterPage, Section, ThanksPage};
use crate::reference::Reference;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/register", get(register_form).post(register))
        .route("/register/thanks", get(thanks))
}

/// Never stored: Back to the form fetches a fresh token instead of offering a used one
/// (which register would answer with 409 for new details).
async fn register_form() -> impl IntoResponse {
    Page::ok(RegisterPage::new(RegisterForm::fresh())).no_store()
}

#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    form: Result<axum::Form<RegisterForm>, FormRejection>,
) -> Response {
    let mut form = match form {
        Ok(axum::Form(form)) => form,
        // Longer than the body limit, without saying so up front: nothing was read.
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return WebError::TooLarge.into_response();
        }
        Err(_) => {
            // Not a form the site's page sends: start again with an empty one.
            let page = RegisterPage {
                notice: Some(Notice::expired()),
                ..RegisterPage::new(RegisterForm::fresh())
            };
            return Page::with_status(StatusCode::BAD_REQUEST, page)
                .no_store()
                .into_response();
        }
    };
    let key = match token_key(&form.idempotency_token) {
        Ok(key) => key,
        Err(_) => {
            form.idempotency_token = new_token();
            return again(StatusCode::BAD_REQUEST, form, None, Some(Notice::expired()));
        }
    };
    match state
        .apis
        .admit_resident(&form.registration(), key.as_ref())
        .await
    {
        Ok(resident) => {
            Redirect::to(&format!("/register/thanks?ckid={}", resident.ckid)).into_response()
        }
        Err(UpstreamError::Invalid(problems)) => {
            // A refused registration does not use up the token: it is kept.
            let errors = FormErrors::from_problems(&problems, &form);
            again(StatusCode::UNPROCESSABLE_ENTITY, form, Some(errors), None)
        }
        Err(UpstreamError::Conflict) => {
            form.idempotency_token = new_token();
            let notice = Notice::already_used();
            again(StatusCode::CONFLICT, form, None, Some(notice))
        }
        Err(UpstreamError::BadRequest) => {
            form.idempotency_token = new_token();
            again(StatusCode::BAD_REQUEST, form, None, Some(Notice::expired()))
        }
        Err(UpstreamError::TooLarge) => {
            let notice = Notice::too_large();
            again(StatusCode::PAYLOAD_TOO_LARGE, form, None, Some(notice))
        }
        Err(UpstreamError::NotFound | UpstreamError::Refused(_)) => {
            again(StatusCode::BAD_REQUEST, form, None, Some(Notice::refused()))
        }
        Err(UpstreamError::Unavailable) => {
            let notice = Notice::not_sent(Reference::current());
            again(StatusCode::SERVICE_UNAVAILABLE, form, None, Some(notice))
        }
        // A 500 (or an answer not understood) says no more than "unknown" either.
        Err(UpstreamError::OutcomeUnknown | UpstreamError::Unexpected) => {
            let notice = Notice::unconfirmed(form.typed("name"), Reference::current());
            again(StatusCode::SERVICE_UNAVAILABLE, form, None, Some(notice))
        }
    }
}

/// The form again, everything typed kept, with what went wrong.
fn again(
    status: StatusCode,
    form: RegisterForm,
    errors: Option<FormErrors>,
    notice: Option<Notice>,
) -> Response {
    let page = RegisterPage {
        errors: errors.unwrap_or_default(),
        notice,
        ..RegisterPage::new(form.for_display())
    };
    Page::with_status(status, page).no_store().into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ThanksQuery {
    ckid: String,
}

#[tracing::instrument(skip_all)]
async fn thanks(
    State(state): State<AppState>,
    LinkQuery(query): LinkQuery<ThanksQuery>,
) -> Result<Response, WebError> {
    let ckid = resident_id(&query.ckid)?;
    let card = Card::from(state.apis.resident(&ckid).await?);
    let return_to = card.href();
    Ok(Page::ok(ThanksPage {
        section: Section::Register,
        card,
        return_to,
    })
    .no_store()
    .into_response())
}
