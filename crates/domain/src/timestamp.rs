use std::sync::atomic::{AtomicI64, Ordering};

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
    /// The current instant, and later than every earlier `now()` of this process (by a
    /// microsecond when the clock has not moved on, or went back). The store tells its
    /// own write, retried by the SDK, from another request's by the admission's time: two
    /// admissions of one process never share it.
    pub fn now() -> Self {
        static LAST_MICROS: AtomicI64 = AtomicI64::new(i64::MIN);
        let clock = Self::from(OffsetDateTime::now_utc()).unix_micros();
        let mut last = LAST_MICROS.load(Ordering::Relaxed);
        loop {
            let next = clock.max(last.saturating_add(1));
            match LAST_MICROS.compare_exchange_weak(
                last,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Self::from_unix_micros(next),
                Err(seen) => last = seen,
            }
        }
    }

    fn unix_micros(self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
    }

    fn from_unix_micros(micros: i64) -> Self {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
            .unwrap_or_else(|_| OffsetDateTime::now_utc());
        Self::from(at)
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
    fn now_never_answers_the_same_instant_twice() {
        let many: Vec<_> = (0..10_000).map(|_| Timestamp::now()).collect();
        assert!(many.windows(2).all(|pair| pair[0] < pair[1]));
        let written = many[0].to_string();
        assert_eq!(Timestamp::parse(&written).unwrap(), many[0]);
    }

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
