//! The answers a player may give, per scenario, and the verdict on one: right or wrong
//! part by part (service, operation, cause), and what each part was.

use faults::{Fault, Scenario, Service};

/// Where the DynamoDB faults show: each service's DynamoDB operations that visitors cause
/// (crates/store/src/dynamo/), as its client spans name them (`DynamoDB.PutItem`; the
/// prefix may be left out).
const DYNAMODB_OPERATIONS: &[(Service, &[&str])] = &[
    (Service::Register, &["PutItem"]),
    (Service::ServerListing, &["Query", "GetItem", "UpdateItem"]),
];

/// Where the listing faults show: every route of server-listing's API (its fault
/// middleware, services/server-listing/src/faults.rs), as its server spans name them.
/// `{ckid}` stands for any resident id.
const LISTING_ROUTES: &[(Service, &[&str])] = &[(
    Service::ServerListing,
    &[
        "GET /v1/servers",
        "GET /v1/servers/{ckid}",
        "POST /v1/servers/{ckid}/feed",
    ],
)];

/// The answers accepted per scenario: the words for its cause (the scenario's name, or an
/// obvious short word), and the operations where its evidence is, per service.
struct Accepted {
    scenario: Scenario,
    causes: &'static [&'static str],
    operations: &'static [(Service, &'static [&'static str])],
}

const ANSWERS: [Accepted; 4] = [
    Accepted {
        scenario: Scenario::MissingCaCertificates,
        causes: &[
            "missing-ca-certificates",
            "tls",
            "certificate",
            "certificates",
            "ca",
            "ca-certificates",
            "trust-store",
        ],
        operations: DYNAMODB_OPERATIONS,
    },
    Accepted {
        scenario: Scenario::DynamodbThrottling,
        causes: &[
            "dynamodb-throttling",
            "throttling",
            "throttled",
            "throttle",
            "throttlingexception",
        ],
        operations: DYNAMODB_OPERATIONS,
    },
    Accepted {
        scenario: Scenario::SlowListing,
        causes: &["slow-listing", "latency", "slow", "slowness", "timeout"],
        operations: LISTING_ROUTES,
    },
    Accepted {
        scenario: Scenario::ListingErrors,
        causes: &["listing-errors", "errors", "error", "500"],
        operations: LISTING_ROUTES,
    },
];

/// What the player said.
#[derive(Debug, clap::Args)]
pub(super) struct Given {
    /// The service where the fault is (register, server-listing, ...).
    #[arg(long)]
    service: String,
    /// The operation that fails or is slow: a DynamoDB call (PutItem) or a route
    /// (GET /v1/servers).
    #[arg(long)]
    operation: String,
    /// What is wrong: the scenario's name or a word for it (tls, throttling, slow, errors).
    #[arg(long)]
    cause: String,
}

/// One part of the verdict: right or not, and what it was.
pub(super) struct Part {
    pub name: &'static str,
    pub right: bool,
    pub truth: String,
}

pub(super) fn judge(fault: &Fault, given: &Given) -> [Part; 3] {
    let accepted = ANSWERS
        .iter()
        .find(|a| a.scenario == fault.scenario())
        .expect("every scenario has its answers (a test checks)");
    let operations = accepted
        .operations
        .iter()
        .find(|(service, _)| *service == fault.service())
        .map_or(&[][..], |(_, operations)| operations);
    let service = fault.service().name();
    [
        Part {
            name: "service",
            right: word(&given.service) == service,
            truth: service.to_owned(),
        },
        Part {
            name: "operation",
            right: operations
                .iter()
                .any(|o| operation_matches(o, &given.operation)),
            truth: operations
                .iter()
                .map(|o| match o.contains(' ') {
                    true => (*o).to_owned(),
                    false => format!("DynamoDB.{o}"),
                })
                .collect::<Vec<_>>()
                .join(" or "),
        },
        Part {
            name: "cause",
            right: accepted.causes.contains(&word(&given.cause).as_str()),
            truth: fault.to_string(),
        },
    ]
}

/// `Server Listing`, `server_listing` → `server-listing`.
fn word(text: &str) -> String {
    text.trim().to_lowercase().replace([' ', '_'], "-")
}

/// `given` names `accepted`: a DynamoDB operation in any case, with or without
/// `DynamoDB.`; or a route, with or without its method, any id for `{ckid}`.
fn operation_matches(accepted: &str, given: &str) -> bool {
    let given = given.trim();
    let given = match given.get(..9) {
        Some(prefix) if prefix.eq_ignore_ascii_case("dynamodb.") => &given[9..],
        _ => given,
    };
    let Some((method, pattern)) = accepted.split_once(' ') else {
        return given.eq_ignore_ascii_case(accepted);
    };
    let (given_method, path) = match given.split_once(char::is_whitespace) {
        Some((method, path)) => (Some(method), path.trim()),
        None => (None, given),
    };
    let path = path
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let (pattern, path): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), path.split('/').collect());
    given_method.is_none_or(|m| m.eq_ignore_ascii_case(method))
        && pattern.len() == path.len()
        && pattern
            .iter()
            .zip(&path)
            .all(|(p, g)| p == g || (p.starts_with('{') && !g.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(service: &str, operation: &str, cause: &str) -> Given {
        Given {
            service: service.into(),
            operation: operation.into(),
            cause: cause.into(),
        }
    }

    fn verdict(fault: &str, answer: Given) -> [bool; 3] {
        let (name, options) = fault.split_once(' ').unwrap_or((fault, ""));
        let options: Vec<(String, String)> = options
            .split_whitespace()
            .filter_map(|o| o.split_once('='))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let fault = Fault::parse(name.parse().unwrap(), &options).unwrap();
        judge(&fault, &answer).map(|part| part.right)
    }

    #[test]
    fn every_scenario_has_its_answers() {
        for scenario in Scenario::ALL {
            assert!(ANSWERS.iter().any(|a| a.scenario == scenario), "{scenario}");
        }
    }

    #[test]
    fn answers_are_judged_part_by_part() {
        let throttled = "dynamodb-throttling service=register rate=0.7";
        for right in [
            given("register", "PutItem", "throttling"),
            given("Register", "DynamoDB.PutItem", "dynamodb-throttling"),
            given(" register ", "dynamodb.putitem", "ThrottlingException"),
        ] {
            assert_eq!(verdict(throttled, right), [true; 3]);
        }
        assert_eq!(
            verdict(throttled, given("server-listing", "Query", "tls")),
            [false; 3]
        );
        let listing = "dynamodb-throttling service=server-listing";
        assert_eq!(
            verdict(listing, given("server listing", "GetItem", "throttled")),
            [true; 3]
        );
        assert_eq!(
            verdict(listing, given("server-listing", "PutItem", "throttled")),
            [true, false, true]
        );
        let tls = "missing-ca-certificates service=register";
        assert_eq!(
            verdict(tls, given("register", "PutItem", "certificates")),
            [true; 3]
        );
        for route in [
            "GET /v1/servers",
            "get /v1/servers/",
            "/v1/servers?limit=5",
            "GET /v1/servers/01J9ZB",
            "POST /v1/servers/abc/feed",
        ] {
            assert_eq!(
                verdict("slow-listing", given("server-listing", route, "slow")),
                [true; 3],
                "{route}"
            );
        }
        for wrong in [
            "POST /v1/servers",
            "GET /v1/registrations",
            "Query",
            "GET /v1",
        ] {
            assert_eq!(
                verdict("listing-errors", given("website", wrong, "errors")),
                [false, false, true],
                "{wrong}"
            );
        }
    }
}
