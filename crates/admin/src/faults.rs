//! `faults list | on NAME [options] | off NAME | off --all`: the operator's side of the
//! fault switchboard (`faults::Switchboard`). Bad input is refused before anything is
//! written.

use std::time::Duration;

use domain::Timestamp;
use faults::{Fault, FaultError, POLL_INTERVAL, Scenario, Switchboard};
use store::TableName;

use crate::Failure;

/// How long a fault stays on when `--for` is not given.
const DEFAULT_LASTING: Duration = Duration::from_secs(60 * 60);

enum Action {
    List,
    On(Fault, Duration),
    Off(Vec<Scenario>),
}

pub(crate) async fn run(args: &[String]) -> Result<(), Failure> {
    // Everything is parsed before the table is touched: a bad command changes nothing.
    let action = parse(args).map_err(Failure::Usage)?;
    let client = store::dynamodb_client().await?;
    let switchboard = Switchboard::new(client, TableName::from_env()?.as_str());
    let failed = |err: Box<dyn std::error::Error + Send + Sync>| {
        Failure::Failed(telemetry::errors::display(&*err))
    };
    let within = humantime::format_duration(POLL_INTERVAL * 2);
    match action {
        Action::List => {
            let on = switchboard.read().await.map_err(failed)?;
            let now = Timestamp::now();
            for scenario in Scenario::ALL {
                match on
                    .iter()
                    .find(|f| f.fault.scenario() == scenario && f.is_live(now))
                {
                    Some(f) => println!("on   {}  (until {})", f.fault, f.until),
                    None => println!("off  {:<24} {}", scenario.name(), scenario.summary()),
                }
            }
            println!(
                "\nswitch one on with: cuddlekube-admin faults on NAME [options] [--for DURATION]"
            );
            for scenario in Scenario::ALL {
                println!("  {:<24} {}", scenario.name(), scenario.usage());
            }
        }
        Action::On(fault, lasting) => {
            let on = switchboard
                .switch_on(fault, lasting)
                .await
                .map_err(failed)?;
            println!(
                "switched on: {} until {} (every service acts on it within {within})",
                on.fault, on.until
            );
        }
        Action::Off(scenarios) => {
            let were_on = switchboard.switch_off(&scenarios).await.map_err(failed)?;
            if were_on.is_empty() {
                println!("nothing to switch off: it was not on");
            }
            for scenario in were_on {
                println!("switched off: {scenario} (every service stops within {within})");
            }
        }
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<Action, String> {
    let scenario = |name: &str| {
        name.parse::<Scenario>()
            .map_err(|e: FaultError| e.to_string())
    };
    match args {
        [list] if list == "list" => Ok(Action::List),
        [on, name, options @ ..] if on == "on" => {
            let scenario = scenario(name)?;
            let mut pairs = option_pairs(options)?;
            let lasting = match pairs.iter().position(|(n, _)| n == "for") {
                Some(at) => {
                    let (_, value) = pairs.remove(at);
                    humantime::parse_duration(&value)
                        .map_err(|e| format!("--for {value:?} is not valid: {e}"))?
                }
                None => DEFAULT_LASTING,
            };
            let fault = Fault::parse(scenario, &pairs).map_err(|e| e.to_string())?;
            Ok(Action::On(fault, lasting))
        }
        [off, all] if off == "off" && all == "--all" => Ok(Action::Off(Scenario::ALL.to_vec())),
        [off, name] if off == "off" => Ok(Action::Off(vec![scenario(name)?])),
        [on] if on == "on" => Err("say which scenario to switch on".into()),
        [off] if off == "off" => Err("say which scenario to switch off, or --all".into()),
        _ => Err("expected list, on NAME [options], off NAME or off --all".into()),
    }
}

/// `--name value` or `--name=value`, in order.
fn option_pairs(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let Some(option) = arg.strip_prefix("--") else {
            return Err(format!("expected an option such as --rate, got {arg:?}"));
        };
        let pair = match option.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => {
                let value = args
                    .next()
                    .ok_or_else(|| format!("--{option} needs a value"))?;
                (option.to_owned(), value.clone())
            }
        };
        pairs.push(pair);
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn commands_parse_with_their_options() {
        assert!(matches!(parse(&args("list")), Ok(Action::List)));
        let Ok(Action::On(fault, lasting)) = parse(&args(
            "on dynamodb-throttling --service register --rate=1 --for 5m",
        )) else {
            panic!("not parsed");
        };
        assert_eq!(
            fault.to_string(),
            "dynamodb-throttling service=register rate=1"
        );
        assert_eq!(lasting, Duration::from_secs(300));
        assert!(matches!(parse(&args("off --all")), Ok(Action::Off(all)) if all.len() == 4));
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_written() {
        for bad in [
            "",
            "on",
            "on nope",
            "on listing-errors --rate",
            "on listing-errors rate 1",
            "on listing-errors --for soon",
            "on slow-listing --latency 1s --latency 2s",
            "off",
            "off nope",
            "list extra",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?} was accepted");
        }
    }
}
