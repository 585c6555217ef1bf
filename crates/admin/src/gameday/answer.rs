//! `gameday answer`: the player's answer judged against the fault that is on; then, right
//! or not, the scenario's runbook section and the way the evidence could have been found;
//! then the fault is switched off, which ends the game.

use domain::Timestamp;
use faults::{POLL_INTERVAL, Scenario, Switchboard};

use super::alerts::AlertSource;
use super::verdict::{Given, judge};
use crate::Failure;

/// The runbook; each scenario's section (`### \`name\``) is shown after an answer.
const RUNBOOK: &str = include_str!("../../../../docs/debugging.md");

pub(super) async fn run(
    given: &Given,
    switchboard: &Switchboard,
    alerts: &AlertSource,
) -> Result<(), Failure> {
    let now = Timestamp::now();
    let on = switchboard.read().await.map_err(super::failed)?;
    // The game's fault is the one on; were an operator's own on too, the latest.
    let Some(game) = on
        .into_iter()
        .filter(|f| f.is_live(now))
        .max_by_key(|f| f.since)
    else {
        return Err(Failure::Failed(
            "no game is on: no fault is switched on (the game is over, or was never started: \
             cuddlekube-admin gameday --site URL)"
                .into(),
        ));
    };
    let verdict = judge(&game.fault, given);
    println!("Your answer, part by part:");
    for part in &verdict {
        let word = if part.right { "right" } else { "wrong" };
        println!("  {:<10} {word}: it was {}", part.name, part.truth);
    }
    println!("\nThe runbook (docs/debugging.md):\n");
    println!(
        "{}",
        runbook_section(game.fault.scenario()).unwrap_or_default()
    );
    println!("How the evidence could have been found:");
    println!("  {}", alerts.alerts_page());
    match alerts.firing().await {
        Ok(firing) if firing.is_empty() => println!("    none is firing now"),
        Ok(firing) => {
            for alert in firing {
                println!("    {alert}");
            }
        }
        Err(why) => println!("    (could not be read: {why})"),
    }
    println!("  {}", alerts.trace_route());
    let scenario = game.fault.scenario();
    switchboard
        .switch_off(&[scenario])
        .await
        .map_err(super::failed)?;
    let within = humantime::format_duration(POLL_INTERVAL * 2);
    println!("\nswitched off: {scenario} (every service stops within {within}); the game is over");
    let right = verdict.iter().filter(|p| p.right).count();
    if right == verdict.len() {
        Ok(())
    } else {
        Err(Failure::Failed(format!(
            "{right} of {} parts right",
            verdict.len()
        )))
    }
}

/// The runbook's section on `scenario`: from its heading to the next heading.
fn runbook_section(scenario: Scenario) -> Option<&'static str> {
    let heading = format!("### `{}`\n", scenario.name());
    let start = RUNBOOK.find(&format!("\n{heading}"))? + 1;
    let body = start + heading.len();
    let end = ["\n### ", "\n## "]
        .iter()
        .filter_map(|next| RUNBOOK[body..].find(next))
        .min()
        .map_or(RUNBOOK.len(), |at| body + at + 1);
    Some(&RUNBOOK[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_has_a_runbook_section() {
        for scenario in Scenario::ALL {
            let section = runbook_section(scenario).unwrap_or_else(|| panic!("{scenario}"));
            assert!(
                section.starts_with(&format!("### `{scenario}`\n")),
                "{section}"
            );
            assert!(section.contains("- **Trace**"), "{section}");
            assert!(
                !section[4..].contains("\n### "),
                "one section only: {section}"
            );
        }
    }
}
