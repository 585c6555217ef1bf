use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// An instant in UTC, written with a fixed width (`2026-11-23T19:09:00.123456Z`).
///
/// **Invariant:** the written form always has six fractional digits and `Z`, so the
/// string order of two timestamps is their time order; the listing index sorts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

const FIXED: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

impl Timestamp {
    pub fn now() -> Self {
        Self::from(OffsetDateTime::now_utc())
    }

    /// Reads any RFC 3339 instant (older items may have been written another way).
    pub fn parse(value: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(value, &Rfc3339).map(Self::from)
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn as_offset_date_time(self) -> OffsetDateTime {
        self.0
    }

    pub fn plus(self, duration: time::Duration) -> Self {
        Self(self.0 + duration)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(value: OffsetDateTime) -> Self {
        // Microseconds are all the fixed form keeps; drop the rest so that a value read
        // back compares equal to the one written.
        let value = value.to_offset(UtcOffset::UTC);
        let micros = value.microsecond();
        Self(value.replace_microsecond(micros).unwrap_or(value))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.format(FIXED).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_a_fixed_width_utc_form() {
        let t = Timestamp::parse("2026-11-23T20:09:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-23T19:09:00.000000Z");
    }

    proptest! {
        #[test]
        fn string_order_is_time_order(a in 0i64..4_000_000_000_000_000, b in 0i64..4_000_000_000_000_000) {
            let ta = Timestamp::from(OffsetDateTime::from_unix_timestamp_nanos(i128::from(a) * 1000).unwrap());
            let tb = Timestamp::from(OffsetDateTime::from_unix_timestamp_nanos(i128::from(b) * 1000).unwrap());
            prop_assert_eq!(ta.cmp(&tb), ta.to_string().cmp(&tb.to_string()));
            prop_assert_eq!(Timestamp::parse(&ta.to_string()).unwrap(), ta);
        }
    }
}
