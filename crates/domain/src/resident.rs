use serde::{Deserialize, Deserializer, Serialize};

use crate::{ResidentId, Timestamp};

/// A resident as the APIs answer it: the 2019 attribute names plus what a real system
/// keeps. Reading is lenient because items written in 2019 may lack the new fields or
/// hold numbers as strings; what is written is always the exact shape, every member
/// present (`null` when it has no value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "ckid": "01KAS5V3TPJ6B4ZQ8M2N7R1XYC", "name": "foo foo cuddly poops", "type": "m2.xlarge",
    "service": 10, "happiness": 7, "petname": "sven", "os": "linux",
    "image": "https://example.com/ck1.png", "registered_at": "2026-11-23T19:09:00.123456Z",
    "feed_count": 3, "last_fed_at": "2026-11-24T08:00:00.000000Z"
})))]
pub struct Resident {
    /// The resident's id: a time-sortable ULID; an id derived from the key (lower case)
    /// for a resident admitted with an `Idempotency-Key`; residents from 2019 keep ids
    /// like `ck1`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[A-Za-z0-9._-]{1,64}$", example = "01KAS5V3TPJ6B4ZQ8M2N7R1XYC"))]
    pub ckid: ResidentId,
    /// The resident's name.
    pub name: String,
    /// The server's instance type.
    #[serde(rename = "type")]
    pub server_type: String,
    /// Whole years in service.
    #[serde(deserialize_with = "lenient_number")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub service: u16,
    /// How happy the resident is, 1 to 10; feeding raises it.
    #[serde(deserialize_with = "lenient_number")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10))]
    pub happiness: u8,
    /// The pet name, empty when there is none.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub petname: String,
    /// The operating system, as registered.
    pub os: String,
    /// An `https` URL of a picture.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, format = "uri"))]
    pub image: Option<String>,
    /// When the resident was admitted (UTC, microseconds); `null` only for a resident
    /// from 2019 that `cuddlekube-admin migrate` has not reached yet.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, required = true, format = DateTime))]
    pub registered_at: Option<Timestamp>,
    /// How many times the resident was fed.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub feed_count: u64,
    /// When the resident was last fed (UTC, microseconds), `null` if never.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, required = true, format = DateTime))]
    pub last_fed_at: Option<Timestamp>,
}

/// Accepts `7` and `"7"`: the 2019 service did not always store numbers as numbers.
fn lenient_number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u64),
        Text(String),
    }
    let number = match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Number(n) => n,
        NumberOrText::Text(text) => text.trim().parse().map_err(serde::de::Error::custom)?,
    };
    T::try_from(number).map_err(|_| serde::de::Error::custom(format!("{number} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_2019_shape() {
        let legacy = serde_json::json!({
            "ckid": "ck1", "name": "foo foo cuddly poops", "type": "m2.xlarge",
            "service": "10", "happiness": 1, "petname": "sven", "os": "linux",
            "image": "https://example.com/ck1.png"
        });
        let resident: Resident = serde_json::from_value(legacy).unwrap();
        assert_eq!(resident.service, 10);
        assert_eq!(resident.happiness, 1);
        assert_eq!(resident.feed_count, 0);
        assert_eq!(resident.registered_at, None);
    }

    #[test]
    fn writes_every_field_with_its_2019_name() {
        let resident: Resident = serde_json::from_value(serde_json::json!({
            "ckid": "ck1", "name": "n", "type": "t", "service": 1, "happiness": 2, "os": "o"
        }))
        .unwrap();
        let json = serde_json::to_value(&resident).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "ckid",
                "feed_count",
                "happiness",
                "image",
                "last_fed_at",
                "name",
                "os",
                "petname",
                "registered_at",
                "service",
                "type"
            ]
        );
    }
}
