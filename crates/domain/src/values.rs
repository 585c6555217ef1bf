use std::sync::LazyLock;

use icu_properties::CodePointSetData;
use icu_properties::props::BidiControl;
use serde::{Deserialize, Serialize};

use crate::{InvalidValue, Refusal};

/// Whether `text` refuses `c` anywhere in a field: controls (general category Cc: C0
/// and C1), Unicode's `Bidi_Control` characters (direction marks, embeddings, overrides,
/// isolates and the Arabic letter mark: they make text display other than it reads, a
/// classic spoofing trick) and the byte-order mark. The zero-width joiner and variation
/// selectors stay: emoji sequences need them.
pub fn is_refused_char(c: char) -> bool {
    c.is_control() || CodePointSetData::new::<BidiControl>().contains(c) || c == BYTE_ORDER_MARK
}

const BYTE_ORDER_MARK: char = '\u{FEFF}';

/// The refused characters as a regex class body (`\u0000-\u001F...`), built from the same
/// Unicode data [`is_refused_char`] reads, so the published pattern cannot drift from it.
fn refused_class() -> String {
    let controls = [0x00..=0x1F, 0x7F..=0x9F];
    let bom = u32::from(BYTE_ORDER_MARK);
    let mut ranges: Vec<_> = controls
        .into_iter()
        .chain(CodePointSetData::new::<BidiControl>().iter_ranges())
        .chain([bom..=bom])
        .collect();
    ranges.sort_by_key(|r| *r.start());
    ranges
        .iter()
        .map(|r| match (*r.start(), *r.end()) {
            (start, end) if start == end => format!("\\u{start:04X}"),
            (start, end) => format!("\\u{start:04X}-\\u{end:04X}"),
        })
        .collect()
}

/// The text fields' character rule as a JSON Schema `pattern` (ECMA-262 syntax, which
/// Python's `re` and Rust's `regex` read alike): none of the refused characters. API
/// documents publish it so that clients and fuzzers know the rule. A property test keeps
/// it in step with `text`: what matches (within the length) is accepted, and what `text`
/// accepts matches once trimmed.
pub fn text_pattern() -> &'static str {
    static PATTERN: LazyLock<String> = LazyLock::new(|| format!("^[^{}]*$", refused_class()));
    &PATTERN
}

/// [`text_pattern`] for a required field: also at least one visible character (not
/// whitespace, not a zero-width space or joiner, not a word joiner).
pub fn required_text_pattern() -> &'static str {
    static PATTERN: LazyLock<String> = LazyLock::new(|| {
        let refused = refused_class();
        format!("^[^{refused}]*[^\\s\\u200B-\\u200D\\u2060{refused}][^{refused}]*$")
    });
    &PATTERN
}

/// Checks a human-entered text field: trimmed, no refused characters, a length in
/// characters (not bytes, so "サーバー" is four).
fn text(value: &str, what: &str, min: usize, max: usize) -> Result<String, InvalidValue> {
    let value = value.trim();
    if value.chars().any(char::is_control) {
        return Err(InvalidValue::new(
            Refusal::ControlCharacters,
            format!("{what} must not contain control characters"),
        ));
    }
    if value.chars().any(is_refused_char) {
        return Err(InvalidValue::new(
            Refusal::InvisibleCharacters,
            format!("{what} must not contain invisible formatting characters"),
        ));
    }
    let visible = value
        .chars()
        .any(|c| !c.is_whitespace() && !matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}'));
    if min > 0 && !visible {
        return Err(InvalidValue::new(
            Refusal::Required,
            format!("{what} is required"),
        ));
    }
    let len = value.chars().count();
    if len < min {
        return Err(if min == 1 {
            InvalidValue::new(Refusal::Required, format!("{what} is required"))
        } else {
            InvalidValue::new(
                Refusal::TooShort { min },
                format!("{what} must be at least {min} characters"),
            )
        });
    }
    if len > max {
        return Err(InvalidValue::new(
            Refusal::TooLong { max },
            format!("{what} must be at most {max} characters (got {len})"),
        ));
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
        }

        string_newtype!($name);
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
        os_index_key(&self.0)
    }
}

/// [`OperatingSystem::index_key`] of any stored `os` text (2019 items were never checked).
pub fn os_index_key(os: &str) -> String {
    os.to_lowercase()
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
                    Err(InvalidValue::new(
                        Refusal::OutOfRange { min: Self::MIN.into(), max: Self::MAX.into() },
                        format!(
                            "{} must be a whole number from {} to {} (got {value})",
                            $what, Self::MIN, Self::MAX
                        ),
                    ))
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
            return Err(InvalidValue::new(
                Refusal::ControlCharacters,
                "image must not contain control characters",
            ));
        }
        let len = value.chars().count();
        if len > Self::MAX_CHARS {
            return Err(InvalidValue::new(
                Refusal::TooLong {
                    max: Self::MAX_CHARS,
                },
                format!(
                    "image must be at most {} characters (got {len})",
                    Self::MAX_CHARS
                ),
            ));
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
            Ok(_) => Err(InvalidValue::new(
                Refusal::InvalidUrl,
                "image must be an https:// URL without credentials",
            )),
            Err(err) => Err(InvalidValue::new(
                Refusal::InvalidUrl,
                format!("image is not a valid URL: {err}"),
            )),
        }
    }
}

string_newtype!(ImageUrl);

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
        // U+061C ARABIC LETTER MARK is a Bidi_Control like the direction marks.
        let mark = ServerName::parse("a\u{061C}b").unwrap_err();
        assert_eq!(mark.refusal(), Refusal::InvisibleCharacters);
        // Variation selectors and tag sequences (the flag of Scotland) are emoji.
        assert!(ServerName::parse("❤\u{FE0F}").is_ok());
        assert!(
            ServerName::parse("🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}").is_ok()
        );
        assert_eq!(PetName::parse("\u{200B}").unwrap().as_str(), "\u{200B}");
    }

    /// Text mixing the characters the rules are about with arbitrary ones.
    fn tricky_text() -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![
            ' ',
            '\t',
            '\n',
            '\u{0}',
            '\u{7F}',
            '\u{85}',
            '\u{9F}',
            '\u{A0}',
            '\u{200B}',
            '\u{200D}',
            '\u{200E}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2069}',
            '\u{3000}',
            '\u{FEFF}',
            '\u{061C}',
            '\u{FE0F}',
            '\u{E0067}',
            'a',
            '鯖',
            '👍',
        ]);
        prop::collection::vec(prop_oneof![special, any::<char>()], 0..8)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn the_published_patterns_agree_with_the_rules(s in tricky_text()) {
            for (min, pattern) in [(0, text_pattern()), (1, required_text_pattern())] {
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
