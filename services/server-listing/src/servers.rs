//! `/v1/servers`: list residents newest first, get one, feed one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::{OperatingSystem, PageSize, Resident};
use serde::{Deserialize, Serialize};
use service_kit::Problem;
use service_kit::openapi::ProblemDetails;
use store::{ListQuery, Page};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api_doc::ResidentDoc;
use crate::extract::{ApiQuery, Ckid};

pub const LIST_PATH: &str = "/v1/servers";
pub const ONE_PATH: &str = "/v1/servers/{ckid}";
pub const FEED_PATH: &str = "/v1/servers/{ckid}/feed";

/// The query of `GET /v1/servers`, as sent. Every value is text so that a bad one is
/// answered with our own message naming it; an empty value counts as absent (an HTML
/// form sends `os=` for "any"), a blank one is refused like any other bad value.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size; described in `limit_schema`.
    #[param(schema_with = limit_schema)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page, unchanged, listed with the same `os`.
    /// Absent for the first page. Opaque: any other value is a 400.
    #[param(max_length = 512, pattern = "^$|^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{16}$")]
    cursor: Option<String>,
    /// OS filter; described in `os_schema`.
    #[param(schema_with = os_schema)]
    os: Option<String>,
}

// `schema_with` drops a parameter's doc comment from the document, so these schemas
// carry the description themselves.

fn limit_schema() -> utoipa::openapi::schema::AnyOfBuilder {
    use utoipa::openapi::{ObjectBuilder, Type, schema::AnyOfBuilder};
    let size = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(PageSize::MIN))
        .maximum(Some(PageSize::MAX))
        .default(Some(PageSize::default().get().into()));
    let empty = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([""]));
    AnyOfBuilder::new()
        .description(Some(
            "Residents per page, a whole number from 1 to 100; empty for the default.",
        ))
        .item(size)
        .item(empty)
}

fn os_schema() -> utoipa::openapi::Object {
    let (min, max) = (OperatingSystem::MIN_CHARS, OperatingSystem::MAX_CHARS);
    let description = "Only residents with this operating system (ignoring case), 1 to 32 \
                       characters; empty for all.";
    service_kit::openapi::text(min, max, description, "linux")
        .min_length(None)
        .pattern(Some(format!("^$|{}", domain::required_text_pattern())))
        .build()
}

impl ListParams {
    /// The store's query, or a 400 naming the bad parameter.
    fn parse(self) -> Result<ListQuery, Problem> {
        let bad = |message: String| Problem::new(StatusCode::BAD_REQUEST, message);
        let limit = match present(self.limit) {
            None => PageSize::default(),
            Some(text) => {
                let number = text.parse::<i64>().map_err(|_| {
                    bad(format!(
                        "limit must be a whole number from {} to {} (got {text:?})",
                        PageSize::MIN,
                        PageSize::MAX
                    ))
                })?;
                PageSize::parse(number).map_err(|err| bad(err.message().to_owned()))?
            }
        };
        let os = present(self.os)
            .map(|text| OperatingSystem::parse(&text))
            .transpose()
            .map_err(|err| bad(err.message().to_owned()))?;
        Ok(ListQuery {
            limit,
            cursor: present(self.cursor),
            os,
        })
    }
}

fn present(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.is_empty())
}

/// One page of residents, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerPage {
    #[schema(value_type = Vec<ResidentDoc>)]
    pub servers: Vec<Resident>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl From<Page> for ServerPage {
    fn from(page: Page) -> Self {
        Self {
            servers: page.residents,
            next_cursor: page.next_cursor,
        }
    }
}

/// List residents, newest first.
///
/// One page per call; follow `next_cursor` until it is `null`. With `os`, only
/// residents with that operating system are listed (and a cursor from one `os` is
/// refused by another).
#[utoipa::path(
    get,
    path = "/v1/servers",
    tag = "residents",
    params(ListParams),
    responses(
        (status = 200, description = "A page of residents, newest first", body = ServerPage),
        (status = 400, description = "`limit`, `os` or `cursor` is not valid; `detail` says which",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 500, description = "An unexpected failure (logged; no detail is disclosed)",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "DynamoDB is unavailable or the service is overloaded; retry later",
            body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip(state))]
pub(crate) async fn list_servers(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ServerPage>, Problem> {
    let query = params.parse()?;
    let page = state.residents.list(&query).await?;
    Ok(Json(page.into()))
}

/// Get one resident.
#[utoipa::path(
    get,
    path = "/v1/servers/{ckid}",
    tag = "residents",
    params(("ckid" = String, Path, description = "The resident's id; one that cannot be an id is a 404",
        pattern = "^[A-Za-z0-9._-]{1,64}$", example = "01KAV5S1YJ5Z1Q6T2W6M3C8E9R")),
    responses(
        (status = 200, description = "The resident", body = ResidentDoc),
        (status = 404, description = "No resident has this ckid",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 500, description = "An unexpected failure (logged; no detail is disclosed)",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "DynamoDB is unavailable or the service is overloaded; retry later",
            body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip(state))]
pub(crate) async fn get_server(
    State(state): State<AppState>,
    Ckid(ckid): Ckid,
) -> Result<Json<Resident>, Problem> {
    Ok(Json(state.residents.get(&ckid).await?))
}

/// Feed a resident.
///
/// One atomic update: happiness +1 (never past 10), `feed_count` +1, `last_fed_at` now.
/// Feeding a resident who is already at 10 still counts. No request body is needed; any
/// is ignored.
#[utoipa::path(
    post,
    path = "/v1/servers/{ckid}/feed",
    tag = "residents",
    params(("ckid" = String, Path, description = "The resident's id; one that cannot be an id is a 404",
        pattern = "^[A-Za-z0-9._-]{1,64}$", example = "01KAV5S1YJ5Z1Q6T2W6M3C8E9R")),
    responses(
        (status = 200, description = "The resident after feeding", body = ResidentDoc),
        (status = 404, description = "No resident has this ckid",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 500, description = "An unexpected failure (logged; no detail is disclosed)",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "DynamoDB is unavailable or the service is overloaded; retry later",
            body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip(state))]
pub(crate) async fn feed_server(
    State(state): State<AppState>,
    Ckid(ckid): Ckid,
) -> Result<Json<Resident>, Problem> {
    Ok(Json(state.feeder.feed(&ckid).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(limit: Option<&str>, cursor: Option<&str>, os: Option<&str>) -> ListParams {
        ListParams {
            limit: limit.map(str::to_owned),
            cursor: cursor.map(str::to_owned),
            os: os.map(str::to_owned),
        }
    }

    fn refusal(p: ListParams) -> String {
        let problem = p.parse().expect_err("should be refused");
        assert_eq!(problem.status(), StatusCode::BAD_REQUEST);
        problem.detail().to_owned()
    }

    #[test]
    fn defaults_and_empty_values_mean_absent() {
        let query = params(None, None, None).parse().unwrap();
        assert_eq!(query.limit.get(), 12);
        assert!(query.cursor.is_none() && query.os.is_none());
        let query = params(Some(""), Some(""), Some("")).parse().unwrap();
        assert_eq!(query.limit.get(), 12);
        assert!(query.cursor.is_none() && query.os.is_none());
    }

    #[test]
    fn blank_values_are_refused_not_ignored() {
        assert_eq!(refusal(params(None, None, Some("  "))), "os is required");
        assert!(refusal(params(Some(" "), None, None)).starts_with("limit must be"));
    }

    #[test]
    fn limit_bounds_are_inclusive() {
        assert_eq!(
            params(Some("1"), None, None).parse().unwrap().limit.get(),
            1
        );
        assert_eq!(
            params(Some("100"), None, None).parse().unwrap().limit.get(),
            100
        );
        for bad in ["0", "101", "-1", "99999999999999999999"] {
            let detail = refusal(params(Some(bad), None, None));
            assert!(detail.starts_with("limit must be"), "{bad}: {detail}");
        }
    }

    #[test]
    fn non_numeric_limit_names_the_parameter_and_value() {
        assert_eq!(
            refusal(params(Some("ten"), None, None)),
            "limit must be a whole number from 1 to 100 (got \"ten\")"
        );
        assert!(refusal(params(Some("1.5"), None, None)).starts_with("limit"));
    }

    #[test]
    fn os_is_checked_and_passed_on() {
        let query = params(None, Some("c"), Some("Linux")).parse().unwrap();
        assert_eq!(query.os.unwrap().index_key(), "linux");
        assert_eq!(query.cursor.as_deref(), Some("c"));
        assert!(refusal(params(None, None, Some(&"x".repeat(33)))).starts_with("os must"));
        assert!(refusal(params(None, None, Some("li\u{1}nux"))).starts_with("os must"));
    }
}
