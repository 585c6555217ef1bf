//! What a game switches on: a scenario, its service and its options, drawn from a seed so
//! that a game can be replayed (`--seed N`).

use std::time::{SystemTime, UNIX_EPOCH};

use faults::{Fault, Scenario, Service};

/// How a scenario's settings are drawn: the services it may act in (empty: it has no
/// `--service`) and the ranges of its options. The ranges are strong enough that the
/// scenario's alerts fire under the game's visitor load (docs/debugging.md, "Alarms" of
/// each scenario), and wide enough that no two games look quite alike.
struct Draw {
    scenario: Scenario,
    services: &'static [Service],
    /// `--rate`, from and to (a share of requests or attempts).
    rate: Option<(f64, f64)>,
    /// `--latency` in tenths of a second, from and to.
    latency_tenths: Option<(u64, u64)>,
}

const BOTH: &[Service] = &[Service::Register, Service::ServerListing];

const DRAWS: [Draw; 4] = [
    Draw {
        scenario: Scenario::MissingCaCertificates,
        services: BOTH,
        rate: None,
        latency_tenths: None,
    },
    Draw {
        scenario: Scenario::DynamodbThrottling,
        services: BOTH,
        rate: Some((0.5, 1.0)),
        latency_tenths: None,
    },
    Draw {
        // 1 s is past the latency objective; at 2.5 s the website (which waits 3 s)
        // still shows most pages, so the visitor sees slowness rather than errors.
        scenario: Scenario::SlowListing,
        services: &[],
        rate: None,
        latency_tenths: Some((10, 25)),
    },
    Draw {
        scenario: Scenario::ListingErrors,
        services: &[],
        rate: Some((0.3, 1.0)),
        latency_tenths: None,
    },
];

/// The fault a game with `seed` switches on: always the same for the same seed.
pub(super) fn pick(seed: u64) -> Fault {
    let mut rng = fastrand::Rng::with_seed(seed);
    let scenario = Scenario::ALL[rng.usize(..Scenario::ALL.len())];
    let draw = DRAWS
        .iter()
        .find(|d| d.scenario == scenario)
        .expect("every scenario has a draw (a test checks)");
    let mut options = Vec::new();
    if !draw.services.is_empty() {
        let service = draw.services[rng.usize(..draw.services.len())];
        options.push(("service".to_owned(), service.name().to_owned()));
    }
    if let Some((from, to)) = draw.rate {
        let rate = from + (to - from) * rng.f64();
        options.push(("rate".to_owned(), format!("{rate:.2}")));
    }
    if let Some((from, to)) = draw.latency_tenths {
        let tenths = rng.u64(from..=to);
        options.push(("latency".to_owned(), format!("{}ms", tenths * 100)));
    }
    // Parsed like `faults on` parses an operator's options: the draws meet its checks.
    Fault::parse(scenario, &options).expect("the draws are valid options (a test checks)")
}

/// A seed when none is given: short enough to type again.
pub(super) fn seed_from_clock() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    u64::from(nanos % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_picks_the_same_fault() {
        for seed in 0..50 {
            assert_eq!(pick(seed), pick(seed));
        }
    }

    #[test]
    fn seeds_reach_every_scenario_and_service_within_the_ranges() {
        let picks: Vec<Fault> = (0..400).map(pick).collect();
        for scenario in Scenario::ALL {
            assert!(
                picks.iter().any(|f| f.scenario() == scenario),
                "no seed picks {scenario}"
            );
        }
        for service in BOTH {
            assert!(picks.iter().any(|f| matches!(
                f, Fault::DynamodbThrottling { service: s, .. } if s == service
            )));
        }
        for fault in &picks {
            match fault {
                Fault::DynamodbThrottling { rate, .. } => {
                    assert!((0.5..=1.0).contains(&rate.get()), "{fault}");
                }
                Fault::ListingErrors { rate } => {
                    assert!((0.3..=1.0).contains(&rate.get()), "{fault}");
                }
                Fault::SlowListing { latency, rate } => {
                    assert!((1000..=2500).contains(&latency.as_millis()), "{fault}");
                    assert_eq!(rate.get(), 1.0, "{fault}");
                }
                Fault::MissingCaCertificates { .. } => {}
            }
        }
    }
}
