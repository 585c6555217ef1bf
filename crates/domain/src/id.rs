use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};

use crate::{IdempotencyKey, InvalidValue, Timestamp};

/// A resident's id (`ckid`).
///
/// New ids are ULIDs (upper case): time-sortable and collision-free. A resident admitted
/// with an `Idempotency-Key` gets an id derived from the key instead (lower case, see
/// [`ResidentId::for_key`]), so that a repeat of the request meets the same item; those
/// are not in time order (the listing sorts on `registered_at`, not on ids). Ids from
/// 2019 (`ck1`, ...) stay readable, so parsing accepts any short id of letters, digits,
/// `.`, `_` and `-`.
/// **Invariant:** a `ResidentId` never contains `#`; the store keeps its own records
/// (idempotency keys) under `#`-prefixed keys that no resident id can name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResidentId(String);

impl ResidentId {
    pub const MAX_LEN: usize = 64;

    /// A new ULID whose time part is `at`.
    pub fn generate(at: Timestamp) -> Self {
        let ulid = ulid::Ulid::from_datetime(at.as_offset_date_time().into());
        Self(ulid.to_string())
    }

    /// The id an admission with `key` takes: 128 bits of SHA-256 of the key, in ULID's
    /// alphabet but lower case. `generation` counts how often the key was used before and
    /// lapsed (a key is remembered for a day, after which it may admit again).
    pub fn for_key(key: &IdempotencyKey, generation: u32) -> Self {
        let digest = Sha256::new()
            .chain_update(b"cuddlekube admission\0")
            .chain_update(generation.to_be_bytes())
            .chain_update(key.as_str().as_bytes())
            .finalize();
        let mut bits = [0u8; 16];
        bits.copy_from_slice(&digest[..16]);
        Self(ulid::Ulid::from_bytes(bits).to_string().to_lowercase())
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        let what = "letters, digits, '.', '_' or '-'";
        crate::identifier(value, "ckid", Self::MAX_LEN, allowed, what).map(Self)
    }
}

string_newtype!(ResidentId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_sort_by_time_and_do_not_collide() {
        let early = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let late = Timestamp::parse("2026-01-01T00:00:01Z").unwrap();
        let a = ResidentId::generate(early);
        let b = ResidentId::generate(late);
        assert!(a < b);
        let many: std::collections::HashSet<_> =
            (0..10_000).map(|_| ResidentId::generate(early)).collect();
        assert_eq!(many.len(), 10_000);
        assert!(ResidentId::parse(a.as_str()).is_ok());
    }

    #[test]
    fn key_ids_are_stable_per_key_and_generation() {
        let key = IdempotencyKey::parse("form-7781").unwrap();
        let first = ResidentId::for_key(&key, 0);
        assert_eq!(first, ResidentId::for_key(&key, 0));
        assert_ne!(first, ResidentId::for_key(&key, 1));
        let other = IdempotencyKey::parse("form-7782").unwrap();
        assert_ne!(first, ResidentId::for_key(&other, 0));
        assert_eq!(first.as_str().len(), 26);
        assert_eq!(ResidentId::parse(first.as_str()).unwrap(), first);
        // Never the same as a generated id, which is upper case.
        assert_eq!(first.as_str(), first.as_str().to_lowercase());
    }

    #[test]
    fn legacy_ids_parse_and_store_keys_do_not() {
        assert!(ResidentId::parse("ck1").is_ok());
        assert!(ResidentId::parse("idempotency#abc").is_err());
        assert!(ResidentId::parse("").is_err());
        assert!(ResidentId::parse(&"a".repeat(65)).is_err());
        assert!(ResidentId::parse("../etc").is_err());
    }
}
