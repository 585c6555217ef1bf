use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    Happiness, ImageUrl, InvalidValue, OperatingSystem, PetName, ServerName, ServerType,
    YearsOfService,
};

/// A registration as sent, before any check. Every field is a raw JSON value so that a
/// wrong type (`"service": "ten"`) is reported per field with the others, not as a
/// malformed body. Unknown fields, and a client-sent `ckid`, are ignored.
///
/// It is also what a client sends (the website serialises one): a `null` field is left
/// out, which reads back as absent.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RegistrationInput {
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub name: Value,
    #[serde(default, rename = "type", skip_serializing_if = "Value::is_null")]
    pub server_type: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub os: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub petname: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub service: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub happiness: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub image: Value,
}

/// One refused field, named as the client named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every problem with a registration at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

/// A registration that passed every check: what the store admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewResident {
    pub name: ServerName,
    #[serde(rename = "type")]
    pub server_type: ServerType,
    pub os: OperatingSystem,
    pub petname: PetName,
    pub service: YearsOfService,
    pub happiness: Happiness,
    pub image: Option<ImageUrl>,
}

impl NewResident {
    pub fn parse(input: &RegistrationInput) -> Result<Self, ValidationErrors> {
        let mut errors = Vec::new();
        let name = record(
            &mut errors,
            "name",
            text(&input.name, "name", true).and_then(|s| ServerName::parse(&s)),
        );
        let server_type = record(
            &mut errors,
            "type",
            text(&input.server_type, "type", true).and_then(|s| ServerType::parse(&s)),
        );
        let os = record(
            &mut errors,
            "os",
            text(&input.os, "os", true).and_then(|s| OperatingSystem::parse(&s)),
        );
        let petname = record(
            &mut errors,
            "petname",
            text(&input.petname, "petname", false).and_then(|s| PetName::parse(&s)),
        );
        let service = record(
            &mut errors,
            "service",
            number(&input.service, "service")
                .and_then(|n| n.map_or(Ok(YearsOfService::default()), YearsOfService::parse)),
        );
        let happiness = record(
            &mut errors,
            "happiness",
            number(&input.happiness, "happiness")
                .and_then(|n| n.map_or(Ok(Happiness::default()), Happiness::parse)),
        );
        let image = record(
            &mut errors,
            "image",
            text(&input.image, "image", false).and_then(|s| {
                if s.trim().is_empty() {
                    Ok(None)
                } else {
                    ImageUrl::parse(&s).map(Some)
                }
            }),
        );
        match (name, server_type, os, petname, service, happiness, image) {
            (
                Some(name),
                Some(server_type),
                Some(os),
                Some(petname),
                Some(service),
                Some(happiness),
                Some(image),
            ) => Ok(Self {
                name,
                server_type,
                os,
                petname,
                service,
                happiness,
                image,
            }),
            _ => Err(ValidationErrors(errors)),
        }
    }

    /// A digest of the checked values, used to tell a retried registration (same key,
    /// same content) from a different one reusing a key. Equivalent inputs that
    /// normalise alike (`" sven "` and `"sven"`, a missing `happiness` and `5`) match.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&canonical);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Keeps the value, or notes why it was refused under the field's name.
fn record<T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    result: Result<T, InvalidValue>,
) -> Option<T> {
    result
        .map_err(|e| {
            errors.push(FieldError {
                field: field.to_owned(),
                message: e.0,
            })
        })
        .ok()
}

/// A text field's raw value: `null`/absent is "" (then required-ness decides), a
/// string is itself, anything else is refused.
fn text(value: &Value, field: &str, required: bool) -> Result<String, InvalidValue> {
    match value {
        Value::Null if required => Err(InvalidValue(format!("{field} is required"))),
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        _ => Err(InvalidValue(format!("{field} must be a string"))),
    }
}

/// A number field's raw value: absent is `None` (the default applies), a whole JSON
/// number is itself, anything else is refused. `5.0` and `5e0` are whole numbers too, as
/// JSON Schema's `integer` says.
fn number(value: &Value, field: &str) -> Result<Option<i64>, InvalidValue> {
    let not_whole = || InvalidValue(format!("{field} must be a whole number"));
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 2f64.powi(63) =>
            {
                #[expect(clippy::cast_possible_truncation, reason = "whole and in range")]
                Ok(Some(f as i64))
            }
            (None, Some(f)) if f.fract() == 0.0 => {
                Err(InvalidValue(format!("{field} is far out of range")))
            }
            _ => Err(not_whole()),
        },
        _ => Err(not_whole()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: Value) -> RegistrationInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn serialises_with_the_2019_names_leaving_out_absent_fields() {
        let sent = RegistrationInput {
            name: json!("n"),
            server_type: json!("t3.micro"),
            service: json!(7),
            ..RegistrationInput::default()
        };
        let json = serde_json::to_value(&sent).unwrap();
        assert_eq!(json, json!({"name": "n", "type": "t3.micro", "service": 7}));
        let back: RegistrationInput = serde_json::from_value(json).unwrap();
        assert_eq!(back.server_type, sent.server_type);
        assert!(back.os.is_null() && back.image.is_null());
    }

    #[test]
    fn accepts_the_2019_payload_and_ignores_its_ckid() {
        let new = NewResident::parse(&input(json!({
            "ckid": "ck1", "name": "foo foo cuddly poops", "type": "m2.xlarge", "service": 10,
            "happiness": 1, "petname": "sven", "os": "linux", "image": "https://example.com/ck1.png"
        })))
        .unwrap();
        assert_eq!(new.name.as_str(), "foo foo cuddly poops");
        assert_eq!(new.service.get(), 10);
        assert_eq!(new.happiness.get(), 1);
    }

    #[test]
    fn applies_defaults_for_optional_fields() {
        let new = NewResident::parse(&input(
            json!({"name": "a", "type": "t3.micro", "os": "linux"}),
        ))
        .unwrap();
        assert_eq!(new.service.get(), 0);
        assert_eq!(new.happiness.get(), 5);
        assert_eq!(new.petname.as_str(), "");
        assert_eq!(new.image, None);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let errors = NewResident::parse(&input(json!({
            "name": "", "type": 5, "service": 101, "happiness": 0, "petname": "x".repeat(33),
            "image": "http://insecure.example"
        })))
        .unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "type",
                "os",
                "petname",
                "service",
                "happiness",
                "image"
            ]
        );
    }

    #[test]
    fn fractional_and_textual_numbers_are_refused() {
        let errors = NewResident::parse(&input(json!({
            "name": "a", "type": "t", "os": "o", "service": 1.5, "happiness": "7"
        })))
        .unwrap_err();
        assert_eq!(errors.0.len(), 2);
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_fraction_or_exponent() {
        let resident = NewResident::parse(&input(json!({
            "name": "a", "type": "t", "os": "o", "service": 1e1, "happiness": 7.0
        })))
        .unwrap();
        let plain = NewResident::parse(&input(json!({
            "name": "a", "type": "t", "os": "o", "service": 10, "happiness": 7
        })))
        .unwrap();
        assert_eq!(resident.fingerprint(), plain.fingerprint());
        let errors = NewResident::parse(&input(json!({
            "name": "a", "type": "t", "os": "o", "service": 1e300, "happiness": 18446744073709551615_u64
        })))
        .unwrap_err();
        let messages: Vec<_> = errors.0.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages.iter().all(|m| m.ends_with("is far out of range")),
            "{messages:?}"
        );
    }

    #[test]
    fn fingerprint_follows_normalised_content() {
        let a = NewResident::parse(&input(json!({"name": " a ", "type": "t", "os": "o"}))).unwrap();
        let b = NewResident::parse(&input(
            json!({"name": "a", "type": "t", "os": "o", "happiness": 5}),
        ))
        .unwrap();
        let c = NewResident::parse(&input(json!({"name": "b", "type": "t", "os": "o"}))).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
