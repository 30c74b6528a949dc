//! One upstream attempt as callers, logs and decision records see it
//! (STYLE.md rule 4: keep every attempt).

use std::time::Duration;

use serde::Serialize;

use crate::{OutcomeClass, ProviderName, RouteId};

/// The record of one upstream attempt.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    /// The route tried.
    #[serde(serialize_with = "ser_display")]
    pub route: RouteId,
    /// The route's provider.
    #[serde(serialize_with = "ser_display")]
    pub provider: ProviderName,
    /// How the attempt ended.
    pub outcome: OutcomeClass,
    /// The upstream HTTP status, when one was received.
    pub status: Option<u16>,
    /// Time from sending to the outcome.
    #[serde(serialize_with = "ser_millis", rename = "elapsed_ms")]
    pub elapsed: Duration,
    /// A short, secret-free explanation (e.g. "connection refused").
    pub detail: String,
    /// Seconds the provider asked us to wait (429 `retry-after`), if any.
    pub retry_after_secs: Option<u64>,
}

fn ser_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
