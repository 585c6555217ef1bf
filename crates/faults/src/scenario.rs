//! The named scenarios and their settings, as an operator writes them on the command
//! line and as the switchboard item stores them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The scenarios, by the names the operator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// The 2019 bug: a service's TLS connection to DynamoDB fails certificate
    /// verification because its trust store is empty.
    MissingCaCertificates,
    /// A service's DynamoDB calls are answered with DynamoDB's throttling error.
    DynamodbThrottling,
    /// server-listing answers late.
    SlowListing,
    /// server-listing answers some requests with 500.
    ListingErrors,
}

/// What the operator reads of a scenario: one row of [`SCENARIOS`].
struct ScenarioInfo {
    scenario: Scenario,
    /// Its name on the command line, in the stored item and in the logs; equal to its
    /// serde name (a test checks).
    name: &'static str,
    /// One line for `faults list`.
    summary: &'static str,
    /// The options `on NAME` takes, with their defaults, for `faults list` and errors.
    usage: &'static str,
}

/// **Invariant:** one row per scenario, in declaration order (checked as the crate
/// compiles), so that `Scenario::ALL` is this table's first column and a scenario's row is
/// at its discriminant. A new scenario is a variant, a row here, and its `Fault` variant.
const SCENARIOS: [ScenarioInfo; 4] = [
    ScenarioInfo {
        scenario: Scenario::MissingCaCertificates,
        name: "missing-ca-certificates",
        summary: "the service's TLS to DynamoDB fails: its trust store is empty",
        usage: "[--service register|server-listing (register)]",
    },
    ScenarioInfo {
        scenario: Scenario::DynamodbThrottling,
        name: "dynamodb-throttling",
        summary: "the service's DynamoDB attempts fail with ThrottlingException (SDK retries run)",
        usage: "[--service register|server-listing (server-listing)] [--rate R (0.5)]",
    },
    ScenarioInfo {
        scenario: Scenario::SlowListing,
        name: "slow-listing",
        summary: "server-listing answers late",
        usage: "[--latency DURATION (1500ms)] [--rate R (1)]",
    },
    ScenarioInfo {
        scenario: Scenario::ListingErrors,
        name: "listing-errors",
        summary: "server-listing answers a share of requests with 500",
        usage: "[--rate R (0.5)]",
    },
];

const _: () = {
    let mut at = 0;
    while at < SCENARIOS.len() {
        assert!(
            SCENARIOS[at].scenario as usize == at,
            "SCENARIOS must list the scenarios in declaration order"
        );
        at += 1;
    }
};

impl Scenario {
    /// Every scenario, in declaration order. A variant without its row in `SCENARIOS`
    /// fails `every_scenario_has_its_row` (which fails to compile until it names the
    /// variant).
    pub const ALL: [Self; SCENARIOS.len()] = {
        let mut all = [Self::MissingCaCertificates; SCENARIOS.len()];
        let mut at = 0;
        while at < all.len() {
            all[at] = SCENARIOS[at].scenario;
            at += 1;
        }
        all
    };

    fn info(self) -> &'static ScenarioInfo {
        &SCENARIOS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// One line for `faults list`.
    pub fn summary(self) -> &'static str {
        self.info().summary
    }

    /// The options `on NAME` takes, with their defaults, for `faults list` and errors.
    pub fn usage(self) -> &'static str {
        self.info().usage
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = FaultError;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| FaultError::UnknownScenario(name.to_owned()))
    }
}

/// The services a scenario can act in: the two that reach DynamoDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    Register,
    ServerListing,
}

impl Service {
    /// The service's binary name (`ServiceInfo::name`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::ServerListing => "server-listing",
        }
    }
}

impl FromStr for Service {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Self::Register, Self::ServerListing]
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| "expected register or server-listing".to_owned())
    }
}

/// A share of requests or attempts, above 0 and at most 1 (`0.25` or `25%`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Rate(f64);

impl Rate {
    pub const ALWAYS: Self = Self(1.0);
    pub const HALF: Self = Self(0.5);

    /// Draws: true for this share of calls.
    pub fn hit(self) -> bool {
        self.0 >= 1.0 || fastrand::f64() < self.0
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Rate {
    type Error = String;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        if value > 0.0 && value <= 1.0 {
            Ok(Self(value))
        } else {
            Err("expected a share above 0 and at most 1, such as 0.25 or 25%".into())
        }
    }
}

impl From<Rate> for f64 {
    fn from(rate: Rate) -> Self {
        rate.0
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (number, scale) = match text.strip_suffix('%') {
            Some(percent) => (percent, 100.0),
            None => (text, 1.0),
        };
        let value: f64 = number
            .parse()
            .map_err(|_| "expected a number such as 0.25 or 25%".to_owned())?;
        Self::try_from(value / scale)
    }
}

/// A scenario with its settings: what the switchboard stores and services act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scenario", rename_all = "kebab-case")]
pub enum Fault {
    MissingCaCertificates {
        service: Service,
    },
    DynamodbThrottling {
        service: Service,
        rate: Rate,
    },
    SlowListing {
        #[serde(rename = "latency_ms", with = "millis")]
        latency: Duration,
        rate: Rate,
    },
    ListingErrors {
        rate: Rate,
    },
}

/// Longest `slow-listing` latency: beyond the APIs' 10 s request timeout nothing changes.
pub const MAX_LATENCY: Duration = Duration::from_secs(20);

impl Fault {
    pub fn scenario(&self) -> Scenario {
        match self {
            Self::MissingCaCertificates { .. } => Scenario::MissingCaCertificates,
            Self::DynamodbThrottling { .. } => Scenario::DynamodbThrottling,
            Self::SlowListing { .. } => Scenario::SlowListing,
            Self::ListingErrors { .. } => Scenario::ListingErrors,
        }
    }

    /// The service the fault acts in.
    pub fn service(&self) -> Service {
        match self {
            Self::MissingCaCertificates { service } | Self::DynamodbThrottling { service, .. } => {
                *service
            }
            Self::SlowListing { .. } | Self::ListingErrors { .. } => Service::ServerListing,
        }
    }

    /// `scenario`'s settings from `--option value` pairs; defaults fill the rest. An
    /// unknown, repeated or bad option is an error naming it.
    pub fn parse(scenario: Scenario, options: &[(String, String)]) -> Result<Self, FaultError> {
        let mut options = Options::new(scenario, options)?;
        let fault = match scenario {
            Scenario::MissingCaCertificates => Self::MissingCaCertificates {
                service: options.take("service")?.unwrap_or(Service::Register),
            },
            Scenario::DynamodbThrottling => Self::DynamodbThrottling {
                service: options.take("service")?.unwrap_or(Service::ServerListing),
                rate: options.take("rate")?.unwrap_or(Rate::HALF),
            },
            Scenario::SlowListing => {
                let latency = options
                    .take::<humantime::Duration>("latency")?
                    .map_or(Duration::from_millis(1500), Into::into);
                if latency.is_zero() || latency > MAX_LATENCY {
                    return Err(FaultError::BadValue {
                        option: "latency".into(),
                        value: humantime::format_duration(latency).to_string(),
                        reason: format!(
                            "expected more than 0 and at most {}",
                            humantime::format_duration(MAX_LATENCY)
                        ),
                    });
                }
                Self::SlowListing {
                    latency,
                    rate: options.take("rate")?.unwrap_or(Rate::ALWAYS),
                }
            }
            Scenario::ListingErrors => Self::ListingErrors {
                rate: options.take("rate")?.unwrap_or(Rate::HALF),
            },
        };
        options.finish()?;
        Ok(fault)
    }
}

impl fmt::Display for Fault {
    /// `slow-listing latency=1s 500ms rate=1`: what `faults list` and the logs show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.scenario())?;
        match self {
            Self::MissingCaCertificates { service } => write!(f, " service={}", service.name()),
            Self::DynamodbThrottling { service, rate } => {
                write!(f, " service={} rate={}", service.name(), rate.get())
            }
            Self::SlowListing { latency, rate } => write!(
                f,
                " latency={} rate={}",
                humantime::format_duration(*latency),
                rate.get()
            ),
            Self::ListingErrors { rate } => write!(f, " rate={}", rate.get()),
        }
    }
}

/// `--name value` pairs, taken one by one so that leftovers can be refused.
struct Options {
    scenario: Scenario,
    pairs: Vec<(String, String)>,
}

impl Options {
    fn new(scenario: Scenario, pairs: &[(String, String)]) -> Result<Self, FaultError> {
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(FaultError::RepeatedOption(name.clone()));
            }
        }
        Ok(Self {
            scenario,
            pairs: pairs.to_vec(),
        })
    }

    fn take<T>(&mut self, name: &str) -> Result<Option<T>, FaultError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let Some(at) = self.pairs.iter().position(|(n, _)| n == name) else {
            return Ok(None);
        };
        let (option, value) = self.pairs.remove(at);
        value
            .parse()
            .map(Some)
            .map_err(|err: T::Err| FaultError::BadValue {
                option,
                value,
                reason: err.to_string(),
            })
    }

    fn finish(self) -> Result<(), FaultError> {
        match self.pairs.into_iter().next() {
            None => Ok(()),
            Some((option, _)) => Err(FaultError::UnknownOption {
                scenario: self.scenario,
                option,
            }),
        }
    }
}

/// Why an operator's command was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("there is no fault scenario {0:?}; the scenarios are: {names}", names = scenario_names())]
    UnknownScenario(String),
    #[error("{scenario} has no option --{option}; it takes {usage}", usage = scenario.usage())]
    UnknownOption { scenario: Scenario, option: String },
    #[error("--{0} is given twice")]
    RepeatedOption(String),
    #[error("--{option} {value:?} is not valid: {reason}")]
    BadValue {
        option: String,
        value: String,
        reason: String,
    },
}

fn scenario_names() -> String {
    Scenario::ALL.map(Scenario::name).join(", ")
}

/// `Duration` as whole milliseconds in the stored item.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        assert_eq!(
            Fault::parse(Scenario::MissingCaCertificates, &[]).unwrap(),
            Fault::MissingCaCertificates {
                service: Service::Register
            }
        );
        assert_eq!(
            Fault::parse(Scenario::DynamodbThrottling, &options(&[("rate", "25%")])).unwrap(),
            Fault::DynamodbThrottling {
                service: Service::ServerListing,
                rate: Rate(0.25)
            }
        );
        let slow = Fault::parse(Scenario::SlowListing, &options(&[("latency", "2s")])).unwrap();
        assert_eq!(slow.to_string(), "slow-listing latency=2s rate=1");
        assert_eq!(slow.service(), Service::ServerListing);
    }

    #[test]
    fn bad_input_is_named_in_the_error() {
        let err = "missing-ca".parse::<Scenario>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no fault scenario \"missing-ca\"; the scenarios are: \
             missing-ca-certificates, dynamodb-throttling, slow-listing, listing-errors"
        );
        let err = Fault::parse(Scenario::ListingErrors, &options(&[("latency", "1s")]));
        assert_eq!(
            err.unwrap_err().to_string(),
            "listing-errors has no option --latency; it takes [--rate R (0.5)]"
        );
        for (name, value) in [("rate", "0"), ("rate", "1.5"), ("rate", "lots")] {
            let err = Fault::parse(Scenario::ListingErrors, &options(&[(name, value)]));
            assert!(
                matches!(err, Err(FaultError::BadValue { .. })),
                "{value}: {err:?}"
            );
        }
        let err = Fault::parse(Scenario::SlowListing, &options(&[("latency", "1m")]));
        assert!(matches!(err, Err(FaultError::BadValue { .. })), "{err:?}");
        let err = Fault::parse(
            Scenario::DynamodbThrottling,
            &options(&[("service", "website")]),
        );
        assert!(matches!(err, Err(FaultError::BadValue { .. })), "{err:?}");
        let err = Fault::parse(
            Scenario::ListingErrors,
            &options(&[("rate", "1"), ("rate", "0.5")]),
        );
        assert_eq!(err, Err(FaultError::RepeatedOption("rate".into())));
    }

    #[test]
    fn every_scenario_has_its_row() {
        // Exhaustive on purpose: a new scenario fails to compile here until it is named,
        // and then fails below until `SCENARIOS` has its row.
        let listed = |scenario: Scenario| match scenario {
            Scenario::MissingCaCertificates
            | Scenario::DynamodbThrottling
            | Scenario::SlowListing
            | Scenario::ListingErrors => Scenario::ALL.contains(&scenario),
        };
        for scenario in [
            Scenario::MissingCaCertificates,
            Scenario::DynamodbThrottling,
            Scenario::SlowListing,
            Scenario::ListingErrors,
        ] {
            assert!(listed(scenario), "{scenario:?} is not in Scenario::ALL");
        }
    }

    #[test]
    fn every_scenario_round_trips_through_its_name() {
        for scenario in Scenario::ALL {
            let name = scenario.name();
            assert_eq!(name.parse::<Scenario>(), Ok(scenario));
            assert_eq!(scenario.to_string(), name);
            assert_eq!(
                serde_json::to_value(scenario).unwrap(),
                serde_json::Value::String(name.to_owned()),
                "the stored name is the operator's"
            );
            assert!(!scenario.summary().is_empty() && scenario.usage().starts_with('['));
        }
    }

    #[test]
    fn rates_draw_their_share() {
        assert!((0..1000).all(|_| Rate::ALWAYS.hit()));
        let hits = (0..10_000).filter(|_| Rate(0.3).hit()).count();
        assert!((2_500..3_500).contains(&hits), "{hits}");
    }
}
