use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    Happiness, ImageUrl, InvalidValue, OperatingSystem, PetName, Refusal, Resident, ResidentId,
    ServerName, ServerType, Timestamp, YearsOfService,
};

/// A registration as sent, before any check: a resident's input fields. Every field is
/// a raw JSON value so that a wrong type (`"service": "ten"`) is reported per field with
/// the others, not as a malformed body. Text is trimmed and may not contain control
/// characters or invisible direction marks (each field's `pattern`); lengths count
/// characters, not bytes. A client-sent `ckid` and unknown fields are ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = RegistrationRequest, example = json!({
    "name": "foo foo cuddly poops", "type": "m2.xlarge", "service": 10, "happiness": 1,
    "petname": "sven", "os": "linux", "image": "https://example.com/ck1.png"
})))]
pub struct RegistrationInput {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::name, required = true))]
    pub name: Value,
    #[serde(default, rename = "type")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::server_type, required = true))]
    pub server_type: Value,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::os, required = true))]
    pub os: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::petname))]
    pub petname: Value,
    /// Whole years in service.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 0, maximum = 100, default = 0, example = 10))]
    pub service: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1, maximum = 10, default = 5, example = 1))]
    pub happiness: Value,
    /// An absolute `https://` URL of a picture of the server.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = "uri", max_length = 2048, example = "https://example.com/ck1.png"))]
    pub image: Value,
}

/// One refused field, named as the client named it: `{"field", "message", "code", ...}`
/// with the code's own members (`min`, `max`), so a client can phrase its own message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(flatten)]
    pub refusal: Refusal,
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
        let mut checks = Checks::default();
        let name = checks.text("name", &input.name, true, ServerName::parse);
        let server_type = checks.text("type", &input.server_type, true, ServerType::parse);
        let os = checks.text("os", &input.os, true, OperatingSystem::parse);
        let petname = checks.text("petname", &input.petname, false, PetName::parse);
        let service = checks.number("service", &input.service, YearsOfService::parse);
        let happiness = checks.number("happiness", &input.happiness, Happiness::parse);
        let image = checks.text("image", &input.image, false, |s| {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                ImageUrl::parse(s).map(Some)
            }
        });
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
            _ => Err(ValidationErrors(checks.errors)),
        }
    }

    /// The resident this registration becomes when admitted as `ckid` at `at`: what an
    /// admission answers, and what a replay of it answers again.
    pub fn admit(&self, ckid: ResidentId, at: Timestamp) -> Resident {
        Resident {
            ckid,
            name: self.name.to_string(),
            server_type: self.server_type.to_string(),
            service: u16::from(self.service.get()),
            happiness: self.happiness.get(),
            petname: self.petname.to_string(),
            os: self.os.to_string(),
            image: self.image.as_ref().map(|i| i.as_str().to_owned()),
            registered_at: Some(at),
            feed_count: 0,
            last_fed_at: None,
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

/// The fields checked so far, and why each refused one was refused.
#[derive(Default)]
struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    /// A text field checked by `parse` (see [`text`] for what counts as text).
    fn text<T>(
        &mut self,
        field: &str,
        value: &Value,
        required: bool,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Option<T> {
        self.keep(field, text(value, field, required).and_then(|s| parse(&s)))
    }

    /// A number field checked by `parse`; absent, it takes the value's default.
    fn number<T: Default>(
        &mut self,
        field: &str,
        value: &Value,
        parse: impl Fn(i64) -> Result<T, InvalidValue>,
    ) -> Option<T> {
        self.keep(
            field,
            number(value, field, parse).map(Option::unwrap_or_default),
        )
    }

    /// Keeps the value, or notes why it was refused under the field's name.
    fn keep<T>(&mut self, field: &str, result: Result<T, InvalidValue>) -> Option<T> {
        result
            .map_err(|e| {
                self.errors.push(FieldError {
                    field: field.to_owned(),
                    refusal: e.refusal(),
                    message: e.message().to_owned(),
                })
            })
            .ok()
    }
}

/// A text field's raw value: `null`/absent is "" (then required-ness decides), a
/// string is itself, anything else is refused.
fn text(value: &Value, field: &str, required: bool) -> Result<String, InvalidValue> {
    match value {
        Value::Null if required => Err(InvalidValue::new(
            Refusal::Required,
            format!("{field} is required"),
        )),
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        _ => Err(InvalidValue::new(
            Refusal::NotText,
            format!("{field} must be a string"),
        )),
    }
}

/// A number field's raw value checked by `parse`: absent is `None` (the default
/// applies), a whole JSON number is parsed, anything else is refused. `5.0` and `5e0` are
/// whole numbers too, as JSON Schema's `integer` says.
fn number<T>(
    value: &Value,
    field: &str,
    parse: impl Fn(i64) -> Result<T, InvalidValue>,
) -> Result<Option<T>, InvalidValue> {
    let not_whole = || {
        InvalidValue::new(
            Refusal::NotWholeNumber,
            format!("{field} must be a whole number"),
        )
    };
    let whole = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i,
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 2f64.powi(63) => {
                #[expect(clippy::cast_possible_truncation, reason = "whole and in range")]
                let whole = f as i64;
                whole
            }
            // Past i64: refused with the field's own range, but without echoing a number
            // that was never sent.
            (None, Some(f)) if f.fract() == 0.0 => {
                let nearest = if f > 0.0 { i64::MAX } else { i64::MIN };
                return parse(nearest).map(Some).map_err(|err| {
                    InvalidValue::new(err.refusal(), format!("{field} is far out of range"))
                });
            }
            _ => return Err(not_whole()),
        },
        _ => return Err(not_whole()),
    };
    parse(whole).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: Value) -> RegistrationInput {
        serde_json::from_value(value).unwrap()
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
    fn each_problem_carries_a_code_a_client_can_phrase_itself() {
        let errors = NewResident::parse(&input(json!({
            "name": "x".repeat(65), "type": 5, "os": "a\u{202E}b", "service": 101,
            "happiness": 1.5, "image": "http://insecure.example"
        })))
        .unwrap_err();
        let problems = serde_json::to_value(&errors.0).unwrap();
        assert_eq!(
            problems,
            json!([
                {"field": "name", "code": "too_long", "max": 64, "message": "name must be at most 64 characters (got 65)"},
                {"field": "type", "code": "not_text", "message": "type must be a string"},
                {"field": "os", "code": "invisible_characters", "message": "os must not contain invisible formatting characters"},
                {"field": "service", "code": "out_of_range", "min": 0, "max": 100, "message": "service must be a whole number from 0 to 100 (got 101)"},
                {"field": "happiness", "code": "not_whole_number", "message": "happiness must be a whole number"},
                {"field": "image", "code": "invalid_url", "message": "image must be an https:// URL without credentials"},
            ])
        );
        let read: Vec<FieldError> = serde_json::from_value(problems).unwrap();
        assert_eq!(read, errors.0);
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
