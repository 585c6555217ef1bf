//! `/v1/servers`: list residents newest first, get one, feed one.

use api_contract::{IDEMPOTENT_REPLAYED, ProblemDetails, ServerPage, paths};
use api_kit::openapi::{NoSuchResident, ReadFailures, WriteFailures};
use api_kit::{Ckid, IdempotencyKeyHeader};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use domain::{IdempotencyKey, Resident};
use service_kit::extract::ApiQuery;
use store::{Feeding, Page, StoreError};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ListParams;

/// A store's page as the API answers it.
fn server_page(page: Page) -> ServerPage {
    ServerPage {
        servers: page.residents,
        next_cursor: page.next_cursor,
    }
}

/// List residents, newest first.
///
/// One page per call; follow `next_cursor` until it is `null`. With `os`, only
/// residents with that operating system are listed (and a cursor from one `os` is
/// refused by another).
#[utoipa::path(
    get,
    path = paths::SERVERS,
    tag = "residents",
    params(ListParams),
    responses(
        (status = 200, description = "A page of residents, newest first", body = ServerPage),
        (status = 400, description = "`limit`, `os` or `cursor` is not valid; `detail` says which",
            body = ProblemDetails, content_type = "application/problem+json"),
        ReadFailures,
    )
)]
#[tracing::instrument(skip(state))]
pub(crate) async fn list_servers(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ServerPage>, ApiError> {
    let query = params.parse()?;
    let page = state.residents.list(&query).await?;
    Ok(Json(server_page(page)))
}

/// Get one resident.
#[utoipa::path(
    get,
    path = paths::SERVER,
    tag = "residents",
    params(("ckid" = String, Path, description = "The resident's id; one that cannot be an id is a 404",
        pattern = "^[A-Za-z0-9._-]{1,64}$", example = "01KAV5S1YJ5Z1Q6T2W6M3C8E9R")),
    responses(
        (status = 200, description = "The resident", body = Resident),
        NoSuchResident,
        ReadFailures,
    )
)]
#[tracing::instrument(skip(state))]
pub(crate) async fn get_server(
    State(state): State<AppState>,
    Ckid(ckid): Ckid,
) -> Result<Json<Resident>, ApiError> {
    Ok(Json(state.residents.get(&ckid).await?))
}

/// Feed a resident.
///
/// One atomic update: happiness +1 (never past 10), `feed_count` +1, `last_fed_at` now.
/// Feeding a resident who is already at 10 still counts. No request body is needed; any
/// is ignored. With an `Idempotency-Key`, a repeat is answered with the resident as it is
/// (`Idempotent-Replayed: true`) and not fed again, while the resident remembers the
/// key (its last 16 feedings). A 503 says whether the feeding may have happened: the
/// `outcome-unknown` type carries `idempotency_key`, the key to repeat it with safely
/// (the client's, or the one the service chose for a request sent without).
#[utoipa::path(
    post,
    path = paths::FEED,
    tag = "residents",
    params(
        ("ckid" = String, Path, description = "The resident's id; one that cannot be an id is a 404",
            pattern = "^[A-Za-z0-9._-]{1,64}$", example = "01KAV5S1YJ5Z1Q6T2W6M3C8E9R"),
        (
            "Idempotency-Key" = Option<String>, Header, nullable = false,
            min_length = 1, max_length = 128, pattern = "^[\\x21-\\x7E]+$",
            example = "01KAX3M0Q2feed-card-7",
            description = "1 to 128 visible ASCII characters. The same key again answers the \
                resident as it is and does not feed it twice."
        ),
    ),
    responses(
        (status = 200, description = "The resident after feeding (or, for a repeated Idempotency-Key, as it is now)",
            body = Resident,
            headers(("Idempotent-Replayed" = bool, description = "`true` when this answer replays an earlier feeding with the same Idempotency-Key."))),
        (status = 400, description = "The Idempotency-Key header is invalid",
            body = ProblemDetails, content_type = "application/problem+json"),
        NoSuchResident,
        WriteFailures,
    )
)]
#[tracing::instrument(skip(state), fields(replayed = tracing::field::Empty))]
pub(crate) async fn feed_server(
    State(state): State<AppState>,
    Ckid(ckid): Ckid,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
) -> Result<Fed, Response> {
    let key = key.unwrap_or_else(IdempotencyKey::random);
    match state.feeder.feed(&ckid, &key).await {
        Ok(feeding) => {
            tracing::Span::current().record("replayed", feeding.replayed);
            Ok(Fed(feeding))
        }
        Err(err @ StoreError::OutcomeUnknown(_)) => Err(ApiError::from(err)
            .into_problem()
            .with("idempotency_key", key.as_str().into())
            .into_response()),
        Err(err) => Err(ApiError::from(err).into_response()),
    }
}

/// 200 with the resident, and `Idempotent-Replayed: true` on a replay.
#[derive(Debug)]
pub(crate) struct Fed(Feeding);

impl IntoResponse for Fed {
    fn into_response(self) -> Response {
        let Feeding { resident, replayed } = self.0;
        let mut response = Json(resident).into_response();
        if replayed {
            response
                .headers_mut()
                .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        }
        response
    }
}
