//! The form's fields: one table, [`FIELDS`], from which the page's inputs, the
//! registration sent and the sentences for register's refusals are all made.

use api_contract::FieldProblem;
use domain::{OperatingSystem, PetName, Refusal, ServerName, ServerType, YearsOfService};
use serde_json::Value;

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
pub(super) fn form_field(name: &str) -> Option<(usize, &'static FormField)> {
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
    pub(super) fn sent(&self, typed: &str) -> Value {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::form) fn problem(field: &str, code: Option<&str>) -> FieldProblem {
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
}
