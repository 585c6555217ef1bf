use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

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
    /// retries; trying again later may work.
    #[error("the residents database is unavailable")]
    Unavailable(#[source] Cause),
    #[error("the residents database failed")]
    Internal(#[source] Cause),
}

impl StoreError {
    pub(crate) fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
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
    "TransactionInProgressException",
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
