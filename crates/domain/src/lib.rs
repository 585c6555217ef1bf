//! The resident: Cuddle Kube's one domain object.
//!
//! Values that come from outside (a registration, a query string) are parsed into the
//! newtypes here, whose fields are private: holding a `ServerName` means it was checked.
//! [`Resident`] is the shape both the JSON APIs and the DynamoDB items use, keeping the
//! 2019 attribute names (`ckid`, `type`, `service`, ...).

mod id;
mod idempotency;
mod registration;
mod resident;
mod timestamp;
mod values;

pub use id::ResidentId;
pub use idempotency::IdempotencyKey;
pub use registration::{FieldError, NewResident, RegistrationInput, ValidationErrors};
pub use resident::Resident;
pub use timestamp::Timestamp;
pub use values::{
    Happiness, ImageUrl, OperatingSystem, PageSize, PetName, REQUIRED_TEXT_PATTERN, ServerName,
    ServerType, TEXT_PATTERN, YearsOfService,
};

/// Why a value was refused, phrased for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub(crate) String);

impl InvalidValue {
    pub fn message(&self) -> &str {
        &self.0
    }
}
