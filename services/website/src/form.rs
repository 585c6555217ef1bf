//! The admittance form: its fields (one table, [`FIELDS`], from which the page, the
//! registration sent and the sentences are all made), what the visitor typed, the token
//! that makes sending it safe to repeat, and what the visitor is told about it, in the
//! site's own words: each refused field named by its label, with how to put it right.

use api_contract::FieldProblem;
use domain::{
    IdempotencyKey, OperatingSystem, PetName, Refusal, RegistrationInput, ServerName, ServerType,
    YearsOfService,
};
use serde_json::{Map, Value};

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

/// A field of the admittance form, as the visitor knows it.
#[derive(Debug)]
pub struct FormField {
    /// The input's `name` and `id`, and register's name for the field.
    pub name: &'static str,
    /// As the sentences name it; the page's label is it capitalised.
    pub label: &'static str,
    /// Under the label.
    pub help: &'static str,
    pub rule: Rule,
    /// The "for example" of the sentences (the input suggests `choices`).
    pub example: Option<&'static str>,
    /// Offered as the input's suggestions.
    pub choices: &'static [&'static str],
}

/// What a field takes, as register checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Required text of `min..=max` characters.
    Text { min: usize, max: usize },
    /// Text of at most `max` characters, or nothing.
    OptionalText { max: usize },
    /// A whole number `min..=max`, or nothing (register's default).
    WholeNumber { min: usize, max: usize },
}

/// The form's fields, in form order. A field register takes is one row here.
pub const FIELDS: [FormField; 5] = [
    FormField {
        name: "name",
        label: "server name",
        help: "What you called it, e.g. “foo foo cuddly poops”. Up to 64 characters.",
        rule: Rule::Text {
            min: ServerName::MIN_CHARS,
            max: ServerName::MAX_CHARS,
        },
        example: None,
        choices: &[],
    },
    FormField {
        name: "type",
        label: "server type",
        help: "The instance type it ran as, e.g. m5.xlarge or t2.micro.",
        rule: Rule::Text {
            min: ServerType::MIN_CHARS,
            max: ServerType::MAX_CHARS,
        },
        example: Some("m5.xlarge"),
        choices: &[
            "t2.micro",
            "t3.medium",
            "m4.large",
            "m5.xlarge",
            "c5.2xlarge",
            "r5.large",
            "x1.16xlarge",
            "p3.2xlarge",
            "i3.large",
            "d2.xlarge",
            "z1d.large",
        ],
    },
    FormField {
        name: "service",
        label: "years in service",
        help: "Whole years, from 0 to 100. Leave empty if you’ve lost count.",
        rule: Rule::WholeNumber {
            min: YearsOfService::MIN as usize,
            max: YearsOfService::MAX as usize,
        },
        example: Some("7"),
        choices: &[],
    },
    FormField {
        name: "petname",
        label: "pet name",
        help: "What the team called it when nobody was listening. Up to 32 characters.",
        rule: Rule::OptionalText {
            max: PetName::MAX_CHARS,
        },
        example: None,
        choices: &[],
    },
    FormField {
        name: "os",
        label: "operating system",
        help: "What it runs, e.g. linux, windows or freebsd.",
        rule: Rule::Text {
            min: OperatingSystem::MIN_CHARS,
            max: OperatingSystem::MAX_CHARS,
        },
        example: Some("linux"),
        choices: &["linux", "windows", "freebsd", "openbsd", "solaris"],
    },
];

/// The row of register's field `name`, and its place in the form.
fn form_field(name: &str) -> Option<(usize, &'static FormField)> {
    FIELDS
        .iter()
        .enumerate()
        .find(|(_, field)| field.name == name)
}

impl FormField {
    /// The page's label.
    pub fn title(&self) -> String {
        capitalised(self.label)
    }

    pub fn is_required(&self) -> bool {
        matches!(self.rule, Rule::Text { .. })
    }

    pub fn is_optional(&self) -> bool {
        matches!(self.rule, Rule::OptionalText { .. })
    }

    pub fn is_number(&self) -> bool {
        matches!(self.rule, Rule::WholeNumber { .. })
    }

    /// The input's `maxlength`: room past the rule, so that register (not the browser)
    /// says what is too long.
    pub fn max_typed(&self) -> usize {
        if self.is_number() { 20 } else { 200 }
    }

    /// The value sent for what was typed: a whole number goes as a number when it is
    /// one and as the text typed otherwise (so register reports it beside the other
    /// fields' problems), and not at all when empty (register's default applies).
    fn sent(&self, typed: &str) -> Value {
        if !self.is_number() {
            return Value::from(typed);
        }
        match typed.trim() {
            "" => Value::Null,
            number => number
                .parse::<u64>()
                .map_or_else(|_| Value::from(number), Value::from),
        }
    }

    /// The rule in words, for the sentence used when register's reason is unknown.
    fn rule_in_words(&self) -> String {
        match self.rule {
            Rule::Text { min, max } => format!("{min} to {max} characters"),
            Rule::OptionalText { max } => format!("at most {max} characters, or left empty"),
            Rule::WholeNumber { min, max } => {
                format!("a whole number from {min} to {max}, or left empty")
            }
        }
    }
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
    let Some((_, field)) = form_field(&problem.field) else {
        return "Please check the details and send the form again.".to_owned();
    };
    let label = field.label;
    match problem.refusal {
        Some(Refusal::Required) => match field.example {
            Some(example) if !field.is_number() => {
                format!("Please enter the {label}, for example {example}.")
            }
            _ => format!("Please enter the {label}."),
        },
        Some(Refusal::NotText) => format!("Please type the {label} as plain text."),
        Some(Refusal::NotWholeNumber) => format!(
            "{} must be a whole number, for example {}.",
            field.title(),
            field.example.unwrap_or("7")
        ),
        Some(Refusal::OutOfRange { min, max }) => format!(
            "{} must be a whole number from {min} to {max}.",
            field.title(),
        ),
        Some(Refusal::TooShort { min: 1 }) => format!("The {label} needs at least 1 character."),
        Some(Refusal::TooShort { min }) => format!("The {label} needs at least {min} characters."),
        Some(Refusal::TooLong { max }) => {
            let length = typed.trim().chars().count();
            if length > max {
                format!(
                    "The {label} can be at most {max} characters long, and this one has \
                     {length}. Please shorten it."
                )
            } else {
                format!("The {label} can be at most {max} characters long. Please shorten it.")
            }
        }
        Some(Refusal::ControlCharacters) => format!(
            "The {label} contains a control character, such as a tab or a line break. \
             Please remove it."
        ),
        Some(Refusal::InvisibleCharacters) => format!(
            "The {label} contains invisible formatting characters, such as text-direction \
             marks. Please type it again without them."
        ),
        Some(Refusal::InvalidUrl) => {
            format!("The {label} must be a web address that starts with https://.")
        }
        Some(Refusal::Malformed) | None => format!(
            "Please check the {label}: it should be {}.",
            field.rule_in_words()
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

    /// A problem as register sends it: `code` with the field's own bounds.
    fn problem(field: &str, code: Option<&str>) -> FieldProblem {
        let (min, max) = match form_field(field).map(|(_, f)| f.rule) {
            Some(Rule::Text { min, max } | Rule::WholeNumber { min, max }) => (min, max),
            Some(Rule::OptionalText { max }) => (0, max),
            None => (0, 10),
        };
        serde_json::from_value(serde_json::json!({
            "field": field, "message": format!("{field} is wrong"), "code": code,
            "min": min, "max": max,
        }))
        .unwrap()
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
        p.refusal = Some(Refusal::OutOfRange { min: 1, max: 50 });
        assert_eq!(
            sentence(&p, "70"),
            "Years in service must be a whole number from 1 to 50."
        );
        let mut p = problem("name", Some("too_long"));
        p.refusal = Some(Refusal::TooLong { max: 10 });
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
