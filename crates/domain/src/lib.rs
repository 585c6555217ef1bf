//! The resident: Cuddle Kube's one domain object.
//!
//! Values that come from outside (a registration, a query string) are parsed into the
//! newtypes here, whose fields are private: holding a `ServerName` means it was checked.
//! [`Resident`] is the shape both the JSON APIs and the DynamoDB items use, keeping the
//! 2019 attribute names (`ckid`, `type`, `service`, ...).

/// The conversions every string newtype here has, given its `parse(&str) -> Result<Self,
/// InvalidValue>`: `as_str`, `AsRef<str>`, `Display`, and the `String` round trip serde
/// uses (`#[serde(try_from = "String", into = "String")]`), which parses.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

mod id;
mod idempotency;
mod registration;
mod resident;
#[cfg(feature = "openapi")]
pub mod schema;
mod timestamp;
mod values;

pub use id::ResidentId;
pub use idempotency::IdempotencyKey;
pub use registration::{FieldError, NewResident, RegistrationInput, ValidationErrors};
pub use resident::Resident;
pub use timestamp::Timestamp;
pub use values::{
    Happiness, ImageUrl, OperatingSystem, PageSize, PetName, ServerName, ServerType,
    YearsOfService, is_refused_char, os_index_key, required_text_pattern, text_pattern,
};

use serde::{Deserialize, Serialize};

/// Why a value was refused: what kind of problem (for clients that phrase their own
/// message, like the website) and a message phrased for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidValue {
    refusal: Refusal,
    message: String,
}

impl InvalidValue {
    pub(crate) fn new(refusal: Refusal, message: impl Into<String>) -> Self {
        Self {
            refusal,
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn refusal(&self) -> Refusal {
        self.refusal
    }
}

/// The kinds of refusal, as the APIs report them (`"code": "too_long", "max": 64`).
/// Lengths count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    Required,
    /// Not a JSON string.
    NotText,
    NotWholeNumber,
    OutOfRange {
        min: i64,
        max: i64,
    },
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    ControlCharacters,
    /// Direction marks and other formatting that makes text display other than it reads.
    InvisibleCharacters,
    InvalidUrl,
    /// Not of the form an identifier (a ckid, an `Idempotency-Key`) takes.
    Malformed,
}

/// An identifier (a ckid, a key): 1 to `max` bytes, each `allowed`; refused as
/// [`Refusal::Malformed`] naming `name` and `what` it may hold.
fn identifier(
    value: &str,
    name: &str,
    max: usize,
    allowed: impl Fn(u8) -> bool,
    what: &str,
) -> Result<String, InvalidValue> {
    if !value.is_empty() && value.len() <= max && value.bytes().all(allowed) {
        Ok(value.to_owned())
    } else {
        Err(InvalidValue::new(
            Refusal::Malformed,
            format!("{name} must be 1 to {max} {what}"),
        ))
    }
}
