//! register's own extractor: the registration body.

use domain::RegistrationInput;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// The request body: a JSON object whose fields `NewResident::parse` checks, so that a
/// wrong type is one field's problem among the others, not a refusal of the body.
/// Anything but an object (`[]`, `"x"`, `null`) is refused here as the wrong shape
/// (422): serde would otherwise read a JSON array positionally into the struct.
#[derive(Debug)]
pub(crate) struct RegistrationBody(pub RegistrationInput);

impl<'de> Deserialize<'de> for RegistrationBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly;

        impl<'de> Visitor<'de> for ObjectOnly {
            type Value = RegistrationInput;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object with the registration's fields")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RegistrationInput::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer.deserialize_map(ObjectOnly).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use domain::NewResident;

    use super::*;

    fn body(json: &str) -> Result<RegistrationBody, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn only_objects_are_registrations() {
        for not_an_object in ["[]", r#"["a","t","o"]"#, r#""x""#, "null", "5", "true"] {
            assert!(body(not_an_object).is_err(), "{not_an_object} was read");
        }
        let read = body(r#"{"name":"a","type":"t","os":"o","ckid":"ck1","extra":[1]}"#).unwrap();
        assert_eq!(read.0.name, serde_json::json!("a"));
        assert_eq!(read.0.server_type, serde_json::json!("t"));
    }

    fn fields(result: Result<NewResident, domain::ValidationErrors>) -> Vec<String> {
        result.unwrap_err().0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn images_with_control_characters_are_refused_with_the_other_problems() {
        let input = |image: &str, name: &str| {
            body(
                &serde_json::json!({"name": name, "type": "t", "os": "o", "image": image})
                    .to_string(),
            )
            .unwrap()
            .0
        };
        for image in [
            "https://exa\nmple.com/a.png",
            "\u{0}https://example.com/a.png",
            "https://example.com/a\u{1}.png",
        ] {
            assert_eq!(
                fields(NewResident::parse(&input(image, "n"))),
                ["image"],
                "{image:?}"
            );
            assert_eq!(
                fields(NewResident::parse(&input(image, ""))),
                ["name", "image"],
                "{image:?}"
            );
        }
        // Reported once when the URL is refused for another reason too.
        assert_eq!(
            fields(NewResident::parse(&input("http://a\nb", "n"))),
            ["image"]
        );
        // Surrounding whitespace is trimmed, as for every text field.
        let new = NewResident::parse(&input(" https://example.com/a.png\n", "n")).unwrap();
        assert_eq!(new.image.unwrap().as_str(), "https://example.com/a.png");
    }

    #[test]
    fn a_field_sent_twice_is_refused() {
        assert!(body(r#"{"name":"a","name":"b","type":"t","os":"o"}"#).is_err());
    }
}
