//! Owns the quality gates of suites that judge a route for some request
//! intents only (`quality.suites[].intents`): a run's failures in such a
//! suite move the gates of its intents, not the route's, so a route whose
//! answers regress on one critical intent stops serving that intent's
//! requests and keeps serving the others; a missed warn bar likewise ranks
//! it lower for those intents only. The same hysteresis (`trip-after`,
//! `recover-after`) holds per intent; each transition is logged and kept
//! as an event. Each gate publishes its verdict as a mark for its intent
//! through the state backend (`QualityGate::record_intent`), so every
//! replica honours it, as the route's own marks.

use std::collections::BTreeMap;

use signalbox_config::QualityConfig;
use signalbox_dispatch::QualityTransition;

use super::Run;
use crate::AppState;
use crate::runtime::Route;

/// Splits a run's floor misses (each with its suite's index) into the
/// route's (suites judging every request) and each scoped intent's (every
/// intent of a scoped suite is listed, with nothing when it passed).
pub(super) fn split(
    run: &Run,
    below: Vec<(usize, String)>,
) -> (Vec<String>, BTreeMap<&str, Vec<String>>) {
    let mut by_intent: BTreeMap<&str, Vec<String>> = run
        .suites
        .iter()
        .flat_map(|s| &s.scope)
        .map(|i| (i.as_str(), Vec::new()))
        .collect();
    let mut route = Vec::new();
    for (i, miss) in below {
        match run.suites.get(i).map(|s| s.scope.as_slice()) {
            Some(scope) if !scope.is_empty() => {
                for intent in scope {
                    by_intent.entry(intent).or_default().push(miss.clone());
                }
            }
            _ => route.push(miss),
        }
    }
    (route, by_intent)
}

/// Moves each scoped intent's gate by the run's result for it
/// (`summarize` words its misses); a transition is logged and kept as an
/// event.
pub(super) fn move_gates(
    state: &AppState,
    route: &Route,
    by_intent: BTreeMap<&str, Vec<String>>,
    cfg: &QualityConfig,
    summarize: impl Fn(&[String]) -> String,
) {
    let id = route.id.as_str();
    for (intent, below) in by_intent {
        let summary = summarize(&below);
        let gate = &route.health.quality;
        let moved = gate.record_intent(
            intent,
            below.is_empty(),
            &summary,
            cfg.trip_after,
            cfg.recover_after,
        );
        let (reason, detail) = match moved {
            Some(QualityTransition::Disabled { summary }) => {
                tracing::warn!(route = %id, %intent, %summary, "Quality regression: the route stops serving this intent.");
                (
                    "disabled",
                    format!("route {id} disabled for intent {intent}: {summary}"),
                )
            }
            Some(QualityTransition::Restored) => {
                tracing::info!(route = %id, %intent, "Quality restored: the route serves this intent again.");
                (
                    "restored",
                    format!("route {id} restored for intent {intent}: its runs pass again"),
                )
            }
            None => continue,
        };
        let path = format!("/quality/{id}");
        crate::record::system_event(state, "signalbox-quality", path, reason, detail);
    }
}

/// Marks (or clears) each scoped intent's warning; a change is logged and
/// kept as an event.
pub(super) fn mark_warnings(
    state: &AppState,
    route: &Route,
    by_intent: BTreeMap<&str, Vec<String>>,
) {
    let id = route.id.as_str();
    for (intent, warned) in by_intent {
        let missed = (!warned.is_empty()).then(|| warned.join("; "));
        let gate = &route.health.quality;
        if !gate.record_intent_warning(intent, missed.as_deref()) {
            continue;
        }
        tracing::info!(route = %id, %intent, warning = ?missed, "Quality warning changed for an intent: the route is ranked accordingly.");
        let (reason, detail) = match &missed {
            Some(m) => (
                "warned",
                format!(
                    "route {id} warned for intent {intent}: it keeps {:.0}% of its traffic first: {m}",
                    gate.warn_weight() * 100.0
                ),
            ),
            None => (
                "warning_cleared",
                format!("route {id} warning cleared for intent {intent}"),
            ),
        };
        let path = format!("/quality/{id}");
        crate::record::system_event(state, "signalbox-quality", path, reason, detail);
    }
}
