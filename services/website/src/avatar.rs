//! Which picture a resident gets: a body chosen by the family of its server type (the
//! letters before the generation digit: `m5.xlarge` → `m`, `z1d.large` → `z`), and a
//! face laid over it that follows its happiness, grumpy at 1 to beaming at 10. Bodies
//! (`static/avatars/`) and faces (`static/faces/`) share one 96 × 96 frame.

/// A family of EC2 instance types, each with its own avatar in `static/avatars/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Burstable,
    General,
    Compute,
    Memory,
    Accelerated,
    Storage,
    HighFrequency,
    Unknown,
}

impl Family {
    pub fn of(server_type: &str) -> Self {
        let prefix: String = server_type
            .trim()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match prefix.as_str() {
            "t" => Self::Burstable,
            "m" | "a" => Self::General,
            "c" => Self::Compute,
            "r" | "x" | "u" => Self::Memory,
            "p" | "g" | "f" | "inf" | "trn" | "dl" => Self::Accelerated,
            "i" | "d" | "h" | "im" | "is" => Self::Storage,
            "z" => Self::HighFrequency,
            _ => Self::Unknown,
        }
    }

    /// Path of the body, under `/static/`.
    pub fn avatar(self) -> &'static str {
        match self {
            Self::Burstable => "/static/avatars/burstable.svg",
            Self::General => "/static/avatars/general.svg",
            Self::Compute => "/static/avatars/compute.svg",
            Self::Memory => "/static/avatars/memory.svg",
            Self::Accelerated => "/static/avatars/accelerated.svg",
            Self::Storage => "/static/avatars/storage.svg",
            Self::HighFrequency => "/static/avatars/high-frequency.svg",
            Self::Unknown => "/static/avatars/generic.svg",
        }
    }

    /// Words for the family, used in the avatar's alt text.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Burstable => "a small burstable server with a party hat",
            Self::General => "a general-purpose server with a cardigan",
            Self::Compute => "a compute-optimised server with racing stripes",
            Self::Memory => "a memory-optimised server with reading glasses",
            Self::Accelerated => "an accelerated-computing server with a graphics card cape",
            Self::Storage => "a storage-optimised server with a stack of disks",
            Self::HighFrequency => "a high-frequency server with a lightning bolt",
            Self::Unknown => "a friendly server of unknown family",
        }
    }
}

/// How a resident feels, from its happiness (1..=10): what its face shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    Grumpy,
    Glum,
    Content,
    Happy,
    Beaming,
}

impl Mood {
    #[cfg(test)]
    pub const ALL: [Self; 5] = [
        Self::Grumpy,
        Self::Glum,
        Self::Content,
        Self::Happy,
        Self::Beaming,
    ];

    pub fn of(happiness: u8) -> Self {
        match happiness {
            0..=2 => Self::Grumpy,
            3..=4 => Self::Glum,
            5..=6 => Self::Content,
            7..=8 => Self::Happy,
            _ => Self::Beaming,
        }
    }

    /// Path of the face, under `/static/`.
    pub fn face(self) -> &'static str {
        match self {
            Self::Grumpy => "/static/faces/grumpy.svg",
            Self::Glum => "/static/faces/glum.svg",
            Self::Content => "/static/faces/content.svg",
            Self::Happy => "/static/faces/happy.svg",
            Self::Beaming => "/static/faces/beaming.svg",
        }
    }

    /// How the face looks, for alt text: "…, looking grumpy".
    pub fn looks(self) -> &'static str {
        match self {
            Self::Grumpy => "grumpy",
            Self::Glum => "a little glum",
            Self::Content => "content",
            Self::Happy => "happy",
            Self::Beaming => "beaming",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Family, Mood};

    #[test]
    fn families_come_from_the_type_prefix() {
        for (server_type, family) in [
            ("t2.micro", Family::Burstable),
            ("t3.nano", Family::Burstable),
            ("m4.large", Family::General),
            ("M5.XLARGE", Family::General),
            ("m2.xlarge", Family::General),
            ("c4.large", Family::Compute),
            ("c5n.18xlarge", Family::Compute),
            ("r4.large", Family::Memory),
            ("r5.2xlarge", Family::Memory),
            ("x1.16xlarge", Family::Memory),
            ("x1e.xlarge", Family::Memory),
            ("p2.xlarge", Family::Accelerated),
            ("p3.8xlarge", Family::Accelerated),
            ("g4dn.xlarge", Family::Accelerated),
            ("i3.large", Family::Storage),
            ("d2.4xlarge", Family::Storage),
            ("z1d.large", Family::HighFrequency),
            ("", Family::Unknown),
            ("raspberry-pi", Family::Unknown),
            ("486DX", Family::Unknown),
            ("<script>", Family::Unknown),
        ] {
            assert_eq!(Family::of(server_type), family, "{server_type}");
        }
    }

    #[test]
    fn the_face_follows_happiness_from_grumpy_to_beaming() {
        let moods: Vec<Mood> = (1..=10).map(Mood::of).collect();
        assert_eq!(moods[0], Mood::Grumpy);
        assert_eq!(moods[4], Mood::Content, "new residents start at 5");
        assert_eq!(moods[9], Mood::Beaming);
        assert!(
            moods.windows(2).all(|w| w[0] as u8 <= w[1] as u8),
            "never sadder when happier: {moods:?}"
        );
        for mood in Mood::ALL {
            assert!(moods.contains(&mood), "{mood:?} is reachable");
        }
    }

    #[test]
    fn every_avatar_is_embedded() {
        for family in [
            Family::Burstable,
            Family::General,
            Family::Compute,
            Family::Memory,
            Family::Accelerated,
            Family::Storage,
            Family::HighFrequency,
            Family::Unknown,
        ] {
            assert_embedded(family.avatar());
        }
        for mood in Mood::ALL {
            assert_embedded(mood.face());
        }
    }

    fn assert_embedded(href: &str) {
        let file = href.trim_start_matches("/static/");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("static")
            .join(file);
        assert!(path.is_file(), "{}", path.display());
    }
}
