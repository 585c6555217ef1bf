use serde::{Deserialize, Serialize};

use crate::InvalidValue;

/// Unicode's explicit direction marks, embeddings, overrides and isolates.
const BIDI_CONTROLS: &[char] = &[
    '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}',
    '\u{2067}', '\u{2068}', '\u{2069}',
];

/// The characters `text` refuses anywhere in a field: C0 and C1 controls, the direction
/// marks of `BIDI_CONTROLS` and the byte-order mark, as a regex class body.
macro_rules! refused {
    () => {
        r"\u0000-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069\uFEFF"
    };
}

/// The text fields' character rule as a JSON Schema `pattern` (ECMA-262 syntax, which
/// Python's `re` and Rust's `regex` read alike): none of the refused characters. API
/// documents publish it so that clients and fuzzers know the rule. A property test keeps
/// it in step with `text`: what matches (within the length) is accepted, and what `text`
/// accepts matches once trimmed.
pub const TEXT_PATTERN: &str = concat!(r"^[^", refused!(), r"]*$");

/// `TEXT_PATTERN` for a required field: also at least one visible character (not
/// whitespace, not a zero-width space or joiner, not a word joiner).
pub const REQUIRED_TEXT_PATTERN: &str = concat!(
    r"^[^",
    refused!(),
    r"]*[^\s\u200B-\u200D\u2060",
    refused!(),
    r"][^",
    refused!(),
    r"]*$"
);

/// Checks a human-entered text field: trimmed, no control characters, a length in
/// characters (not bytes, so "サーバー" is four).
fn text(value: &str, what: &str, min: usize, max: usize) -> Result<String, InvalidValue> {
    let value = value.trim();
    if value.chars().any(char::is_control) {
        return Err(InvalidValue(format!(
            "{what} must not contain control characters"
        )));
    }
    // Direction overrides and byte-order marks make text display other than it reads
    // (a classic spoofing trick). The zero-width joiner stays: emoji sequences need it.
    if value
        .chars()
        .any(|c| BIDI_CONTROLS.contains(&c) || c == '\u{FEFF}')
    {
        return Err(InvalidValue(format!(
            "{what} must not contain invisible formatting characters"
        )));
    }
    let visible = value
        .chars()
        .any(|c| !c.is_whitespace() && !matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}'));
    if min > 0 && !visible {
        return Err(InvalidValue(format!("{what} is required")));
    }
    let len = value.chars().count();
    if len < min {
        return Err(InvalidValue(if min == 1 {
            format!("{what} is required")
        } else {
            format!("{what} must be at least {min} characters")
        }));
    }
    if len > max {
        return Err(InvalidValue(format!(
            "{what} must be at most {max} characters (got {len})"
        )));
    }
    Ok(value.to_owned())
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:literal..=$max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MIN_CHARS: usize = $min;
            pub const MAX_CHARS: usize = $max;

            pub fn parse(value: &str) -> Result<Self, InvalidValue> {
                text(value, $what, $min, $max).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
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

text_value!(
    /// A resident's name, 1..=64 characters.
    ServerName, "name", 1..=64
);
text_value!(
    /// The server's instance type, such as `m5.xlarge`, 1..=32 characters.
    ServerType, "type", 1..=32
);
text_value!(
    /// The operating system, such as `linux`, 1..=32 characters.
    OperatingSystem, "os", 1..=32
);
text_value!(
    /// An optional pet name, 0..=32 characters (empty when the server has none).
    PetName, "petname", 0..=32
);

impl OperatingSystem {
    /// The form the listing index is keyed by, so `Linux` and `linux` list together.
    pub fn index_key(&self) -> String {
        self.0.to_lowercase()
    }
}

macro_rules! bounded_number {
    ($(#[$doc:meta])* $name:ident($int:ty), $what:literal, $min:literal..=$max:literal, default $default:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name($int);

        impl $name {
            pub const MIN: $int = $min;
            pub const MAX: $int = $max;

            pub fn parse(value: i64) -> Result<Self, InvalidValue> {
                if (i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&value) {
                    Ok(Self(value as $int))
                } else {
                    Err(InvalidValue(format!(
                        "{} must be a whole number from {} to {} (got {value})",
                        $what, Self::MIN, Self::MAX
                    )))
                }
            }

            pub fn get(self) -> $int {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self($default)
            }
        }

        impl TryFrom<i64> for $name {
            type Error = InvalidValue;
            fn try_from(value: i64) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> Self {
                i64::from(value.0)
            }
        }
    };
}

bounded_number!(
    /// Whole years in service, 0..=100; new residents default to 0.
    YearsOfService(u8), "service", 0..=100, default 0
);
bounded_number!(
    /// How happy a resident is, 1..=10; feeding raises it, never past 10.
    Happiness(u8), "happiness", 1..=10, default 5
);
bounded_number!(
    /// How many residents one listing page holds, 1..=100 (default 12).
    PageSize(u8), "limit", 1..=100, default 12
);

/// A picture of the server: an absolute `https` URL of at most 2048 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageUrl(String);

impl ImageUrl {
    pub const MAX_CHARS: usize = 2048;

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let value = value.trim();
        // The URL parser silently drops tabs and newlines; refuse them instead of storing
        // text that differs from the URL it stands for.
        if value.chars().any(char::is_control) {
            return Err(InvalidValue(
                "image must not contain control characters".to_owned(),
            ));
        }
        let len = value.chars().count();
        if len > Self::MAX_CHARS {
            return Err(InvalidValue(format!(
                "image must be at most {} characters (got {len})",
                Self::MAX_CHARS
            )));
        }
        match url::Url::parse(value) {
            Ok(url)
                if url.scheme() == "https"
                    && url.host().is_some()
                    && url.username().is_empty()
                    && url.password().is_none() =>
            {
                // Kept as sent (trimmed), like every field: escaping is the page's job.
                Ok(Self(value.to_owned()))
            }
            Ok(_) => Err(InvalidValue(
                "image must be an https:// URL without credentials".to_owned(),
            )),
            Err(err) => Err(InvalidValue(format!("image is not a valid URL: {err}"))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ImageUrl {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ImageUrl> for String {
    fn from(value: ImageUrl) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_and_counted_in_characters() {
        assert_eq!(ServerName::parse("  sven  ").unwrap().as_str(), "sven");
        // 64 CJK characters are 192 bytes but still a valid name.
        let cjk = "鯖".repeat(64);
        assert!(ServerName::parse(&cjk).is_ok());
        assert!(ServerName::parse(&"鯖".repeat(65)).is_err());
        // An emoji with a skin tone is two chars; combining marks count as chars.
        assert!(ServerName::parse(&"👍🏽".repeat(32)).is_ok());
        assert!(ServerName::parse(&"e\u{301}".repeat(32)).is_ok());
        assert!(ServerName::parse(&"e\u{301}".repeat(33)).is_err());
    }

    #[test]
    fn required_text_rejects_blank_and_control_characters() {
        assert_eq!(
            ServerName::parse("   ").unwrap_err().message(),
            "name is required"
        );
        assert!(ServerType::parse("m5\u{0}.large").is_err());
        assert!(OperatingSystem::parse("li\nnux").is_err());
        assert_eq!(PetName::parse("").unwrap().as_str(), "");
    }

    #[test]
    fn invisible_formatting_is_refused_but_emoji_sequences_are_not() {
        assert!(ServerName::parse("a\u{202E}b").is_err());
        assert!(ServerName::parse("\u{FEFF}sven").is_err());
        assert_eq!(
            ServerName::parse("\u{200B}").unwrap_err().message(),
            "name is required"
        );
        assert!(ServerName::parse("👨\u{200D}👩\u{200D}👧").is_ok());
        assert_eq!(PetName::parse("\u{200B}").unwrap().as_str(), "\u{200B}");
    }

    /// Text mixing the characters the rules are about with arbitrary ones.
    fn tricky_text() -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![
            ' ', '\t', '\n', '\u{0}', '\u{7F}', '\u{85}', '\u{9F}', '\u{A0}', '\u{200B}',
            '\u{200D}', '\u{200E}', '\u{202E}', '\u{2060}', '\u{2066}', '\u{2069}', '\u{3000}',
            '\u{FEFF}', 'a', '鯖', '👍',
        ]);
        prop::collection::vec(prop_oneof![special, any::<char>()], 0..8)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn the_published_patterns_agree_with_the_rules(s in tricky_text()) {
            for (min, pattern) in [(0, TEXT_PATTERN), (1, REQUIRED_TEXT_PATTERN)] {
                let pattern = regex::Regex::new(pattern).unwrap();
                let accepted = text(&s, "field", min, 100).is_ok();
                if pattern.is_match(&s) {
                    prop_assert!(accepted, "{s:?} matches {pattern} but is refused");
                }
                if accepted {
                    prop_assert!(pattern.is_match(s.trim()), "{s:?} is accepted but does not match {pattern}");
                }
            }
        }
    }

    #[test]
    fn markup_is_kept_verbatim() {
        let name = "<script>alert(1)</script>";
        assert_eq!(ServerName::parse(name).unwrap().as_str(), name);
    }

    #[test]
    fn numbers_have_inclusive_bounds() {
        assert!(YearsOfService::parse(0).is_ok());
        assert!(YearsOfService::parse(100).is_ok());
        assert!(YearsOfService::parse(101).is_err());
        assert!(YearsOfService::parse(-1).is_err());
        assert!(Happiness::parse(0).is_err());
        assert!(Happiness::parse(1).is_ok());
        assert!(Happiness::parse(10).is_ok());
        assert!(Happiness::parse(11).is_err());
        assert_eq!(Happiness::default().get(), 5);
        assert_eq!(PageSize::default().get(), 12);
        assert!(PageSize::parse(0).is_err());
        assert!(PageSize::parse(101).is_err());
    }

    #[test]
    fn images_must_be_https() {
        assert!(ImageUrl::parse("https://example.com/a.png").is_ok());
        assert!(ImageUrl::parse("http://example.com/a.png").is_err());
        assert!(ImageUrl::parse("javascript:alert(1)").is_err());
        assert!(ImageUrl::parse("not a url").is_err());
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(ImageUrl::parse(&long).is_err());
        assert!(ImageUrl::parse("https://exa\nmple.com/a.png").is_err());
        assert!(ImageUrl::parse("\u{0}https://example.com/a.png").is_err());
        assert!(ImageUrl::parse("https://u:p@example.com/a.png").is_err());
        assert_eq!(
            ImageUrl::parse(" https://example.com/a.png?x=<y> ")
                .unwrap()
                .as_str(),
            "https://example.com/a.png?x=<y>"
        );
    }

    #[test]
    fn os_index_key_ignores_case() {
        assert_eq!(
            OperatingSystem::parse("Linux").unwrap().index_key(),
            "linux"
        );
    }

    proptest! {
        #[test]
        fn accepted_names_are_trimmed_bounded_and_clean(s in "\\PC{0,80}") {
            if let Ok(name) = ServerName::parse(&s) {
                let n = name.as_str().chars().count();
                prop_assert!((1..=64).contains(&n));
                prop_assert_eq!(name.as_str(), name.as_str().trim());
                prop_assert!(!name.as_str().chars().any(char::is_control));
            } else {
                let t = s.trim();
                prop_assert!(t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control));
            }
        }

        #[test]
        fn happiness_accepts_exactly_its_range(n in -1000i64..1000) {
            prop_assert_eq!(Happiness::parse(n).is_ok(), (1..=10).contains(&n));
            prop_assert_eq!(YearsOfService::parse(n).is_ok(), (0..=100).contains(&n));
        }

        #[test]
        fn parsing_is_idempotent(s in "\\PC{0,40}") {
            if let Ok(t) = ServerType::parse(&s) {
                prop_assert_eq!(ServerType::parse(t.as_str()).unwrap(), t);
            }
        }
    }
}
