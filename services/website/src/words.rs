//! Numbers and instants in words ("6 years", "3 minutes ago", "14 March 2026"), and a
//! resident's short bio, made from its type, operating system, years and mood.

use time::OffsetDateTime;

use crate::avatar::{Family, Mood};
use crate::card::Card;

pub fn years(service: u16) -> String {
    match service {
        1 => "1 year".to_owned(),
        n => format!("{n} years"),
    }
}

/// A day as people write it: "14 March 2026" (UTC, like every instant here).
pub fn date(at: OffsetDateTime) -> String {
    format!("{} {} {}", at.day(), at.month(), at.year())
}

/// An instant as HTML's `<time datetime>` reads it: `2026-03-14T10:00:00Z`.
pub fn machine(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// How long ago `then` was, seen from `now`, in the words a person would use. An
/// instant in the future (clocks differ a little between machines) is "just now".
pub fn ago(then: OffsetDateTime, now: OffsetDateTime) -> String {
    let seconds = (now - then).whole_seconds();
    let plural = |n: i64, unit: &str| format!("{n} {unit}s ago");
    match seconds {
        ..60 => "just now".to_owned(),
        60..120 => "a minute ago".to_owned(),
        120..3_600 => plural(seconds / 60, "minute"),
        3_600..7_200 => "an hour ago".to_owned(),
        7_200..86_400 => plural(seconds / 3_600, "hour"),
        86_400..172_800 => "yesterday".to_owned(),
        172_800..2_592_000 => plural(seconds / 86_400, "day"),
        _ => format!("on {}", date(then)),
    }
}

/// Three sentences about a resident: what kind of server it is, what its years of
/// service were like on its operating system, and how it feels today. Made only from
/// what it is, so the same resident always reads the same (until it is fed).
pub fn bio(card: &Card) -> String {
    let name = &card.name;
    let kind = match card.family {
        Family::Burstable => format!(
            "{name} is a burstable server of type {} that saved up CPU credits for the moments that mattered.",
            card.server_type
        ),
        Family::General => format!(
            "{name} is a general-purpose server of type {} that did a bit of everything and never once complained.",
            card.server_type
        ),
        Family::Compute => format!(
            "{name} is a compute-optimised server of type {} that crunched numbers faster than anyone could read them.",
            card.server_type
        ),
        Family::Memory => format!(
            "{name} is a memory-optimised server of type {} that never forgot a cache key, or a birthday.",
            card.server_type
        ),
        Family::Accelerated => format!(
            "{name} is an accelerated server of type {} whose graphics card once trained a model or two.",
            card.server_type
        ),
        Family::Storage => format!(
            "{name} is a storage-optimised server of type {} that kept everybody's files safe and sound.",
            card.server_type
        ),
        Family::HighFrequency => format!(
            "{name} is a high-frequency server of type {} that still talks about its clock speed at dinner.",
            card.server_type
        ),
        Family::Unknown => format!(
            "{name} is a one-of-a-kind server of type {}: nobody here has met another like it.",
            card.server_type
        ),
    };
    let os = &card.os;
    let habit = os_habit(os);
    let service = match card.service {
        0 => format!("It arrived almost new, running {os}, and {habit}."),
        1 => format!("After a year of service on {os}, {habit}."),
        n => format!("After {n} years of service on {os}, {habit}."),
    };
    let today = match card.mood {
        Mood::Grumpy => "Today it is grumpy: a snack would help.",
        Mood::Glum => "Today it is a little glum and would love a visitor.",
        Mood::Content => "Today it is content, humming quietly in its rack.",
        Mood::Happy => "Today it is happy and blinks its lights at everyone who passes.",
        Mood::Beaming => "Today it is beaming: it could not be better looked after.",
    };
    format!("{kind} {service} {today}")
}

/// A habit a resident kept from its operating system.
fn os_habit(os: &str) -> &'static str {
    let os = os.to_lowercase();
    let any = |names: &[&str]| names.iter().any(|name| os.contains(name));
    if any(&["windows"]) {
        "it still reboots on Tuesdays out of habit"
    } else if any(&["bsd"]) {
        "it keeps its ports in perfect order"
    } else if any(&["solaris", "illumos", "sunos"]) {
        "it remembers when zones were the new thing"
    } else if any(&["mac", "darwin"]) {
        "it likes its cables tidy and its corners rounded"
    } else if any(&[
        "linux", "ubuntu", "debian", "fedora", "centos", "rhel", "alpine", "arch", "suse", "amazon",
    ]) {
        "it likes a tidy terminal and a warm kernel"
    } else {
        "it speaks a dialect few here remember"
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn instants_in_words() {
        let now = datetime!(2026-03-14 12:00 UTC);
        for (then, words) in [
            (datetime!(2026-03-14 12:00:30 UTC), "just now"),
            (datetime!(2026-03-14 11:59:40 UTC), "just now"),
            (datetime!(2026-03-14 11:59 UTC), "a minute ago"),
            (datetime!(2026-03-14 11:57 UTC), "3 minutes ago"),
            (datetime!(2026-03-14 11:00 UTC), "an hour ago"),
            (datetime!(2026-03-14 07:30 UTC), "4 hours ago"),
            (datetime!(2026-03-13 09:00 UTC), "yesterday"),
            (datetime!(2026-03-09 12:00 UTC), "5 days ago"),
            (datetime!(2025-12-25 08:00 UTC), "on 25 December 2025"),
        ] {
            assert_eq!(ago(then, now), words, "{then}");
        }
        assert_eq!(date(datetime!(2026-03-04 23:59 UTC)), "4 March 2026");
        assert_eq!(
            machine(datetime!(2026-03-04 23:59:07.123456 +01:00)),
            "2026-03-04T22:59:07Z"
        );
        assert_eq!(years(1), "1 year");
        assert_eq!(years(0), "0 years");
    }

    fn card(server_type: &str, os: &str, service: u16, happiness: u8) -> Card {
        Card::from(
            serde_json::from_value::<domain::Resident>(serde_json::json!({
                "ckid": "ck1", "name": "Cuddles", "type": server_type, "service": service,
                "happiness": happiness, "os": os
            }))
            .unwrap(),
        )
    }

    #[test]
    fn the_bio_comes_from_type_os_years_and_mood() {
        assert_eq!(
            bio(&card("t3.medium", "linux", 6, 5)),
            "Cuddles is a burstable server of type t3.medium that saved up CPU credits for the \
             moments that mattered. After 6 years of service on linux, it likes a tidy \
             terminal and a warm kernel. Today it is content, humming quietly in its rack."
        );
        let bio = bio(&card("m2.xlarge", "Windows Server 2003", 1, 1));
        assert!(
            bio.contains("general-purpose server of type m2.xlarge"),
            "{bio}"
        );
        assert!(bio.contains("After a year of service on Windows Server 2003, it still reboots"));
        assert!(bio.ends_with("a snack would help."), "{bio}");
        let bio = super::bio(&card("486DX", "plan9", 0, 10));
        assert!(bio.contains("one-of-a-kind"), "{bio}");
        assert!(bio.contains("arrived almost new, running plan9, and it speaks a dialect"));
        assert!(bio.contains("beaming"), "{bio}");
    }

    #[test]
    fn the_same_resident_always_gets_the_same_bio() {
        let a = card("z1d.large", "FreeBSD", 9, 7);
        let b = card("z1d.large", "FreeBSD", 9, 7);
        assert_eq!(bio(&a), bio(&b));
        assert!(bio(&a).contains("keeps its ports in perfect order"));
    }
}
