//! `gameday [--seed N] [--for DURATION] --site URL [--visitors N]` and `gameday answer
//! --service S --operation O --cause C`: a game of finding the culprit. A fault is drawn
//! (`pick.rs`) and switched on through the switchboard, as `faults on` does; the player
//! sees the alerts (`alerts.rs`: Prometheus locally, CloudWatch on AWS) while visitors walk
//! the site (`play.rs`), and answers (`answer.rs`). Like `faults`, an operator's command:
//! nothing here is reachable from any service's route.

mod alerts;
mod answer;
mod pick;
mod play;
mod verdict;

use clap::{Parser, Subcommand};
use faults::Switchboard;
use store::TableName;

use crate::Failure;

/// A game of finding what is wrong with Cuddle Kube: a fault drawn at random (seedable),
/// visitors walking the site, and the alerts; answer with `gameday answer`.
#[derive(Debug, Parser)]
#[command(
    name = "cuddlekube-admin gameday",
    no_binary_name = true,
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true
)]
struct Options {
    #[command(subcommand)]
    answer: Option<Answer>,
    #[command(flatten)]
    game: play::Game,
}

#[derive(Debug, Subcommand)]
enum Answer {
    /// Judge an answer against the game's fault, show the runbook and where the evidence
    /// was, and switch the fault off (exit 0 when all three parts are right).
    Answer(verdict::Given),
}

pub(crate) async fn run(args: &[String]) -> Result<(), Failure> {
    let options = Options::try_parse_from(args).map_err(|e| Failure::Usage(e.to_string()))?;
    let alerts = alerts::AlertSource::from_env().await?;
    let client = store::dynamodb_client().await?;
    let switchboard = Switchboard::new(client, TableName::from_env()?.as_str());
    match &options.answer {
        Some(Answer::Answer(given)) => answer::run(given, &switchboard, &alerts).await,
        None => play::run(&options.game, &switchboard, &alerts).await,
    }
}

fn failed(err: Box<dyn std::error::Error + Send + Sync>) -> Failure {
    Failure::Failed(telemetry::errors::display(&*err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_game_needs_a_site_and_lasts_at_most_an_hour() {
        let parse = |line: &str| Options::try_parse_from(line.split_whitespace());
        for good in [
            "--site http://127.0.0.1:8080",
            "--site https://example.org --seed 7 --for 1h --visitors 64",
            "answer --service register --operation PutItem --cause tls",
        ] {
            assert!(parse(good).is_ok(), "{good}: {:?}", parse(good));
        }
        for bad in [
            "",
            "--seed 7",
            "--site example.org",
            "--site http://x --for 61m",
            "--site http://x --visitors 0",
            "answer --service register",
            "answer --service a --operation b --cause c --site http://x",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
