//! Every collector config in the repository, run through the real binary that runs it:
//! `validate` (the config loads, every component exists and accepts its settings), and
//! every component named by its current type name — a deprecated alias still loads, so
//! `validate` alone would not say. Jaeger's config (Jaeger v2 is a collector
//! distribution) through Jaeger. The configs are found, not listed: a new one is checked
//! from the moment it is added.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;
use telemetry_backends::Binaries;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// Where configs live: the local stacks' and AWS's.
const FOLDERS: [&str; 2] = ["docker", "infra"];
/// The sections of a config (and of `components`' listing) that hold components.
const KINDS: [&str; 5] = [
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "connectors",
];
/// What a config's `${env:…}` without a default is given for `validate`: static test
/// credentials, so the SigV4 extension never looks for an instance role (and never asks
/// the EC2 metadata address), and a value of the right kind for the rest.
const ENV: [(&str, &str); 9] = [
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_ACCESS_KEY_ID", "local"),
    ("AWS_SECRET_ACCESS_KEY", "local"),
    ("AWS_REGION", "us-east-1"),
    ("EMF_LOG_GROUP", "/cuddlekube/test/metrics"),
    ("SLOW_TRACE_THRESHOLD_MS", "1000"),
    ("TRACE_SAMPLE_PERCENT", "5"),
    ("GATEWAY_HOSTNAME", "gateway.traces.internal"),
    ("DEPLOYMENT_ENVIRONMENT", "test"),
];

fn binaries() -> Binaries {
    Binaries::from_env()
        .expect("run with `cargo xtask test`, which builds Jaeger and the collector")
}

/// Every YAML file under `FOLDERS` with `receivers` and `service.pipelines`.
fn configs() -> Vec<(PathBuf, Value)> {
    let mut found = Vec::new();
    let mut folders: Vec<PathBuf> = FOLDERS.iter().map(|f| Path::new(ROOT).join(f)).collect();
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                let Ok(yaml) = serde_norway::from_str::<Value>(&text) else {
                    continue; // CloudFormation's short forms (`!Ref`) are not plain YAML.
                };
                if yaml.get("receivers").is_some() && yaml["service"].get("pipelines").is_some() {
                    found.push((path, yaml));
                }
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Jaeger's own config names its storage extension.
fn runs_on_jaeger(config: &Value) -> bool {
    config["extensions"].get("jaeger_storage").is_some()
}

fn run(binary: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(binary)
        .args(args)
        .env_clear()
        .envs(ENV)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", binary.display()));
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text.into_owned())
}

/// (kind, type) of every component a config declares: `exporters` → `otlp_http` for
/// `otlp_http/xray`.
fn components_used(config: &Value) -> BTreeSet<(String, String)> {
    let mut used = BTreeSet::new();
    for kind in KINDS {
        for id in config[kind].as_mapping().into_iter().flat_map(|m| m.keys()) {
            let id = id.as_str().unwrap_or_default();
            let ty = id.split('/').next().unwrap_or_default();
            used.insert((kind.to_owned(), ty.to_owned()));
        }
    }
    used
}

/// (kind, type) of every component a binary has, under its current names only.
fn components_known(binary: &Path) -> BTreeSet<(String, String)> {
    let (ok, text) = run(binary, &["components"]);
    assert!(ok, "{} components: {text}", binary.display());
    let listing: Value = serde_norway::from_str(&text).unwrap();
    let mut known = BTreeSet::new();
    for kind in KINDS {
        for component in listing[kind].as_sequence().into_iter().flatten() {
            known.insert((
                kind.to_owned(),
                component["name"].as_str().unwrap().to_owned(),
            ));
        }
    }
    known
}

#[test]
fn the_configs_are_found() {
    let names: Vec<String> = configs()
        .iter()
        .map(|(path, _)| path.strip_prefix(ROOT).unwrap().display().to_string())
        .collect();
    for expected in [
        "docker/jaeger/config.yaml",
        "docker/otel-collector.yaml",
        "infra/collector/gateway.yaml",
        "infra/collector/sidecar.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not among {names:?}"
        );
    }
}

#[test]
fn every_config_is_valid_for_the_binary_that_runs_it() {
    let binaries = binaries();
    for (path, config) in configs() {
        let binary = if runs_on_jaeger(&config) {
            &binaries.jaeger
        } else {
            &binaries.collector
        };
        let (ok, text) = run(binary, &["validate", "--config", path.to_str().unwrap()]);
        assert!(ok, "{} does not validate: {text}", path.display());
    }
}

#[test]
fn every_component_is_named_by_its_current_name() {
    let binaries = binaries();
    let (collector, jaeger) = (
        components_known(&binaries.collector),
        components_known(&binaries.jaeger),
    );
    for (path, config) in configs() {
        let known = if runs_on_jaeger(&config) {
            &jaeger
        } else {
            &collector
        };
        let unknown: Vec<_> = components_used(&config)
            .difference(known)
            .cloned()
            .collect();
        assert!(
            unknown.is_empty(),
            "{}: {unknown:?} are not current component names (a deprecated alias, or a \
             component the build lacks: infra/collector/builder.yaml)",
            path.display()
        );
    }
}
