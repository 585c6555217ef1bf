//! The admittance form: what the visitor typed, the token that makes sending it safe to
//! repeat, and what the visitor is told about it, in the site's own words: each refused
//! field named by its label, with how to put it right.

use domain::{
    IdempotencyKey, OperatingSystem, PetName, RegistrationInput, ServerName, ServerType,
    YearsOfService,
};
use serde_json::Value;

use crate::api::FieldProblem;
use crate::reference::Reference;

/// A fresh idempotency token for one form or one feed button: a ULID.
pub fn new_token() -> String {
    ulid::Ulid::new().to_string()
}

/// A form's token that is not one the site could have written (a control character,
/// too long): the form is treated as expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadToken;

/// The hidden token as an `Idempotency-Key`. No token (a client that sends none) means
/// no key, as the APIs allow; one that is not 1..=128 visible ASCII characters was not
/// written by the site and is refused here, before anything is sent.
pub fn token_key(token: &str) -> Result<Option<IdempotencyKey>, BadToken> {
    if token.is_empty() {
        return Ok(None);
    }
    IdempotencyKey::parse(token).map(Some).map_err(|_| BadToken)
}

/// What the visitor typed into the admittance form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    pub name: String,
    #[serde(rename = "type")]
    pub server_type: String,
    pub service: String,
    pub petname: String,
    pub os: String,
    pub idempotency_token: String,
}

impl RegisterForm {
    /// The registration register is sent: the fields as typed. `service` goes as a
    /// number when it is one and as the text typed otherwise, so register reports it
    /// beside the other fields' problems; left empty it is not sent (register's
    /// default applies).
    pub fn registration(&self) -> RegistrationInput {
        let service = self.service.trim();
        RegistrationInput {
            name: Value::from(self.name.as_str()),
            server_type: Value::from(self.server_type.as_str()),
            os: Value::from(self.os.as_str()),
            petname: Value::from(self.petname.as_str()),
            service: match service.parse::<u64>() {
                _ if service.is_empty() => Value::Null,
                Ok(years) => Value::from(years),
                Err(_) => Value::from(service),
            },
            ..RegistrationInput::default()
        }
    }

    /// The form as shown again: control characters (which HTML cannot hold) read as
    /// "�", so the visitor sees where they were. Only for display: what is sent is
    /// always what was typed, so register still refuses them.
    pub fn for_display(mut self) -> Self {
        for field in [
            &mut self.name,
            &mut self.server_type,
            &mut self.service,
            &mut self.petname,
            &mut self.os,
        ] {
            if field.chars().any(char::is_control) {
                *field = field
                    .chars()
                    .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
                    .collect();
            }
        }
        self
    }

    /// What was typed into the field register names (for "this one has 70").
    fn typed(&self, field: &str) -> Option<&str> {
        match field {
            "name" => Some(&self.name),
            "type" => Some(&self.server_type),
            "service" => Some(&self.service),
            "petname" => Some(&self.petname),
            "os" => Some(&self.os),
            _ => None,
        }
    }
}

/// A problem per form field, shown beside it.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub name: Option<String>,
    pub server_type: Option<String>,
    pub service: Option<String>,
    pub petname: Option<String>,
    pub os: Option<String>,
    /// Problems that belong to no one field.
    pub general: Vec<String>,
}

impl FormErrors {
    /// Every problem register found, each in the site's words under its field.
    pub fn from_problems(problems: &[FieldProblem], form: &RegisterForm) -> Self {
        let mut errors = Self::default();
        for problem in problems {
            let sentence = sentence(problem, form.typed(&problem.field).unwrap_or(""));
            errors.add(&problem.field, sentence);
        }
        if errors.is_empty() {
            errors
                .general
                .push("Please check the details and send the form again.".to_owned());
        }
        errors
    }

    /// Files `message` under the form field register named (`type` is the server
    /// type field).
    fn add(&mut self, field: &str, message: String) {
        let slot = match field {
            "name" => &mut self.name,
            "type" => &mut self.server_type,
            "service" => &mut self.service,
            "petname" => &mut self.petname,
            "os" => &mut self.os,
            _ => {
                self.general.push(message);
                return;
            }
        };
        match slot {
            Some(existing) => {
                existing.push(' ');
                existing.push_str(&message);
            }
            None => *slot = Some(message),
        }
    }

    /// (input id, message) for the summary at the top of the form, in form order.
    pub fn summary(&self) -> Vec<(&'static str, &str)> {
        [
            ("name", &self.name),
            ("type", &self.server_type),
            ("service", &self.service),
            ("petname", &self.petname),
            ("os", &self.os),
        ]
        .into_iter()
        .filter_map(|(id, message)| message.as_deref().map(|m| (id, m)))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.summary().is_empty() && self.general.is_empty()
    }
}

/// A field as the visitor knows it: its label, an example, and its rule in words.
struct Field {
    label: &'static str,
    example: Option<&'static str>,
    min: usize,
    max: usize,
}

fn field(name: &str) -> Option<Field> {
    let text = |label, example, min, max| {
        Some(Field {
            label,
            example,
            min,
            max,
        })
    };
    match name {
        "name" => text(
            "server name",
            None,
            ServerName::MIN_CHARS,
            ServerName::MAX_CHARS,
        ),
        "type" => text(
            "server type",
            Some("m5.xlarge"),
            ServerType::MIN_CHARS,
            ServerType::MAX_CHARS,
        ),
        "os" => text(
            "operating system",
            Some("linux"),
            OperatingSystem::MIN_CHARS,
            OperatingSystem::MAX_CHARS,
        ),
        "petname" => text("pet name", None, PetName::MIN_CHARS, PetName::MAX_CHARS),
        "service" => text(
            "years in service",
            Some("7"),
            usize::from(YearsOfService::MIN),
            usize::from(YearsOfService::MAX),
        ),
        _ => None,
    }
}

/// The rule a field keeps, for the sentence used when register's reason is unknown.
fn rule(name: &str, field: &Field) -> String {
    match name {
        "service" => format!(
            "a whole number from {} to {}, or left empty",
            field.min, field.max
        ),
        "petname" => format!("at most {} characters, or left empty", field.max),
        _ => format!("{} to {} characters", field.min, field.max),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The site's sentence for one refused field: register's `code` (with `min`/`max`)
/// and the field's label make the sentence; register's own `message` is never shown.
/// An unknown or missing code gets a sentence naming the label and its rule.
pub fn sentence(problem: &FieldProblem, typed: &str) -> String {
    let Some(field) = field(&problem.field) else {
        return "Please check the details and send the form again.".to_owned();
    };
    let label = field.label;
    let bound = |value: Option<i64>, default: usize| {
        value.map_or_else(|| default.to_string(), |v| v.to_string())
    };
    match problem.code.as_deref() {
        Some("required") => match field.example {
            Some(example) if problem.field != "service" => {
                format!("Please enter the {label}, for example {example}.")
            }
            _ => format!("Please enter the {label}."),
        },
        Some("not_text") => format!("Please type the {label} as plain text."),
        Some("not_whole_number") => format!(
            "{} must be a whole number, for example {}.",
            capitalised(label),
            field.example.unwrap_or("7")
        ),
        Some("out_of_range") => format!(
            "{} must be a whole number from {} to {}.",
            capitalised(label),
            bound(problem.min, field.min),
            bound(problem.max, field.max)
        ),
        Some("too_short") => match bound(problem.min, field.min).as_str() {
            "1" => format!("The {label} needs at least 1 character."),
            min => format!("The {label} needs at least {min} characters."),
        },
        Some("too_long") => {
            let max = bound(problem.max, field.max);
            let length = typed.trim().chars().count();
            if max.parse::<usize>().is_ok_and(|max| length > max) {
                format!(
                    "The {label} can be at most {max} characters long, and this one has \
                     {length}. Please shorten it."
                )
            } else {
                format!("The {label} can be at most {max} characters long. Please shorten it.")
            }
        }
        Some("control_characters") => format!(
            "The {label} contains a control character, such as a tab or a line break. \
             Please remove it."
        ),
        Some("invisible_characters") => format!(
            "The {label} contains invisible formatting characters, such as text-direction \
             marks. Please type it again without them."
        ),
        Some("invalid_url") => {
            format!("The {label} must be a web address that starts with https://.")
        }
        _ => format!(
            "Please check the {label}: it should be {}.",
            rule(&problem.field, &field)
        ),
    }
}

/// How a notice above the form reads: news, a hitch, or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Warning,
    Error,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Self::Info => "notice notice-info",
            Self::Warning => "notice notice-warning",
            Self::Error => "notice notice-error",
        }
    }
}

/// What happened to the form when it was not admitted for a reason other than its
/// fields: shown above the form, which keeps everything typed.
#[derive(Debug, Clone)]
pub struct Notice {
    pub tone: Tone,
    pub heading: &'static str,
    pub message: String,
    /// The trace to quote when asking for help.
    pub reference: Option<Reference>,
    /// The outcome is unknown: the button says "Try again" (same token, so safe).
    pub try_again: bool,
}

impl Notice {
    fn new(tone: Tone, heading: &'static str, message: impl Into<String>) -> Self {
        Self {
            tone,
            heading,
            message: message.into(),
            reference: None,
            try_again: false,
        }
    }

    /// 409: the token was used with other details. The usual way here is Back after an
    /// admission, then changing the details: that first server did move in.
    pub fn already_used() -> Self {
        Self::new(
            Tone::Info,
            "This form was already used",
            "The server you sent with this form before has moved in. To admit another \
             server, check the details below and press “Request admittance”: it will be a \
             new request.",
        )
    }

    /// 400: the token is not one the site wrote, or register refused it.
    pub fn expired() -> Self {
        Self::new(
            Tone::Warning,
            "This form had expired",
            "Nothing was sent. Please check the details below and send the form again.",
        )
    }

    /// 413: the encoded registration is larger than register takes.
    pub fn too_large() -> Self {
        Self::new(
            Tone::Error,
            "That is more than we can take in",
            "Together, the details are too long to send, so nothing was admitted. Please \
             shorten them: under each label it says how long that field may be.",
        )
    }

    /// Any other 4xx: register refused what was sent.
    pub fn refused() -> Self {
        Self::new(
            Tone::Error,
            "We couldn't accept the form",
            "Nothing was admitted. Please check the details below and send the form again.",
        )
    }

    /// register did not answer, or said it is unavailable: nothing was admitted.
    pub fn not_sent(reference: Option<Reference>) -> Self {
        Self {
            reference,
            ..Self::new(
                Tone::Warning,
                "We couldn't send your request",
                "The part of Cuddle Kube that admits residents isn't answering right now, so \
                 nothing was admitted. Nothing is lost: your details are kept below. Please \
                 send them again in a minute.",
            )
        }
    }

    /// The request may or may not have been admitted: the same token makes another
    /// try safe.
    pub fn unconfirmed(name: &str, reference: Option<Reference>) -> Self {
        let name = match name.trim() {
            "" => "your server".to_owned(),
            name => name.to_owned(),
        };
        Self {
            reference,
            try_again: true,
            ..Self::new(
                Tone::Warning,
                "We couldn't confirm your request",
                format!(
                    "Your request reached us, but we couldn't confirm whether {name} was \
                     admitted. Trying again is safe: it will not be admitted twice."
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(field: &str, code: Option<&str>) -> FieldProblem {
        FieldProblem {
            field: field.to_owned(),
            message: format!("{field} is wrong"),
            code: code.map(str::to_owned),
            ..FieldProblem::default()
        }
    }

    #[test]
    fn each_code_becomes_a_sentence_naming_the_label() {
        for (field, code, typed, expected) in [
            ("name", "required", "", "Please enter the server name."),
            (
                "type",
                "required",
                "",
                "Please enter the server type, for example m5.xlarge.",
            ),
            (
                "os",
                "required",
                " ",
                "Please enter the operating system, for example linux.",
            ),
            (
                "service",
                "not_whole_number",
                "ten",
                "Years in service must be a whole number, for example 7.",
            ),
            (
                "service",
                "out_of_range",
                "101",
                "Years in service must be a whole number from 0 to 100.",
            ),
            (
                "petname",
                "too_long",
                &"p".repeat(40),
                "The pet name can be at most 32 characters long, and this one has 40. \
                 Please shorten it.",
            ),
            (
                "name",
                "control_characters",
                "a\u{1}b",
                "The server name contains a control character, such as a tab or a line \
                 break. Please remove it.",
            ),
            (
                "os",
                "invisible_characters",
                "li\u{202e}nux",
                "The operating system contains invisible formatting characters, such as \
                 text-direction marks. Please type it again without them.",
            ),
            (
                "name",
                "not_text",
                "",
                "Please type the server name as plain text.",
            ),
            (
                "name",
                "too_short",
                "",
                "The server name needs at least 1 character.",
            ),
        ] {
            assert_eq!(
                sentence(&problem(field, Some(code)), typed),
                expected,
                "{field} {code}"
            );
        }
    }

    #[test]
    fn bounds_come_from_register_when_it_sends_them() {
        let mut p = problem("service", Some("out_of_range"));
        (p.min, p.max) = (Some(1), Some(50));
        assert_eq!(
            sentence(&p, "70"),
            "Years in service must be a whole number from 1 to 50."
        );
        let mut p = problem("name", Some("too_long"));
        p.max = Some(10);
        assert_eq!(
            sentence(&p, "x"),
            "The server name can be at most 10 characters long. Please shorten it."
        );
    }

    #[test]
    fn an_unknown_or_missing_code_names_the_label_and_its_rule() {
        for code in [None, Some("something_new")] {
            assert_eq!(
                sentence(&problem("name", code), ""),
                "Please check the server name: it should be 1 to 64 characters."
            );
            assert_eq!(
                sentence(&problem("service", code), ""),
                "Please check the years in service: it should be a whole number from 0 to \
                 100, or left empty."
            );
            assert_eq!(
                sentence(&problem("petname", code), ""),
                "Please check the pet name: it should be at most 32 characters, or left empty."
            );
        }
        assert_eq!(
            sentence(&problem("happiness", Some("out_of_range")), ""),
            "Please check the details and send the form again."
        );
    }

    #[test]
    fn registers_own_words_are_never_shown() {
        let form = RegisterForm::default();
        let problems = [problem("name", None), problem("type", Some("required"))];
        let errors = FormErrors::from_problems(&problems, &form);
        for (_, message) in errors.summary() {
            assert!(!message.contains("is wrong"), "{message}");
        }
        assert_eq!(errors.summary().len(), 2);
        let errors = FormErrors::from_problems(&[], &form);
        assert_eq!(errors.general.len(), 1, "never an empty refusal");
    }

    #[test]
    fn control_characters_are_shown_as_replacement_characters_only() {
        let form = RegisterForm {
            name: "a\u{1}b\nc".into(),
            os: "linux".into(),
            ..RegisterForm::default()
        };
        assert_eq!(form.registration().name, serde_json::json!("a\u{1}b\nc"));
        let shown = form.for_display();
        assert_eq!(shown.name, "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(shown.os, "linux");
    }

    #[test]
    fn service_goes_as_typed_when_not_a_number() {
        let mut form = RegisterForm {
            name: "n".into(),
            server_type: "t3.micro".into(),
            os: "linux".into(),
            ..RegisterForm::default()
        };
        assert!(form.registration().service.is_null());
        form.service = " 7 ".into();
        assert_eq!(form.registration().service, serde_json::json!(7));
        form.service = "ten".into();
        assert_eq!(form.registration().service, serde_json::json!("ten"));
        let sent = serde_json::to_value(form.registration()).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({"name": "n", "type": "t3.micro", "os": "linux", "petname": "", "service": "ten"})
        );
    }

    #[test]
    fn a_token_with_a_control_character_or_too_long_is_bad_and_none_is_no_key() {
        assert_eq!(token_key(""), Ok(None));
        assert!(token_key(&new_token()).unwrap().is_some());
        for bad in ["a\nb", "a\u{1}b", "a\u{7f}b", "a b", "é", &"k".repeat(129)] {
            assert_eq!(token_key(bad), Err(BadToken), "{bad:?}");
        }
    }
}
