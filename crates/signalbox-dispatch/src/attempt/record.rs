//! Owns one attempt's entry in the record: which route and provider, how
//! it ended, when it was sent after the request arrived, and how long it
//! took.

use signalbox_core::{AttemptRecord, OutcomeClass};
use tokio::time::Duration;

use crate::route::Route;

/// When an attempt was sent (after the request's arrival) and how long it
/// took to its outcome.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    pub(super) sent_after: Duration,
    pub(super) elapsed: Duration,
}

pub(super) fn record<X>(
    target: &Route<X>,
    outcome: OutcomeClass,
    status: Option<u16>,
    timing: Timing,
    detail: String,
    retry_after_secs: Option<u64>,
) -> AttemptRecord {
    AttemptRecord {
        route: target.id.clone(),
        provider: target.provider.clone(),
        outcome,
        status,
        elapsed: timing.elapsed,
        sent_after: timing.sent_after,
        detail,
        retry_after_secs,
        provider_error: None,
    }
}
