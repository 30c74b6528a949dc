//! Owns `GET /admin/canary`'s answer: each canary's subject, phase,
//! share, both arms in the current step, and every step with its evidence.

use serde_json::{Value, json};
use signalbox_config::CanarySubject;

use super::Canary;
use super::state::{ArmStats, Phase};
use crate::runtime::Runtime;

/// Every canary of the runtime.
pub(crate) fn report(rt: &Runtime) -> Value {
    let canaries: Vec<Value> = rt.canaries.0.iter().map(|e| one(&e.canary)).collect();
    json!({ "canaries": canaries })
}

fn arm(a: &ArmStats) -> Value {
    json!({
        "requests": a.requests(),
        "errors": a.errors(),
        "on_other_replicas": a.others.requests,
        "error_rate": a.error_rate(),
        "p95_ms": a.p95_ms(),
        "cost_per_request_usd": a.cost_per_request(),
        "valid_rate": a.pass_rate(),
    })
}

fn one(c: &Canary) -> Value {
    let cfg = &c.cfg;
    let s = c.state.lock();
    let (phase, step) = match s.phase {
        Phase::Stepping(i) => ("stepping", Some(i)),
        Phase::Completed => ("completed", None),
        Phase::RolledBack => ("rolled_back", None),
    };
    let pct = |bp: u32| f64::from(bp) / 100.0;
    let events: Vec<Value> = s
        .events
        .iter()
        .map(|e| {
            json!({
                "event": e.kind.label(),
                "from_percent": pct(e.from_bp),
                "to_percent": pct(e.to_bp),
                "after_ms": e.after.as_millis() as u64,
                "evidence": e.evidence,
            })
        })
        .collect();
    let (baseline, canary) = cfg.subject.arms();
    let subject = match cfg.subject {
        CanarySubject::Route { .. } => "route",
        CanarySubject::Prompt { .. } => "prompt",
    };
    json!({
        "name": cfg.name,
        "alias": cfg.alias,
        "subject": subject,
        "baseline": baseline,
        "canary": canary,
        "phase": phase,
        "step": step,
        "steps_percent": cfg.steps_bp.iter().map(|&b| pct(b)).collect::<Vec<_>>(),
        "share_percent": pct(s.share_bp(cfg)),
        "window": {
            "min_requests": cfg.min_requests,
            "min_duration_ms": cfg.min_duration.as_millis() as u64,
        },
        "arms": { "baseline": arm(&s.arms[0]), "canary": arm(&s.arms[1]) },
        "held": s.held,
        "events": events,
    })
}
