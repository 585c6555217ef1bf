//! A resident as the pages show it: the card of the listing, and what a resident's own
//! page adds (when it moved in, when it was last fed, a short bio).

use domain::{Resident, Timestamp};
use time::OffsetDateTime;

use crate::avatar::{Family, Mood};
use crate::words;

/// A resident as the pages show it, with a fresh token for its feed button.
#[derive(Debug, Clone)]
pub struct Card {
    pub ckid: String,
    pub name: String,
    pub petname: String,
    pub server_type: String,
    pub os: String,
    pub service: u16,
    pub happiness: u8,
    pub feed_count: u64,
    pub registered_at: Option<Timestamp>,
    pub last_fed_at: Option<Timestamp>,
    pub family: Family,
    pub mood: Mood,
    /// The feed button's idempotency token: new for every rendering, so one press (or a
    /// double click, or "Try again") feeds once and the next press feeds again.
    pub feed_token: String,
    /// Set on the card the visitor just fed (after the redirect back).
    pub fed: Option<FedNote>,
}

impl From<Resident> for Card {
    fn from(resident: Resident) -> Self {
        let happiness = resident.happiness.clamp(1, 10);
        Self {
            ckid: resident.ckid.to_string(),
            family: Family::of(&resident.server_type),
            mood: Mood::of(happiness),
            name: resident.name,
            petname: resident.petname,
            server_type: resident.server_type,
            os: resident.os,
            service: resident.service,
            happiness,
            feed_count: resident.feed_count,
            registered_at: resident.registered_at,
            last_fed_at: resident.last_fed_at,
            feed_token: crate::form::new_token(),
            fed: None,
        }
    }
}

impl Card {
    pub fn href(&self) -> String {
        format!("/residents/{}", self.ckid)
    }

    pub fn anchor(&self) -> String {
        format!("resident-{}", self.ckid)
    }

    pub fn avatar(&self) -> &'static str {
        self.family.avatar()
    }

    pub fn face(&self) -> &'static str {
        self.mood.face()
    }

    pub fn avatar_alt(&self) -> String {
        format!(
            "{}, {}, looking {}",
            self.name,
            self.family.describe(),
            self.mood.looks()
        )
    }

    /// One entry per heart of ten: full or empty.
    pub fn hearts(&self) -> Vec<bool> {
        (1..=10).map(|i| i <= self.happiness).collect()
    }

    pub fn years(&self) -> String {
        words::years(self.service)
    }

    pub fn meals(&self) -> String {
        match self.feed_count {
            0 => "Not fed yet".to_owned(),
            1 => "Fed once".to_owned(),
            n => format!("Fed {n} times"),
        }
    }

    /// Marks this card as the one just fed, with its happiness after the feeding.
    pub fn mark_fed(&mut self, happiness_after: u8) {
        self.fed = Some(FedNote::new(&self.name, happiness_after));
    }
}

/// What the visitor is told after feeding a resident: who, and how its happiness
/// changed. A feeding adds one heart up to ten, so the answer's happiness below ten was
/// one less before; at ten it may have been full already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FedNote {
    pub message: String,
}

impl FedNote {
    pub fn new(name: &str, happiness_after: u8) -> Self {
        let message = match happiness_after.clamp(1, 10) {
            10 => format!("You fed {name}. Happiness is at 10 out of 10: it could not be happier."),
            after => format!(
                "You fed {name}. Happiness went up from {} to {after} out of 10.",
                after - 1
            ),
        };
        Self { message }
    }
}

/// What a resident's own page shows beyond the card.
#[derive(Debug, Clone)]
pub struct Profile {
    /// "14 March 2026", and the instant for `<time datetime>`.
    pub moved_in: Option<(String, String)>,
    /// "3 minutes ago", and the instant for `<time datetime>`.
    pub last_fed: Option<(String, String)>,
    pub bio: String,
}

impl Profile {
    pub fn of(card: &Card, now: OffsetDateTime) -> Self {
        let instant = |t: Timestamp| {
            let at = t.as_offset_date_time();
            (at, words::machine(at))
        };
        Self {
            moved_in: card
                .registered_at
                .map(instant)
                .map(|(at, iso)| (words::date(at), iso)),
            last_fed: card
                .last_fed_at
                .map(instant)
                .map(|(at, iso)| (words::ago(at, now), iso)),
            bio: words::bio(card),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resident(happiness: u8) -> Resident {
        serde_json::from_value(serde_json::json!({
            "ckid": "ck1", "name": "Cuddles", "type": "t3.medium", "service": 6,
            "happiness": happiness, "os": "linux", "petname": "snug",
            "registered_at": "2026-03-14T10:00:00.000000Z",
            "last_fed_at": "2026-03-14T11:57:00.000000Z", "feed_count": 2
        }))
        .unwrap()
    }

    #[test]
    fn the_feed_note_says_who_and_how_happiness_changed() {
        assert_eq!(
            FedNote::new("Cuddles", 6).message,
            "You fed Cuddles. Happiness went up from 5 to 6 out of 10."
        );
        assert_eq!(
            FedNote::new("Cuddles", 10).message,
            "You fed Cuddles. Happiness is at 10 out of 10: it could not be happier."
        );
    }

    #[test]
    fn every_rendering_gets_its_own_feed_token() {
        let (a, b) = (Card::from(resident(5)), Card::from(resident(5)));
        assert_eq!(a.feed_token.len(), 26);
        assert_ne!(a.feed_token, b.feed_token);
    }

    #[test]
    fn the_avatar_alt_names_the_resident_its_family_and_mood() {
        assert_eq!(
            Card::from(resident(1)).avatar_alt(),
            "Cuddles, a small burstable server with a party hat, looking grumpy"
        );
        assert_eq!(Card::from(resident(10)).face(), "/static/faces/beaming.svg");
    }

    #[test]
    fn the_profile_dates_the_move_and_the_last_meal() {
        let card = Card::from(resident(5));
        let now = time::macros::datetime!(2026-03-14 12:00 UTC);
        let profile = Profile::of(&card, now);
        assert_eq!(
            profile.moved_in,
            Some((
                "14 March 2026".to_owned(),
                "2026-03-14T10:00:00Z".to_owned()
            ))
        );
        assert_eq!(
            profile.last_fed.map(|(words, _)| words),
            Some("3 minutes ago".to_owned())
        );
    }
}
