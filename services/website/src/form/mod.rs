//! The admittance form: what the visitor typed, the token that makes sending it safe to
//! repeat, and what the visitor is told about it, in the site's own words. Files:
//! `fields.rs` (the table of fields, and a refused field's sentence), `notice.rs` (the
//! notices above the form); here, the form as sent and its problems by field.

mod fields;
mod notice;

use api_contract::FieldProblem;
use domain::{IdempotencyKey, RegistrationInput};
use serde_json::{Map, Value};

pub use fields::{FIELDS, FormField, sentence};
pub use notice::{Notice, Tone};

use fields::form_field;

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

/// What the visitor typed into the admittance form: a value per [`FIELDS`] row, and
/// the hidden token. Read from the form body: other names are ignored, a field sent
/// twice is refused (no form of the site's sends that).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(try_from = "Vec<(String, String)>")]
pub struct RegisterForm {
    typed: [String; FIELDS.len()],
    pub idempotency_token: String,
}

impl TryFrom<Vec<(String, String)>> for RegisterForm {
    type Error = String;

    fn try_from(pairs: Vec<(String, String)>) -> Result<Self, Self::Error> {
        let mut form = Self::default();
        let mut seen = [false; FIELDS.len() + 1];
        for (name, value) in pairs {
            let (place, slot) = match form_field(&name) {
                Some((place, _)) => (place, &mut form.typed[place]),
                None if name == "idempotency_token" => (FIELDS.len(), &mut form.idempotency_token),
                None => continue,
            };
            if std::mem::replace(&mut seen[place], true) {
                return Err(format!("duplicate field `{name}`"));
            }
            *slot = value;
        }
        Ok(form)
    }
}

/// A field as the page shows it.
#[derive(Debug)]
pub struct FieldView<'a> {
    pub field: &'static FormField,
    pub typed: &'a str,
    pub error: Option<&'a str>,
}

impl RegisterForm {
    /// An empty form with a fresh token.
    pub fn fresh() -> Self {
        Self {
            idempotency_token: new_token(),
            ..Self::default()
        }
    }

    /// What was typed into register's field `name` (empty for a name not in the form).
    pub fn typed(&self, name: &str) -> &str {
        form_field(name).map_or("", |(place, _)| &self.typed[place])
    }

    #[cfg(test)]
    fn with(pairs: &[(&str, &str)]) -> Self {
        let pairs = pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()));
        Self::try_from(pairs.collect::<Vec<_>>()).expect("a test form")
    }

    /// The registration register is sent: each field as [`FormField::sent`] makes it.
    pub fn registration(&self) -> RegistrationInput {
        let fields: Map<String, Value> = FIELDS
            .iter()
            .zip(&self.typed)
            .map(|(field, typed)| (field.name.to_owned(), field.sent(typed)))
            .collect();
        // Every value is text, a number or null, which every member of the input takes.
        serde_json::from_value(Value::Object(fields)).unwrap_or_default()
    }

    /// The form as shown again: control characters (which HTML cannot hold) read as
    /// "�", so the visitor sees where they were. Only for display: what is sent is
    /// always what was typed, so register still refuses them.
    pub fn for_display(mut self) -> Self {
        for field in &mut self.typed {
            if field.chars().any(char::is_control) {
                *field = field
                    .chars()
                    .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
                    .collect();
            }
        }
        self
    }

    /// Each field with what was typed and its problem, in form order.
    pub fn view<'a>(&'a self, errors: &'a FormErrors) -> Vec<FieldView<'a>> {
        FIELDS
            .iter()
            .zip(&self.typed)
            .zip(&errors.fields)
            .map(|((field, typed), error)| FieldView {
                field,
                typed,
                error: error.as_deref(),
            })
            .collect()
    }
}

/// A problem per form field, shown beside it.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    /// By [`FIELDS`] place.
    fields: [Option<String>; FIELDS.len()],
    /// Problems that belong to no one field.
    pub general: Vec<String>,
}

impl FormErrors {
    /// Every problem register found, each in the site's words under its field.
    pub fn from_problems(problems: &[FieldProblem], form: &RegisterForm) -> Self {
        let mut errors = Self::default();
        for problem in problems {
            let sentence = sentence(problem, form.typed(&problem.field));
            errors.add(&problem.field, sentence);
        }
        if errors.is_empty() {
            errors
                .general
                .push("Please check the details and send the form again.".to_owned());
        }
        errors
    }

    /// Files `message` under the form field register named.
    fn add(&mut self, field: &str, message: String) {
        let Some((place, _)) = form_field(field) else {
            self.general.push(message);
            return;
        };
        match &mut self.fields[place] {
            Some(existing) => {
                existing.push(' ');
                existing.push_str(&message);
            }
            slot @ None => *slot = Some(message),
        }
    }

    /// (input id, message) for the summary at the top of the form, in form order.
    pub fn summary(&self) -> Vec<(&'static str, &str)> {
        FIELDS
            .iter()
            .zip(&self.fields)
            .filter_map(|(field, message)| message.as_deref().map(|m| (field.name, m)))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.summary().is_empty() && self.general.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::fields::tests::problem;
    use super::*;

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
        let form = RegisterForm::with(&[("name", "a\u{1}b\nc"), ("os", "linux")]);
        assert_eq!(form.registration().name, serde_json::json!("a\u{1}b\nc"));
        let shown = form.for_display();
        assert_eq!(shown.typed("name"), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(shown.typed("os"), "linux");
    }

    #[test]
    fn service_goes_as_typed_when_not_a_number() {
        let form = |service| {
            RegisterForm::with(&[
                ("name", "n"),
                ("type", "t3.micro"),
                ("os", "linux"),
                ("service", service),
            ])
        };
        assert!(form("").registration().service.is_null());
        assert_eq!(form(" 7 ").registration().service, serde_json::json!(7));
        let form = form("ten");
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
