//! The runbook's per-scenario parts as the tests read them: the tables with a row per
//! fault scenario (docs/debugging.md's alerts each scenario fires, infra/README.md's
//! alarms each one trips) and docs/debugging.md's section on each scenario. Every reader
//! checks the docs against [`Scenario::ALL`], so a new scenario fails these tests until
//! the docs have its row and its section.

use std::path::Path;

use faults::Scenario;

/// The runbook: how to find each scenario from its alerts and traces.
pub const RUNBOOK: &str = "docs/debugging.md";

/// A file in the repository as text.
pub fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {relative} ({}): {e}", path.display()))
}

/// The rows of a Markdown table in `text` (read from `source`) whose first cell is a
/// scenario's name in backticks: the scenario and its other cells, trimmed. Panics unless
/// there is exactly one row per scenario, in [`Scenario::ALL`]'s order.
pub fn scenario_rows(source: &str, text: &str) -> Vec<(Scenario, Vec<String>)> {
    let rows: Vec<(Scenario, Vec<String>)> = text
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let mut cells = line.trim_matches('|').split('|').map(str::trim);
            let name = cells.next().unwrap_or_default().trim_matches('`');
            let scenario = name
                .parse()
                .unwrap_or_else(|e| panic!("{source}: {name}: {e}"));
            (scenario, cells.map(str::to_owned).collect())
        })
        .collect();
    let listed: Vec<Scenario> = rows.iter().map(|(scenario, _)| *scenario).collect();
    assert_eq!(
        listed,
        Scenario::ALL.to_vec(),
        "{source}'s table must have one row per scenario, in order"
    );
    rows
}

/// The names in backticks in a table cell: alerts, alarms.
pub fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The runbook's section on `scenario` (`### `name``), from its heading to the next.
pub fn scenario_section(runbook: &str, scenario: Scenario) -> Option<&str> {
    let heading = format!("\n### `{scenario}`\n");
    let start = runbook.find(&heading)? + 1;
    let body = &runbook[start + heading.len() - 1..];
    let end = body.find("\n#").map_or(body.len(), |at| at + 1);
    Some(&runbook[start..start + heading.len() - 1 + end])
}
