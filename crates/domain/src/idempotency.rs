use crate::InvalidValue;

/// The `Idempotency-Key` a client sends so that a retried write (an admission, a
/// feeding) is answered with the first result instead of being done twice: 1..=128
/// visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let what = "visible ASCII characters";
        crate::identifier(
            value,
            "Idempotency-Key",
            Self::MAX_LEN,
            |b| b.is_ascii_graphic(),
            what,
        )
        .map(Self)
    }

    /// A fresh key, for a write the client sent without one: the service's own, so that
    /// the SDK's retries of it still apply once.
    pub fn random() -> Self {
        Self(ulid::Ulid::new().to_string())
    }
}

string_newtype!(IdempotencyKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_up_to_128() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(128)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(129)).is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
    }
}
