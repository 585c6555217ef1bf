//! infra/README.md and infra/params/ against the templates: the runbook's alarms and the
//! alarms each fault scenario trips, the deploy commands, the example parameters.

use std::collections::BTreeSet;

use regex::Regex;
use stack_tests::cfn::{Template, all_templates, items, read_infra_file};
use stack_tests::runbook::{self, RUNBOOK};

use super::{deploy_commands, example_parameters};

/// infra/README.md's table of the alarms each fault scenario trips has a row per scenario,
/// naming CloudWatch alarms the templates declare, among them every AWS alarm the
/// runbook's alert table (docs/debugging.md) gives for it; and the runbook has a section
/// on each scenario.
#[test]
fn every_fault_scenario_trips_an_alarm() {
    const TABLE: &str = "**Fault scenarios**";
    let readme = read_infra_file("README.md");
    let table = readme
        .split(TABLE)
        .nth(1)
        .unwrap_or_else(|| panic!("infra/README.md has no {TABLE:?} table"));
    let table = table.split("\n## ").next().unwrap();
    let rows = runbook::scenario_rows("infra/README.md", table);
    let runbook_text = runbook::read(RUNBOOK);
    let fired = runbook_text
        .split("\n## The alerts each scenario fires")
        .nth(1)
        .unwrap_or_else(|| panic!("{RUNBOOK} has no table of the alerts each scenario fires"));
    let fired = runbook::scenario_rows(RUNBOOK, fired.split("\n## ").next().unwrap());
    let templates = all_templates();
    for ((scenario, cells), (_, fired)) in rows.iter().zip(&fired) {
        let alarms = runbook::ticked(&cells[0]);
        assert!(
            !alarms.is_empty(),
            "infra/README.md: {scenario} names no alarm"
        );
        for id in &alarms {
            let alarm = templates
                .iter()
                .find_map(|t| t.resource(id))
                .unwrap_or_else(|| panic!("infra/README.md: {scenario} names {id}, which no template in infra/ declares"));
            assert!(alarm.ty().starts_with("AWS::CloudWatch::"), "{alarm}");
            assert!(
                readme.contains(id.as_str()),
                "infra/README.md: the runbook should name {id} ({scenario})"
            );
        }
        for id in runbook::ticked(&fired[1]) {
            assert!(
                alarms.contains(&id),
                "infra/README.md: {scenario} should name {id}, as {RUNBOOK}'s alert table does"
            );
        }
        assert!(
            readme.contains(scenario.name()),
            "infra/README.md: the runbook should name {scenario}"
        );
        let section = runbook::scenario_section(&runbook_text, *scenario);
        assert!(
            section.is_some_and(|s| s.contains("- **Trace**")),
            "{RUNBOOK} has no section ### `{scenario}` (with its - **Trace**)"
        );
    }
}

/// Every alarm that notifies is in the runbook's table (README "Alarms"), by its logical
/// ID or by a `…Suffix` entry that names a family (`…AvailabilitySlowBurnAlarm`).
#[test]
fn every_alarm_that_notifies_is_in_the_runbook() {
    let readme = read_infra_file("README.md");
    let start = readme
        .find("## Alarms")
        .expect("infra/README.md: an \"Alarms\" section");
    let section = &readme[start..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3)];
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
    let names = Regex::new(r"`(…?)([A-Za-z0-9]+)`").expect("pattern");
    let (mut exact, mut suffixes) = (BTreeSet::new(), BTreeSet::new());
    for row in &rows {
        let first_cell = row.split('|').nth(1).unwrap_or_default();
        for name in names.captures_iter(first_cell) {
            let id = name.get(2).expect("a name").as_str();
            if name.get(1).is_some_and(|m| !m.is_empty()) {
                suffixes.insert(id);
            } else {
                exact.insert(id);
            }
        }
    }
    let mut checked = 0;
    for file in ["services.yaml", "monitoring.yaml"] {
        let template = Template::load(file);
        for alarm in template
            .resources()
            .filter(|r| r.ty().starts_with("AWS::CloudWatch::") && r.ty().ends_with("Alarm"))
            .filter(|r| !items(r.prop("AlarmActions")).is_empty())
        {
            checked += 1;
            assert!(
                exact.contains(alarm.id) || suffixes.iter().any(|s| alarm.id.ends_with(s)),
                "infra/README.md \"Alarms\": no row names {alarm}"
            );
        }
    }
    assert!(
        checked >= 30,
        "only {checked} alarms notify; is the parser reading them?"
    );
}

/// CloudFormation takes at most 51,200 bytes of template inline; the README's deploy
/// commands must send bigger ones through the template bucket, and must hand the services
/// stack the collector config file itself.
#[test]
fn the_readme_deploys_every_template_the_way_it_needs() {
    let readme = read_infra_file("README.md");
    let commands = deploy_commands(&readme);
    for template in all_templates() {
        let size = read_infra_file(&template.file).len();
        let deploys: Vec<&String> = commands
            .iter()
            .filter(|c| c.contains(&format!("--template-file infra/{}", template.file)))
            .collect();
        assert!(
            !deploys.is_empty(),
            "infra/README.md never deploys {}",
            template.file
        );
        if size > 51_200 {
            for command in &deploys {
                assert!(
                    command.contains("--s3-bucket"),
                    "{} is {size} bytes, over CloudFormation's inline limit: deploy it with --s3-bucket\n{command}",
                    template.file
                );
            }
        }
    }
    let services_deploys: Vec<&String> = commands
        .iter()
        .filter(|c| c.contains("--template-file infra/services.yaml"))
        .collect();
    for parameter in ["CollectorConfig", "GatewayConfig"] {
        let with_config = services_deploys
            .iter()
            .filter(|c| c.contains(parameter) || c.contains("services-params.json"))
            .count();
        assert!(
            with_config >= 2,
            "infra/README.md: the first deploy and the release must pass {parameter}"
        );
    }
    let release = services_deploys
        .iter()
        .find(|c| c.contains("WebsiteImage="))
        .expect("a release command (new images)");
    for parameter in ["CollectorConfig", "GatewayConfig"] {
        assert!(
            release.contains(&format!("\"{parameter}=")),
            "infra/README.md: the release passes {parameter} too, so the deployed config is the commit's\n{release}"
        );
    }
    for (variable, file, parameter) in [
        ("config", "sidecar.yaml", "CollectorConfig"),
        ("gateway", "gateway.yaml", "GatewayConfig"),
    ] {
        assert!(
            readme.contains(&format!("--rawfile {variable} infra/collector/{file}"))
                && readme.contains(&format!(
                    "{{ParameterKey: \"{parameter}\", ParameterValue: ${variable}}}"
                )),
            "infra/README.md: {parameter} is infra/collector/{file}, byte for byte (jq --rawfile)"
        );
    }
}

/// Every example parameter file names only parameters its template declares, and gives
/// every parameter without a default (except CollectorConfig and GatewayConfig, the files
/// the deploy adds).
#[test]
fn example_parameter_files_fit_their_templates() {
    for (file, template) in [
        ("registry.json", "registry.yaml"),
        ("tracing.json", "tracing.yaml"),
        ("prod/network.json", "network.yaml"),
        ("prod/data.json", "data.yaml"),
        ("prod/services.json", "services.yaml"),
        ("prod/monitoring.json", "monitoring.yaml"),
    ] {
        let template = Template::load(template);
        let given = example_parameters(file);
        let declared = template.parameter_names();
        for key in given.keys() {
            assert!(
                declared.contains(key.as_str()),
                "params/{file}: {key} is not a parameter of {}",
                template.file
            );
        }
        for name in declared {
            let has_default = template
                .parameter(name)
                .is_some_and(|p| p.get("Default").is_some());
            assert!(
                has_default
                    || given.contains_key(name)
                    || ["CollectorConfig", "GatewayConfig"].contains(&name),
                "params/{file}: {name} has no default and no example value"
            );
        }
    }
}

/// The guardrails' parameters (issue 28) are declared, given in the example files and
/// explained in infra/README.md.
#[test]
fn the_readme_explains_the_guardrail_parameters() {
    let readme = read_infra_file("README.md");
    for (template, file, parameter) in [
        ("monitoring.yaml", "prod/monitoring.json", "BudgetEmail"),
        (
            "monitoring.yaml",
            "prod/monitoring.json",
            "BudgetMonthlyUsd",
        ),
        ("services.yaml", "prod/services.json", "PauseSchedule"),
        ("services.yaml", "prod/services.json", "WakeSchedule"),
        ("services.yaml", "prod/services.json", "ScheduleTimezone"),
    ] {
        assert!(
            Template::load(template).parameter(parameter).is_some(),
            "{template}: no parameter {parameter}"
        );
        assert!(
            example_parameters(file).contains_key(parameter),
            "params/{file}: no {parameter}"
        );
        assert!(
            readme.contains(&format!("`{parameter}`")),
            "infra/README.md never explains `{parameter}`"
        );
    }
}

/// infra/README.md's Cost table: the "Paused" column adds up to its total, and the text
/// that quotes what a paused environment still costs quotes that total.
#[test]
fn the_paused_column_adds_up() {
    let readme = read_infra_file("README.md");
    let table: Vec<Vec<&str>> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| Item | Unit price (source) |"))
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    let column = table
        .first()
        .and_then(|header| header.iter().position(|c| *c == "Paused"))
        .expect("infra/README.md: the Cost table has a \"Paused\" column");
    let dollars = |cell: &str| -> f64 {
        let number: String = cell
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        number
            .parse()
            .unwrap_or_else(|_| panic!("infra/README.md Cost: not an amount: {cell:?}"))
    };
    let (mut sum, mut total) = (0.0, None);
    for row in &table[2..] {
        let cell = row[column];
        if row[0].starts_with("**Total**") {
            total = Some(dollars(cell));
        } else if !cell.starts_with('(') {
            // (…) is the nat-mode alternative to the endpoints row, not added.
            sum += dollars(cell);
        }
    }
    let total = total.expect("infra/README.md Cost: a **Total** row");
    assert!(
        (sum - total).abs() <= 1.0,
        "infra/README.md Cost: the Paused rows add up to ${sum}, the total says ${total}"
    );
    let quoted = format!("`Paused=true` between uses (≈ ${total}");
    assert!(
        readme.contains(&quoted),
        "infra/README.md Cost: the text should quote the paused total: {quoted}"
    );
}
