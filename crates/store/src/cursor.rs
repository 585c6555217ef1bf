//! The opaque listing cursor.
//!
//! A cursor names the last resident of a page (its `ckid` and `registered_at`) and the
//! filter the page was listed with, as base64url JSON followed by a digest of it. The
//! digest catches cursors that were cut, edited or made up; the filter check refuses a
//! cursor carried over to another filter. Both are answered as `InvalidCursor` (a 400),
//! never a DynamoDB validation error (a 500). The digest is not a secret MAC: a forged
//! cursor could only start a public listing somewhere else, which grants nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{ResidentId, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StoreError;

const VERSION: u8 = 1;
const TAG_LEN: usize = 12;
/// Far longer than any cursor we write; refuses huge inputs before decoding them.
const MAX_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    v: u8,
    /// The lower-cased OS filter, or `None` for the unfiltered listing.
    pub os: Option<String>,
    pub ckid: ResidentId,
    pub at: Timestamp,
}

impl Cursor {
    pub fn new(os: Option<String>, ckid: ResidentId, at: Timestamp) -> Self {
        Self {
            v: VERSION,
            os,
            ckid,
            at,
        }
    }

    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(tag(&json))
        )
    }

    /// Decodes a cursor for a listing filtered by `os` (lower-cased, or `None`).
    pub fn decode(text: &str, os: Option<&str>) -> Result<Self, StoreError> {
        let bad = StoreError::InvalidCursor;
        if text.len() > MAX_LEN {
            return Err(bad("it is too long"));
        }
        let (body, given_tag) = text.split_once('.').ok_or(bad("it is malformed"))?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| bad("it is malformed"))?;
        let given_tag = URL_SAFE_NO_PAD
            .decode(given_tag)
            .map_err(|_| bad("it is malformed"))?;
        if given_tag != tag(&json) {
            return Err(bad("it was altered or truncated"));
        }
        let cursor: Self = serde_json::from_slice(&json).map_err(|_| bad("it is malformed"))?;
        if cursor.v != VERSION {
            return Err(bad("it comes from another version"));
        }
        if cursor.os.as_deref() != os {
            return Err(bad("it belongs to a listing with another os filter"));
        }
        Ok(cursor)
    }
}

fn tag(json: &[u8]) -> [u8; TAG_LEN] {
    let digest = Sha256::new()
        .chain_update(b"cuddlekube listing cursor\0")
        .chain_update(json)
        .finalize();
    let mut tag = [0; TAG_LEN];
    tag.copy_from_slice(&digest[..TAG_LEN]);
    tag
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(os: Option<&str>) -> Cursor {
        Cursor::new(
            os.map(str::to_owned),
            ResidentId::parse("01JD0000000000000000000000").unwrap(),
            Timestamp::parse("2026-11-23T19:09:00Z").unwrap(),
        )
    }

    #[test]
    fn round_trips_for_the_same_filter() {
        let c = sample(Some("linux"));
        assert_eq!(Cursor::decode(&c.encode(), Some("linux")).unwrap(), c);
        let c = sample(None);
        assert_eq!(Cursor::decode(&c.encode(), None).unwrap(), c);
    }

    #[test]
    fn refuses_a_cursor_from_another_filter() {
        let text = sample(Some("linux")).encode();
        assert!(matches!(
            Cursor::decode(&text, None),
            Err(StoreError::InvalidCursor(_))
        ));
        assert!(matches!(
            Cursor::decode(&text, Some("windows")),
            Err(StoreError::InvalidCursor(_))
        ));
    }

    #[test]
    fn refuses_garbage_truncation_and_edits() {
        let text = sample(None).encode();
        for bad in [
            "",
            ".",
            "garbage",
            &text[..text.len() - 1],
            &text[1..],
            &text.replacen('.', "", 1),
            &"a".repeat(MAX_LEN + 1),
        ] {
            assert!(
                matches!(Cursor::decode(bad, None), Err(StoreError::InvalidCursor(_))),
                "{bad:?} was accepted"
            );
        }
    }

    proptest! {
        #[test]
        fn any_single_character_change_is_refused(pos in 0usize..200, ch in "[A-Za-z0-9_.-]") {
            let text = sample(Some("linux")).encode();
            let pos = pos % text.len();
            let mut edited = text.clone();
            edited.replace_range(pos..pos + 1, &ch);
            prop_assume!(edited != text);
            prop_assert!(Cursor::decode(&edited, Some("linux")).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics_and_is_refused(s in "\\PC{0,600}") {
            prop_assert!(Cursor::decode(&s, None).is_err());
        }
    }
}
