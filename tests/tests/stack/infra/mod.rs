//! The CloudFormation templates in `infra/` checked against the code and against what
//! DESIGN.md promises of them: the residents table is the code's table, IAM is least
//! privilege, only the website is public, and the two APIs are reachable from the website
//! alone. Offline: it reads the YAML and talks to no AWS account. One module per template
//! (`readme` for infra/README.md and infra/params/, `stacks` for checks across them); the
//! helpers they share are here.

mod data;
mod monitoring;
mod readme;
mod services;
mod stacks;

use std::collections::BTreeMap;

use stack_tests::cfn::read_infra_file;

/// Each `aws cloudformation deploy` command in the text, continuation lines joined.
fn deploy_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(command) = current.as_mut() {
            command.push(' ');
            command.push_str(trimmed.trim_end_matches('\\'));
            if !trimmed.ends_with('\\') {
                commands.push(current.take().expect("a command"));
            }
        } else if trimmed.starts_with("aws cloudformation deploy") {
            if trimmed.ends_with('\\') {
                current = Some(trimmed.trim_end_matches('\\').to_owned());
            } else {
                commands.push(trimmed.to_owned());
            }
        }
    }
    commands
}

/// An example parameter file (infra/params/) as key -> value.
fn example_parameters(file: &str) -> BTreeMap<String, String> {
    let list: serde_json::Value =
        serde_json::from_str(&read_infra_file(&format!("params/{file}"))).expect("JSON");
    list.as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            (
                p["ParameterKey"].as_str().expect("key").to_owned(),
                p["ParameterValue"].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}
