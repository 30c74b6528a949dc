//! Owns the degrade walk's steps and the posture floor: finding the next
//! declared step that changes something and applying it (a smaller model,
//! older turns dropped, tools removed, or a human), and keeping every
//! fallback at least as strict as the policy's first choice.

use signalbox_config::{DegradeStep, Posture};
use signalbox_core::{ChatRequest, RouteIdx, SkipKind, SkipRecord};
use signalbox_policy::Signals;

use super::{Eligible, Failover};

/// A degraded request and the signals the policy re-decides on.
pub(super) type Degraded = (ChatRequest, Signals);

/// The policy's first choice: the floor every fallback's posture holds.
pub(super) struct Floor {
    first: signalbox_core::RouteId,
    posture: Posture,
}

impl Floor {
    /// The floor set by the first of `candidates`, if there is one.
    pub(super) fn of<X>(f: &Failover<'_, X>, candidates: &[RouteIdx]) -> Option<Self> {
        let first = candidates.first()?;
        let r = f.policy.config().routes.get(first.get())?;
        Some(Self {
            first: r.id.clone(),
            posture: r.posture(),
        })
    }

    /// Drops candidates whose declared posture (retention, content filter)
    /// is weaker than the first choice's: a failover never weakens
    /// compliance.
    pub(super) fn keep<X>(&self, f: &Failover<'_, X>, candidates: Vec<RouteIdx>) -> Eligible {
        let (first, floor) = (&self.first, self.posture);
        let routes = &f.policy.config().routes;
        // Candidates come from the policy's own table: one it does not
        // know is dropped without a record, as before.
        let known: Vec<RouteIdx> = candidates
            .into_iter()
            .filter(|c| routes.get(c.get()).is_some())
            .collect();
        Eligible::retain(known, |c| {
            let r = routes.get(c.get())?;
            (!r.posture().at_least(floor)).then(|| {
                SkipRecord::new(
                    r.id.to_string(),
                    SkipKind::WeakerPosture,
                    format!(
                        "weaker posture ({}) than the first choice {first} ({floor})",
                        r.posture()
                    ),
                )
            })
        })
    }
}

/// Finds the next declared step that changes something, and applies it.
pub(super) fn next_step<X>(
    f: &Failover<'_, X>,
    steps: &mut impl Iterator<Item = DegradeStep>,
    req: &ChatRequest,
    signals: &Signals,
) -> Option<(DegradeStep, Degraded)> {
    for step in steps.by_ref() {
        let applied = match step {
            DegradeStep::FallbackRoute => None,
            DegradeStep::HumanEscalation => Some((req.clone(), signals.clone())),
            DegradeStep::SmallerModel => smaller_model(f, req, signals),
            DegradeStep::ToolsDisabled => without_tools(req, signals),
            DegradeStep::ReducedContext => reduced_context(f, req, signals),
        };
        if let Some(next) = applied {
            return Some((step, next));
        }
        tracing::debug!(
            request_id = f.request_id,
            step = step.as_str(),
            "Degradation step not applicable."
        );
    }
    None
}

/// The request without its tools, and signals that no longer ask for tool
/// support (`None` when it has none): the `tools-disabled` step, declared
/// or an operator's (`operator.rs`).
pub(super) fn without_tools(req: &ChatRequest, signals: &Signals) -> Option<Degraded> {
    req.without_tools().map(|r| {
        let mut s = signals.clone();
        s.tools.clear();
        (r, s)
    })
}

/// The alias's declared smaller model, same signals otherwise.
fn smaller_model<X>(f: &Failover<'_, X>, req: &ChatRequest, signals: &Signals) -> Option<Degraded> {
    let cfg = &f.policy.config();
    let smaller = cfg.aliases.get(signals.alias)?.smaller_model.as_ref()?;
    let idx = cfg.aliases.iter().position(|a| &a.name == smaller)?;
    let mut s = signals.clone();
    s.alias = idx;
    Some((req.clone(), s))
}

/// Drops old turns until the prompt and requested output fit the largest
/// context window among the alias's routes.
fn reduced_context<X>(
    f: &Failover<'_, X>,
    req: &ChatRequest,
    signals: &Signals,
) -> Option<Degraded> {
    let snap = f.policy;
    let cfg = snap.config();
    let alias = cfg.aliases.get(signals.alias)?;
    let window = alias
        .routes
        .iter()
        .filter_map(|id| f.routes.index(id.as_str()))
        .filter_map(|i| cfg.routes.get(i.get()))
        .map(|r| u64::from(r.context_window))
        .max()?;
    let extract = |r: &ChatRequest| {
        signalbox_policy::extract(snap, signals.tenant, signals.anonymous, f.headers, r).ok()
    };
    let estimate =
        |r: &ChatRequest| extract(r).map(|s| s.prompt_tokens + s.max_tokens.unwrap_or(0));
    if estimate(req).is_some_and(|n| n <= window) {
        return None; // it already fits: trimming would only lose context
    }
    let trimmed = req.reduce_context(|r| estimate(r).is_some_and(|n| n <= window))?;
    let fresh = extract(&trimmed)?;
    // Everything else the first extraction decided stays; only the size changes.
    let mut s = signals.clone();
    s.prompt_tokens = fresh.prompt_tokens;
    Some((trimmed, s))
}
