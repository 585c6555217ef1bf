//! The body of every service's `main`: `<binary>` serves, `<binary> healthcheck`
//! probes a running one (for container images with no shell or curl).

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use crate::{Application, ServiceInfo, config};

/// Runs the service `build` makes, or the `healthcheck` probe when asked. Config and
/// startup errors print one line and exit 1.
pub fn run_service<F, Fut>(info: ServiceInfo, build: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Application, String>>,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{}: cannot start the async runtime: {err}", info.name);
            return ExitCode::FAILURE;
        }
    };
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("healthcheck") => return runtime.block_on(healthcheck(info)),
        Some(other) => {
            eprintln!(
                "{}: unknown argument {other:?} (usage: {} [healthcheck])",
                info.name, info.name
            );
            return ExitCode::from(2);
        }
    }
    let _telemetry = match telemetry::init(info.name) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("{}: {err}", info.name);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let app = match build().await {
            Ok(app) => app,
            Err(err) => {
                eprintln!("{}: {err}", info.name);
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(
            service = info.name,
            version = info.version,
            commit = info.commit,
            port = app.port(),
            "listening"
        );
        match app.run_until_stopped().await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(err) => {
                tracing::error!(error = %err, "server failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// GETs `http://127.0.0.1:$PORT/health`; exit 0 only on 200.
async fn healthcheck(info: ServiceInfo) -> ExitCode {
    let port = match config::port() {
        Ok(port) => port,
        Err(err) => {
            eprintln!("{}: {err}", info.name);
            return ExitCode::FAILURE;
        }
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build();
    let url = format!("http://127.0.0.1:{port}/health");
    match client.map(|c| c.get(&url)) {
        Ok(request) => match request.send().await {
            Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
            Ok(response) => {
                eprintln!("{}: {url} answered {}", info.name, response.status());
                ExitCode::FAILURE
            }
            Err(err) => {
                eprintln!("{}: {url} did not answer: {err}", info.name);
                ExitCode::FAILURE
            }
        },
        Err(err) => {
            eprintln!("{}: cannot build an HTTP client: {err}", info.name);
            ExitCode::FAILURE
        }
    }
}
