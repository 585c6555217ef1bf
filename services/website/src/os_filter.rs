//! The operating systems the residents run, offered by the listing's OS filter. Taken
//! from the newest residents (one listing call, no scan), counted by the listing's own
//! case-insensitive key, and kept for a little while so every listing page does not ask
//! again. Residents never leave, so a system once offered always lists someone.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::Resident;

use crate::AppState;

/// How many of the newest residents the choices come from (the listing's largest page).
const SAMPLE: u8 = 100;
/// How many systems the filter offers, the most common first.
const MOST: usize = 12;
/// How long the choices are kept before they are read again.
const FRESH_FOR: Duration = Duration::from_secs(30);

/// One system residents run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// What the listing filters by (lower case, as its index keys it).
    pub key: String,
    /// As the newest resident running it spells it.
    pub label: String,
    pub residents: usize,
}

/// The choices last read, and when.
#[derive(Debug, Default)]
pub struct SystemsCache(Mutex<Option<(Instant, Vec<System>)>>);

impl AppState {
    /// The systems residents run, most common first; empty when they cannot be read
    /// (the filter is then offered without choices, the cause is logged by the call).
    pub async fn systems(&self) -> Vec<System> {
        if let Ok(cached) = self.systems.0.lock()
            && let Some((read_at, systems)) = cached.as_ref()
            && read_at.elapsed() < FRESH_FOR
        {
            return systems.clone();
        }
        let Ok(listing) = self.apis.list_residents(None, None, SAMPLE).await else {
            return Vec::new();
        };
        let systems = count(&listing.servers);
        if let Ok(mut cached) = self.systems.0.lock() {
            *cached = Some((Instant::now(), systems.clone()));
        }
        systems
    }
}

/// The systems of `residents` (newest first), most common first, then by name.
fn count(residents: &[Resident]) -> Vec<System> {
    let mut systems: Vec<System> = Vec::new();
    for resident in residents {
        let label = resident.os.trim();
        let key = label.to_lowercase();
        if key.is_empty() {
            continue;
        }
        match systems.iter_mut().find(|system| system.key == key) {
            Some(system) => system.residents += 1,
            None => systems.push(System {
                key,
                label: label.to_owned(),
                residents: 1,
            }),
        }
    }
    systems.sort_by(|a, b| b.residents.cmp(&a.residents).then(a.key.cmp(&b.key)));
    systems.truncate(MOST);
    systems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(os: &str) -> Resident {
        serde_json::from_value(serde_json::json!({
            "ckid": "ck1", "name": "n", "type": "t", "service": 1, "happiness": 5, "os": os
        }))
        .unwrap()
    }

    #[test]
    fn systems_are_counted_ignoring_case_most_common_first() {
        let residents: Vec<Resident> = ["Linux", "windows", "linux", "FreeBSD", "LINUX", " "]
            .into_iter()
            .map(running)
            .collect();
        let systems = count(&residents);
        let summary: Vec<(&str, &str, usize)> = systems
            .iter()
            .map(|s| (s.key.as_str(), s.label.as_str(), s.residents))
            .collect();
        assert_eq!(
            summary,
            [
                ("linux", "Linux", 3),
                ("freebsd", "FreeBSD", 1),
                ("windows", "windows", 1)
            ]
        );
    }

    #[test]
    fn at_most_a_dozen_are_offered() {
        let residents: Vec<Resident> = (0..30).map(|i| running(&format!("os{i:02}"))).collect();
        assert_eq!(count(&residents).len(), MOST);
    }
}
