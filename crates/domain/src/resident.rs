use serde::{Deserialize, Deserializer, Serialize};

use crate::{ResidentId, Timestamp};

/// A resident as the APIs answer it: the 2019 attribute names plus what a real system
/// keeps. Reading is lenient because items written in 2019 may lack the new fields or
/// hold numbers as strings; what is written is always the exact shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    pub ckid: ResidentId,
    pub name: String,
    #[serde(rename = "type")]
    pub server_type: String,
    /// Whole years in service.
    #[serde(deserialize_with = "lenient_number")]
    pub service: u16,
    /// 1..=10.
    #[serde(deserialize_with = "lenient_number")]
    pub happiness: u8,
    #[serde(default)]
    pub petname: String,
    pub os: String,
    #[serde(default)]
    pub image: Option<String>,
    /// `None` only for a 2019 item that `cuddlekube-admin migrate` has not reached yet.
    #[serde(default)]
    pub registered_at: Option<Timestamp>,
    #[serde(default)]
    pub feed_count: u64,
    #[serde(default)]
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
