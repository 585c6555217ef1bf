//! server-listing's own extractor input: the listing's query parameters.

use domain::{OperatingSystem, PageSize};
use serde::Deserialize;
use store::ListQuery;
use utoipa::IntoParams;

use crate::error::ApiError;

/// The query of `GET /v1/servers`, as sent. Every value is text so that a bad one is
/// answered with our own message naming it; an empty value counts as absent (an HTML
/// form sends `os=` for "any"), a blank one is refused like any other bad value.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
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
    domain::schema::text(min, max, description, "linux")
        .min_length(None)
        .pattern(Some(format!("^$|{}", domain::required_text_pattern())))
        .build()
}

impl ListParams {
    /// The store's query, or a 400 naming the bad parameter.
    pub(crate) fn parse(self) -> Result<ListQuery, ApiError> {
        let bad = ApiError::BadQuery;
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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn params(limit: Option<&str>, cursor: Option<&str>, os: Option<&str>) -> ListParams {
        ListParams {
            limit: limit.map(str::to_owned),
            cursor: cursor.map(str::to_owned),
            os: os.map(str::to_owned),
        }
    }

    fn refusal(p: ListParams) -> String {
        let problem = p.parse().expect_err("should be refused").into_problem();
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
