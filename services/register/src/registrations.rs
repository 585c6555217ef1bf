//! `POST /v1/registrations`: a registration in, a new resident out.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::{IdempotencyKey, NewResident, RegistrationInput, Resident};
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use service_kit::{ApiJson, Problem};
use store::Admission;

use crate::{ApiError, AppState};

pub const PATH: &str = "/v1/registrations";

/// The request header that makes a registration safe to retry.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Set (to `true`) on an answer that replays an earlier admission for the same key.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Where the new resident can be read (server-listing's `GET /v1/servers/{ckid}`).
pub fn location(resident: &Resident) -> String {
    format!("/v1/servers/{}", resident.ckid)
}

/// Admits a new resident.
///
/// Every field is checked and every problem is reported at once (422). With an
/// `Idempotency-Key`, a retry with the same body is answered with the first resident
/// (the same 201, body and `Location`) and never admits a second one; the same key with
/// a different body is a 409. Keys are remembered for 24 hours.
#[utoipa::path(
    post,
    path = "/v1/registrations",
    tag = "registrations",
    operation_id = "register",
    params(
        (
            "Idempotency-Key" = Option<String>, Header, nullable = false,
            min_length = 1, max_length = 128, pattern = "^[\\x21-\\x7E]+$",
            example = "3f9c2a6e-website-form-7781",
            description = "1 to 128 visible ASCII characters. The same key with the same body \
                replays the first answer (never a second resident); with a different body \
                it is a 409. Remembered for 24 hours."
        ),
    ),
    request_body(
        content = crate::api_doc::RegistrationRequest,
        content_type = "application/json",
        description = "A resident's input fields; `ckid` and unknown fields are ignored.",
    ),
    responses(
        (
            status = 201, description = "Admitted (or, for a repeated Idempotency-Key, the first admission replayed).",
            body = crate::api_doc::Resident, content_type = "application/json",
            headers(
                ("Location" = String, description = "`/v1/servers/{ckid}`: where the resident can be read."),
                ("Idempotent-Replayed" = bool, description = "`true` when this answer replays an earlier admission with the same Idempotency-Key."),
            ),
        ),
        (
            status = 400, description = "The body is not valid JSON, or the Idempotency-Key header is invalid.",
            body = service_kit::openapi::ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 409, description = "The Idempotency-Key was already used with a different body.",
            body = service_kit::openapi::ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 413, description = "The body is larger than 16 KiB.",
            body = service_kit::openapi::ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 415, description = "The body was not sent as `Content-Type: application/json`.",
            body = service_kit::openapi::ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 422, description = "The body is not a JSON object, or fields are invalid: every problem is listed under `errors`.",
            body = service_kit::openapi::ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 500, description = "An unexpected failure; the cause is logged, never returned.",
            body = service_kit::openapi::ProblemDetails, content_type = "application/problem+json",
        ),
        (
            status = 503, description = "DynamoDB is unavailable or the service is overloaded; nothing was admitted. Retry after the given delay.",
            body = service_kit::openapi::ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying.")),
        ),
    ),
)]
#[tracing::instrument(
    skip(state, body),
    fields(ckid = tracing::field::Empty, replayed = tracing::field::Empty)
)]
pub async fn register(
    State(state): State<AppState>,
    key: IdempotencyKeyHeader,
    ApiJson(body): ApiJson<RegistrationBody>,
) -> Result<Created, ApiError> {
    let new = NewResident::parse(&body.0)?;
    let admission = state.admitter.admit(&new, key.0.as_ref()).await?;
    let span = tracing::Span::current();
    span.record("ckid", admission.resident.ckid.as_str());
    span.record("replayed", admission.replayed);
    Ok(Created(admission))
}

/// 201 with the resident, its `Location`, and `Idempotent-Replayed: true` on a replay.
#[derive(Debug)]
pub struct Created(pub Admission);

impl IntoResponse for Created {
    fn into_response(self) -> Response {
        let Admission { resident, replayed } = self.0;
        // A ckid is letters, digits, '.', '_' and '-' (domain::ResidentId), always a
        // valid header value.
        let Ok(location) = HeaderValue::try_from(location(&resident)) else {
            tracing::error!(ckid = %resident.ckid, "a ckid is not a valid Location");
            return Problem::internal().into_response();
        };
        let mut response = (StatusCode::CREATED, Json(resident)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, location);
        if replayed {
            headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        }
        response
    }
}

/// The `Idempotency-Key` header, if sent. Present but not 1..=128 visible ASCII
/// characters (or sent twice) is a 400 naming the header, never "no key": a client that
/// meant to be safe to retry must not silently lose that.
#[derive(Debug)]
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).into_iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        if values.next().is_some() {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key must be sent at most once.",
            ));
        }
        // Bytes outside ASCII become U+FFFD, which the key's own check refuses.
        IdempotencyKey::parse(&String::from_utf8_lossy(value.as_bytes()))
            .map(|key| Self(Some(key)))
            .map_err(|err| Problem::new(StatusCode::BAD_REQUEST, format!("{err}.")))
    }
}

/// The request body: a JSON object whose fields `NewResident::parse` checks, so that a
/// wrong type is one field's problem among the others, not a refusal of the body.
/// Anything but an object (`[]`, `"x"`, `null`) is refused here as the wrong shape
/// (422): serde would otherwise read a JSON array positionally into the struct.
#[derive(Debug)]
pub struct RegistrationBody(pub RegistrationInput);

impl<'de> Deserialize<'de> for RegistrationBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly;

        impl<'de> Visitor<'de> for ObjectOnly {
            type Value = RegistrationInput;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object with the registration's fields")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RegistrationInput::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer.deserialize_map(ObjectOnly).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Result<RegistrationBody, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn only_objects_are_registrations() {
        for not_an_object in ["[]", r#"["a","t","o"]"#, r#""x""#, "null", "5", "true"] {
            assert!(body(not_an_object).is_err(), "{not_an_object} was read");
        }
        let read = body(r#"{"name":"a","type":"t","os":"o","ckid":"ck1","extra":[1]}"#).unwrap();
        assert_eq!(read.0.name, serde_json::json!("a"));
        assert_eq!(read.0.server_type, serde_json::json!("t"));
    }

    fn fields(result: Result<NewResident, domain::ValidationErrors>) -> Vec<String> {
        result.unwrap_err().0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn images_with_control_characters_are_refused_with_the_other_problems() {
        let input = |image: &str, name: &str| {
            body(
                &serde_json::json!({"name": name, "type": "t", "os": "o", "image": image})
                    .to_string(),
            )
            .unwrap()
            .0
        };
        for image in [
            "https://exa\nmple.com/a.png",
            "\u{0}https://example.com/a.png",
            "https://example.com/a\u{1}.png",
        ] {
            assert_eq!(
                fields(NewResident::parse(&input(image, "n"))),
                ["image"],
                "{image:?}"
            );
            assert_eq!(
                fields(NewResident::parse(&input(image, ""))),
                ["name", "image"],
                "{image:?}"
            );
        }
        // Reported once when the URL is refused for another reason too.
        assert_eq!(
            fields(NewResident::parse(&input("http://a\nb", "n"))),
            ["image"]
        );
        // Surrounding whitespace is trimmed, as for every text field.
        let new = NewResident::parse(&input(" https://example.com/a.png\n", "n")).unwrap();
        assert_eq!(new.image.unwrap().as_str(), "https://example.com/a.png");
    }

    #[test]
    fn a_field_sent_twice_is_refused() {
        assert!(body(r#"{"name":"a","name":"b","type":"t","os":"o"}"#).is_err());
    }
}
