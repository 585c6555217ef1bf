use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::traced::Failed;

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// What can go wrong in the store, as callers need to tell it apart.
///
/// **Invariant:** the `Display` of every variant is safe to show a client; SDK messages
/// live only in the `source()` chain, which goes to the logs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no resident has that ckid")]
    NotFound,
    #[error("this Idempotency-Key was already used for a different registration")]
    IdempotencyConflict,
    #[error("the cursor is not valid here: {0}")]
    InvalidCursor(&'static str),
    /// DynamoDB could not be reached, was throttling, or timed out after the SDK's own
    /// retries, and nothing was written; trying again later may work.
    #[error("the residents database is unavailable")]
    Unavailable(#[source] Cause),
    /// A write may have been applied: an attempt reached DynamoDB (or may have) and no
    /// answer came back. Repeating it with the same idempotency key or token is safe.
    #[error("the residents database did not confirm the write")]
    OutcomeUnknown(#[source] Cause),
    #[error("the residents database failed")]
    Internal(#[source] Cause),
}

impl StoreError {
    pub(crate) fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    /// A failed write: unknown if any attempt may have been applied unheard, otherwise
    /// as a read's failure.
    pub(crate) fn from_write<E, R>(failed: Failed<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if failed.attempts.unanswered {
            Self::OutcomeUnknown(Box::new(failed.error))
        } else {
            failed.error.into()
        }
    }
}

impl<E, R> From<Failed<E, R>> for StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(failed: Failed<E, R>) -> Self {
        failed.error.into()
    }
}

/// Error codes that mean "DynamoDB is not answering usefully right now", as opposed
/// to "this request is wrong". A missing table counts: the service is not ready.
const UNAVAILABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ResourceNotFoundException",
];

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(err: SdkError<E, R>) -> Self {
        let unavailable = match &err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(service) => service
                .err()
                .code()
                .is_some_and(|code| UNAVAILABLE_CODES.contains(&code)),
            _ => false,
        };
        if unavailable {
            Self::Unavailable(Box::new(err))
        } else {
            Self::Internal(Box::new(err))
        }
    }
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(err: serde_dynamo::Error) -> Self {
        Self::internal(err)
    }
}
