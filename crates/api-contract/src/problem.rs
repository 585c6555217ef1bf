//! The problem+json bodies (RFC 9457) of the APIs' errors, as both sides read them.

use domain::{FieldError, Refusal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The `type` of a 503 for a write that may or may not have been applied; repeating it
/// with the same `Idempotency-Key` is safe. service-kit answers it itself (a write cut
/// by the request timeout), so it is defined there.
pub use service_kit::OUTCOME_UNKNOWN;

/// An RFC 9457 problem: every error of the JSON APIs
/// (`Content-Type: application/problem+json`).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ProblemDetails {
    /// `about:blank` (the status says what kind of problem it is), or for a 503 whose
    /// write may have been applied, `https://github.com/cuddlekube/cuddlekube/blob/main/docs/problems.md#outcome-unknown`.
    // Read leniently (a client takes what it can), documented as the APIs write it.
    #[schema(example = "about:blank", required = true)]
    #[serde(default, rename = "type")]
    pub problem_type: String,
    #[schema(example = "Not Found", required = true)]
    #[serde(default)]
    pub title: String,
    #[schema(example = 404, required = true)]
    #[serde(default)]
    pub status: u16,
    /// What went wrong, for a person; never internal details.
    #[schema(required = true)]
    #[serde(default)]
    pub detail: String,
    /// Per-field problems (422 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldProblem>,
}

/// One invalid field of a request body: `message` for a person, `code` (with `min`/`max`
/// where the code has them) for a client that words its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldProblem {
    #[schema(example = "name")]
    pub field: String,
    #[schema(
        example = "name must be at most 64 characters (got 65)",
        required = true
    )]
    #[serde(default)]
    pub message: String,
    // `None` when read from an API that sent a code this build does not know (or none):
    // a client then words a general sentence for the field. The APIs always send one.
    #[serde(flatten)]
    #[schema(value_type = Refusal)]
    pub refusal: Option<Refusal>,
}

impl From<FieldError> for FieldProblem {
    fn from(error: FieldError) -> Self {
        Self {
            field: error.field,
            message: error.message,
            refusal: Some(error.refusal),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_field_problem_reads_its_code_and_bounds() {
        let problem: FieldProblem = serde_json::from_value(
            json!({"field": "name", "message": "m", "code": "too_long", "max": 64}),
        )
        .unwrap();
        assert_eq!(problem.refusal, Some(Refusal::TooLong { max: 64 }));
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(
            json,
            json!({"field": "name", "message": "m", "code": "too_long", "max": 64})
        );
    }

    #[test]
    fn an_unknown_or_missing_code_is_read_as_none() {
        for sent in [
            json!({"field": "name", "code": "something_new"}),
            json!({"field": "name"}),
            json!({"field": "name", "code": "too_long"}),
        ] {
            let problem: FieldProblem = serde_json::from_value(sent.clone()).unwrap();
            assert_eq!(problem.refusal, None, "{sent}");
            assert_eq!(problem.field, "name");
        }
    }
}
