//! OpenAPI schemas for the APIs' documents (feature `openapi`): what `Resident` and
//! `RegistrationInput` derive cannot say by attributes alone — the text fields'
//! character rule as a `pattern`, so a schema-valid value is one the services accept.

use utoipa::openapi::Object;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

use crate::{OperatingSystem, PetName, ServerName, ServerType};

/// A text field of `min..=max` characters with the text rule as its `pattern`
/// ([`crate::required_text_pattern`] when the field is required, else
/// [`crate::text_pattern`]). `schema_with` replaces a field's whole schema, so this
/// carries its description and example too.
pub fn text(min: usize, max: usize, description: &str, example: &str) -> ObjectBuilder {
    let pattern = if min > 0 {
        crate::required_text_pattern()
    } else {
        crate::text_pattern()
    };
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .examples([example])
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
}

pub(crate) fn name() -> Object {
    let (min, max) = (ServerName::MIN_CHARS, ServerName::MAX_CHARS);
    text(min, max, "The resident's name.", "foo foo cuddly poops").build()
}

pub(crate) fn server_type() -> Object {
    let (min, max) = (ServerType::MIN_CHARS, ServerType::MAX_CHARS);
    text(min, max, "The server's instance type.", "m2.xlarge").build()
}

pub(crate) fn os() -> Object {
    let (min, max) = (OperatingSystem::MIN_CHARS, OperatingSystem::MAX_CHARS);
    text(min, max, "The operating system.", "linux").build()
}

pub(crate) fn petname() -> Object {
    let (min, max) = (PetName::MIN_CHARS, PetName::MAX_CHARS);
    let description = "A pet name; empty or absent when the server has none.";
    text(min, max, description, "sven")
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}
