//! A service's cached view of the switchboard.

use std::sync::Arc;
use std::time::Duration;

use domain::Timestamp;
use tokio::sync::watch as channel;

use crate::{Fault, Scenario, Switchboard, SwitchedOn};

/// How often a service reads the switchboard: a change reaches every task within this
/// (plus one read), well inside the 5 s the demo promises. One strongly consistent
/// GetItem every 2 s per task is the whole cost; requests never read it.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What one service knows of the switchboard, as of its last read. Cheap to clone and
/// to ask: no I/O.
#[derive(Debug, Clone)]
pub struct Faults {
    board: channel::Receiver<Arc<Vec<SwitchedOn>>>,
    service: &'static str,
}

impl Faults {
    /// A view that never sees a fault (for tests and tools that do not watch).
    pub fn none(service: &'static str) -> Self {
        let (_, board) = channel::channel(Arc::new(Vec::new()));
        Self { board, service }
    }

    /// The settings of `scenario` if it is switched on, has not lapsed, and acts in this
    /// service.
    pub fn active(&self, scenario: Scenario) -> Option<Fault> {
        let now = Timestamp::now();
        self.board
            .borrow()
            .iter()
            .find(|on| {
                on.fault.scenario() == scenario
                    && on.is_live(now)
                    && on.fault.service().name() == self.service
            })
            .map(|on| on.fault.clone())
    }
}

/// Starts reading `switchboard` every [`POLL_INTERVAL`] on the current runtime and
/// returns the view it keeps up to date. Every change is logged when it takes effect
/// here (a fault switched on, off, or lapsed), so each service's log says when it began
/// and stopped misbehaving. A failed read keeps the last known board and is logged once
/// per run of failures.
pub fn watch(switchboard: Switchboard, service: &'static str) -> Faults {
    let (publish, board) = channel::channel(Arc::new(Vec::new()));
    tokio::spawn(async move {
        let mut live: Vec<SwitchedOn> = Vec::new();
        let mut failing = false;
        loop {
            match switchboard.read().await {
                Ok(read) => {
                    if failing {
                        tracing::info!("the fault switchboard can be read again");
                        failing = false;
                    }
                    let now = Timestamp::now();
                    let read: Vec<_> = read.into_iter().filter(|on| on.is_live(now)).collect();
                    log_changes(&live, &read, service);
                    if read != live {
                        live = read;
                        if publish.send(Arc::new(live.clone())).is_err() {
                            return; // every view is gone: nobody is asking any more
                        }
                    }
                }
                Err(err) if !failing => {
                    failing = true;
                    tracing::warn!(error = %err, "cannot read the fault switchboard; keeping the faults last read");
                }
                Err(_) => {}
            }
            // Jitter spreads the reads of many tasks that started together.
            let jitter = Duration::from_millis(fastrand::u64(0..250));
            tokio::time::sleep(POLL_INTERVAL - jitter).await;
        }
    });
    Faults { board, service }
}

fn log_changes(before: &[SwitchedOn], after: &[SwitchedOn], service: &str) {
    for on in after {
        if !before.contains(on) {
            let here = on.fault.service().name() == service;
            tracing::info!(
                fault.name = on.fault.scenario().name(),
                fault.settings = %on.fault,
                fault.until = %on.until,
                fault.acts_here = here,
                "fault switched on: {}",
                on.fault
            );
        }
    }
    for on in before {
        if !after
            .iter()
            .any(|a| a.fault.scenario() == on.fault.scenario())
        {
            tracing::info!(
                fault.name = on.fault.scenario().name(),
                "fault switched off: {}",
                on.fault.scenario()
            );
        }
    }
}
