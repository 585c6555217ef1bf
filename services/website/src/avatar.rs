//! Which picture a resident gets: chosen by the family of its server type (the letters
//! before the generation digit: `m5.xlarge` → `m`, `z1d.large` → `z`).

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

    /// Path of the avatar, under `/static/`.
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

#[cfg(test)]
mod tests {
    use super::Family;

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
            let file = family.avatar().trim_start_matches("/static/");
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("static")
                .join(file);
            assert!(path.is_file(), "{}", path.display());
        }
    }
}
