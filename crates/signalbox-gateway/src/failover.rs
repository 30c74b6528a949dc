//! Owns designed failover for one request: the first dispatch round over
//! the policy's candidates, then — when the flow may degrade and the round
//! failed or had no eligible route — the rule's declared steps in order
//! (`smaller-model`, `reduced-context`, `tools-disabled`,
//! `human-escalation`). Each step rewrites the request or its signals and
//! asks the policy again, so every hard constraint still holds; routes
//! already tried are not tried again. The steps taken are returned so the
//! response, metrics and record can name them.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use signalbox_config::{DegradeStep, FailureMode, Posture};
use signalbox_core::headers::IDEMPOTENCY_KEY;
use signalbox_core::{AttemptRecord, ChatRequest, SkipKind, SkipRecord};
use signalbox_dispatch::{Failure, Plan, Served, StickyInput, StopReason, dispatch, fnv1a};
use signalbox_policy::{Decision, PolicyError, Signals};
use tokio::time::Instant;

use crate::AppState;
use crate::prompt::PromptUse;
use crate::round::{Blocked, Round};
use crate::runtime::Runtime;

/// What one request's failover needs from the pipeline.
pub(crate) struct Context<'a> {
    pub state: &'a Arc<AppState>,
    pub runtime: &'a Arc<Runtime>,
    pub headers: &'a HeaderMap,
    pub request_id: &'a str,
    pub request_id_header: &'a HeaderValue,
    pub started: Instant,
    pub tenant_id: &'a str,
    pub tenant_weight: f64,
    /// Why each round stays on its first route (fail-closed, `degrade:
    /// never`, no fallback step), if so.
    pub fail_closed: Option<&'static str>,
    /// Whether the rule's declared steps may run: false for fail-closed
    /// flows and `degrade: never`, true without a fallback step (docs/resilience.md).
    pub steps_allowed: bool,
    /// The registered prompt the request uses, if any.
    pub prompt: Option<&'a PromptUse>,
    /// `traceparent` naming the gateway's span, for every provider call.
    pub traceparent: Option<&'a HeaderValue>,
    /// The caller's `tracestate`, passed on with it.
    pub tracestate: Option<&'a HeaderValue>,
}

/// How the request ended.
pub(crate) enum Ended {
    /// Every round failed (attempts merged across rounds).
    Failed(Failure),
    /// No round had an eligible route.
    Refused(PolicyError),
    /// The policy's last resort: hand over to a human.
    Escalated { reason: String },
    /// Every candidate's zone blocks a data class the request carries.
    PrivacyBlocked { zone: String, classes: Vec<String> },
}

/// Everything the pipeline reports about the request's failover.
pub(crate) struct Outcome {
    pub result: Result<Served, Ended>,
    /// Every attempt of every round, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Every route skipped for its health, in order.
    pub skipped: Vec<SkipRecord>,
    /// Degradation steps taken, in order.
    pub degraded: Vec<DegradeStep>,
    pub at_most_once: bool,
    /// Routes of the last round the policy excluded, with why.
    pub excluded: Vec<String>,
    /// What the privacy boundaries found and did (counts only), if any applied.
    pub privacy_report: Option<serde_json::Value>,
    /// The token table of the serving route's zone, to restore the answer.
    pub restore_table: Option<Arc<signalbox_privacy::TokenTable>>,
}

/// Runs the rounds. `decision` is the first round's decision (its refusal,
/// if any, is only final when no degradation step finds a route).
pub(crate) async fn run(
    ctx: &Context<'_>,
    req: ChatRequest,
    signals: Signals,
    decision: Decision,
) -> Outcome {
    let snap = &ctx.runtime.policy;
    let at_most_once = signals.irreversible || decision.at_most_once(snap);
    let may_degrade = ctx.steps_allowed && decision.failure_mode == FailureMode::Degrade;
    let mut steps = decision
        .degrade
        .iter()
        .copied()
        .filter(|s| *s != DegradeStep::FallbackRoute)
        .collect::<Vec<_>>()
        .into_iter();
    let mut out = Outcome {
        result: Err(Ended::Refused(PolicyError::Forbidden(String::new()))),
        attempts: Vec::new(),
        skipped: Vec::new(),
        degraded: Vec::new(),
        at_most_once,
        excluded: Vec::new(),
        privacy_report: None,
        restore_table: None,
    };
    let (mut req, mut signals, mut decision) = (req, signals, decision);
    let mut tried: Vec<usize> = Vec::new();
    let mut last_failure: Option<Failure> = None;
    let first_refusal = decision.refusal.clone();
    // The policy's first choice sets the posture floor for every fallback.
    let floor = decision
        .candidates
        .first()
        .and_then(|&c| ctx.runtime.config.routes.get(c))
        .map(|r| (r.id.clone(), r.posture()));
    loop {
        let mut candidates: Vec<usize> = decision
            .candidates
            .iter()
            .copied()
            .filter(|c| !tried.contains(c))
            .collect();
        if let Some((first, floor)) = &floor {
            keep_posture(
                ctx,
                first.as_str(),
                *floor,
                &mut candidates,
                &mut out.skipped,
            );
        }
        let who = crate::privacy::Who {
            tenant: signals.tenant,
            rule: decision.rule,
        };
        let prepared = Round::prepare(
            ctx,
            who,
            signals.session.as_deref(),
            &req,
            ctx.prompt,
            &mut candidates,
            &mut out.skipped,
        )
        .await;
        let mut prepared = match prepared {
            Ok(r) => r,
            Err(Blocked { zone, classes }) => {
                out.result = Err(Ended::PrivacyBlocked { zone, classes });
                return out;
            }
        };
        if let Some(report) = prepared.report.take() {
            out.privacy_report = Some(report);
        }
        if !candidates.is_empty() {
            let bodies = prepared.bodies(ctx);
            let round = dispatch_round(
                ctx,
                &req,
                &signals,
                &decision,
                &candidates,
                at_most_once,
                &bodies,
            )
            .await;
            match round {
                Ok(mut served) => {
                    out.restore_table = prepared.table_for(ctx, served.route);
                    if served.fallback && !out.degraded.contains(&DegradeStep::FallbackRoute) {
                        out.degraded.insert(0, DegradeStep::FallbackRoute);
                    }
                    // Every round's attempts and skips live in `out`; the
                    // pipeline reports them from there.
                    out.attempts.append(&mut served.attempts);
                    out.skipped.append(&mut served.skipped);
                    out.result = Ok(served);
                    return out;
                }
                Err(mut f) => {
                    tried.extend(
                        f.attempts
                            .iter()
                            .filter_map(|a| ctx.runtime.route_index(a.route.as_str())),
                    );
                    out.attempts.append(&mut f.attempts);
                    out.skipped.append(&mut f.skipped);
                    let final_failure = f.rejection.is_some()
                        || f.stop == StopReason::AtMostOnce
                        || f.stop == StopReason::Deadline
                        || (f.capacity_refused && out.attempts.is_empty());
                    last_failure = Some(f);
                    if final_failure || !may_degrade {
                        break;
                    }
                }
            }
        } else if !may_degrade {
            break;
        }
        // The next applicable step, if any.
        let Some((step, next)) = next_step(ctx, &mut steps, &req, &signals) else {
            break;
        };
        if step == DegradeStep::HumanEscalation {
            out.degraded.push(step);
            let reason = match &last_failure {
                Some(f) if !f.attempts.is_empty() || !out.attempts.is_empty() => {
                    format!("all {} upstream attempts failed", out.attempts.len())
                }
                _ => "no eligible route could serve the request".to_string(),
            };
            out.result = Err(Ended::Escalated { reason });
            return out;
        }
        out.degraded.push(step);
        (req, signals) = next;
        decision = signalbox_policy::decide(
            snap,
            &signals,
            ctx.headers,
            &crate::pipeline::RouteObservations(ctx.runtime),
        );
    }
    // Rendered only for the failure message: why no compliant fallback existed.
    out.excluded = decision.excluded(snap, &signals);
    out.result = Err(match last_failure {
        Some(mut f) => {
            f.attempts = out.attempts.clone();
            f.skipped = out.skipped.clone();
            Ended::Failed(f)
        }
        None => Ended::Refused(
            first_refusal
                .or_else(|| decision.refusal.clone())
                .unwrap_or_else(|| PolicyError::NoEligibleRoute {
                    alias: decision.alias.to_string(),
                    reasons: "every eligible route was already tried".into(),
                }),
        ),
    });
    out
}

/// Drops candidates whose declared posture (retention, content filter) is
/// weaker than the first choice's: a failover never weakens compliance.
fn keep_posture(
    ctx: &Context<'_>,
    first: &str,
    floor: Posture,
    candidates: &mut Vec<usize>,
    skipped: &mut Vec<SkipRecord>,
) {
    candidates.retain(|&c| {
        let Some(r) = ctx.runtime.config.routes.get(c) else {
            return false;
        };
        let holds = r.posture().at_least(floor);
        if !holds {
            skipped.push(SkipRecord::new(
                r.id.to_string(),
                SkipKind::WeakerPosture,
                format!(
                    "weaker posture ({}) than the first choice {first} ({floor})",
                    r.posture()
                ),
            ));
        }
        holds
    });
}

/// Finds the next declared step that changes something, and applies it.
fn next_step(
    ctx: &Context<'_>,
    steps: &mut impl Iterator<Item = DegradeStep>,
    req: &ChatRequest,
    signals: &Signals,
) -> Option<(DegradeStep, (ChatRequest, Signals))> {
    for step in steps.by_ref() {
        let applied = match step {
            DegradeStep::FallbackRoute => None,
            DegradeStep::HumanEscalation => Some((req.clone(), signals.clone())),
            DegradeStep::SmallerModel => smaller_model(ctx, req, signals),
            DegradeStep::ToolsDisabled => req.without_tools().map(|r| {
                let mut s = signals.clone();
                s.tools.clear();
                (r, s)
            }),
            DegradeStep::ReducedContext => reduced_context(ctx, req, signals),
        };
        if let Some(next) = applied {
            return Some((step, next));
        }
        tracing::debug!(
            request_id = ctx.request_id,
            step = step.as_str(),
            "Degradation step not applicable."
        );
    }
    None
}

/// The alias's declared smaller model, same signals otherwise.
fn smaller_model(
    ctx: &Context<'_>,
    req: &ChatRequest,
    signals: &Signals,
) -> Option<(ChatRequest, Signals)> {
    let cfg = &ctx.runtime.config;
    let smaller = cfg.aliases.get(signals.alias)?.smaller_model.as_ref()?;
    let idx = cfg.aliases.iter().position(|a| &a.name == smaller)?;
    let mut s = signals.clone();
    s.alias = idx;
    Some((req.clone(), s))
}

/// Drops old turns until the prompt and requested output fit the largest
/// context window among the alias's routes.
fn reduced_context(
    ctx: &Context<'_>,
    req: &ChatRequest,
    signals: &Signals,
) -> Option<(ChatRequest, Signals)> {
    let cfg = &ctx.runtime.config;
    let snap = &ctx.runtime.policy;
    let alias = cfg.aliases.get(signals.alias)?;
    let window = alias
        .routes
        .iter()
        .filter_map(|id| cfg.route(id))
        .map(|r| u64::from(r.context_window))
        .max()?;
    let estimate = |r: &ChatRequest| {
        signalbox_policy::extract(snap, signals.tenant, signals.anonymous, ctx.headers, r)
            .ok()
            .map(|s| s.prompt_tokens + s.max_tokens.unwrap_or(0))
    };
    if estimate(req).is_some_and(|n| n <= window) {
        return None; // it already fits: trimming would only lose context
    }
    let trimmed = req.reduce_context(|r| estimate(r).is_some_and(|n| n <= window))?;
    let fresh = signalbox_policy::extract(
        snap,
        signals.tenant,
        signals.anonymous,
        ctx.headers,
        &trimmed,
    )
    .ok()?;
    // Everything else the first extraction decided stays; only the size changes.
    let mut s = signals.clone();
    s.prompt_tokens = fresh.prompt_tokens;
    Some((trimmed, s))
}

async fn dispatch_round(
    ctx: &Context<'_>,
    req: &ChatRequest,
    signals: &Signals,
    decision: &Decision,
    candidates: &[usize],
    at_most_once: bool,
    bodies: &[Option<&ChatRequest>],
) -> Result<Served, Failure> {
    let cfg = &ctx.runtime.config;
    let retry = &cfg.resilience.retry;
    let candidates = if ctx.fail_closed.is_some() {
        candidates.get(..1).unwrap_or_default()
    } else {
        candidates
    };
    let seed_source = ctx
        .headers
        .get(IDEMPOTENCY_KEY)
        .map_or(ctx.request_id.as_bytes(), |v| v.as_bytes());
    let session = signals.session.as_deref();
    let remembered = session
        .and_then(|s| ctx.state.affinity.get(s))
        .and_then(|id| ctx.runtime.route_index(&id));
    let plan = Plan {
        routes: &ctx.runtime.routes,
        candidates,
        max_attempts: decision.max_attempts.max(1) * retry.attempts_per_route as usize,
        at_most_once,
        retry,
        budget: &ctx.runtime.retry_budget,
        seed: fnv1a(seed_source),
        started: ctx.started,
        sticky: session.map(|s| StickyInput {
            session: s,
            remembered,
            group: decision.leading_ties(),
        }),
        gates: &ctx.runtime.route_gates,
        rates: &ctx.runtime.route_rates,
        tenant: ctx.tenant_id,
        tenant_weight: ctx.tenant_weight,
        queue_timeout: cfg.resilience.queue_timeout,
        bodies,
    };
    let call = signalbox_providers::CallContext {
        request_id: Some(ctx.request_id_header),
        traceparent: ctx.traceparent,
        tracestate: ctx.tracestate,
    };
    let served = dispatch(plan, req, &call).await?;
    if let Some(s) = session
        && served.sticky.is_some_and(|sticky| sticky != served.route)
        && let Some(route) = ctx.runtime.routes.get(served.route)
    {
        // The session had to leave its rendezvous route: it stays on this one.
        ctx.state.affinity.set(s, route.id.as_str());
    }
    Ok(served)
}
