//! Which successful requests get their INFO log line: at volume that one line per
//! request is the largest CloudWatch Logs cost, so `ACCESS_LOG_SAMPLE_RATIO` (0 to 1,
//! default 1: every line) keeps a share of them. The choice is made from the trace ID,
//! so every service keeps the lines of the same requests. Failures, slow answers and
//! every WARN or ERROR line are always written.

use std::sync::OnceLock;

use opentelemetry::trace::TraceId;

pub const VAR: &str = "ACCESS_LOG_SAMPLE_RATIO";

static RATIO: OnceLock<f64> = OnceLock::new();

/// Reads `ACCESS_LOG_SAMPLE_RATIO` (once, from `init`).
pub(crate) fn configure() -> Result<(), String> {
    let ratio = match std::env::var(VAR) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| format!("{VAR}={text:?} is not a number from 0 to 1"))?,
        _ => 1.0,
    };
    let _ = RATIO.set(ratio);
    Ok(())
}

/// Whether the request of `trace_id` is among the sampled share.
pub(crate) fn keeps(trace_id: TraceId) -> bool {
    let ratio = RATIO.get().copied().unwrap_or(1.0);
    if ratio >= 1.0 {
        return true;
    }
    // The low 64 bits of a trace ID are random (X-Ray IDs start with the time).
    let random = u64::from_be_bytes(trace_id.to_bytes()[8..].try_into().unwrap_or_default());
    #[expect(
        clippy::cast_precision_loss,
        reason = "a share of 2^64 needs no more precision than f64 has"
    )]
    let share = random as f64 / u64::MAX as f64;
    share < ratio
}
