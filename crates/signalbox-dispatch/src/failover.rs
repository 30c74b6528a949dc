//! Owns designed failover for one request: the first dispatch round over
//! the policy's candidates, then — when the flow may degrade and the round
//! failed or had no eligible route — the rule's declared steps in order
//! (`smaller-model`, `reduced-context`, `tools-disabled`,
//! `human-escalation`). Each step rewrites the request or its signals and
//! asks the policy again, so every hard constraint still holds; routes
//! already tried are not tried again, and no fallback's posture is weaker
//! than the policy's first choice. The steps taken are returned so the
//! response, metrics and record can name them.
//!
//! Two things a round needs are not dispatch's to decide, and come from the
//! caller through [`PrepareRound`]: each candidate's body (the prompt
//! variant of its provider family, the privacy boundary of its zone). The
//! policy is re-asked directly (`signalbox-policy` depends only on config
//! and core, so there is no cycle).

use std::future::Future;

use http::HeaderMap;
use signalbox_config::{DegradeStep, FailureMode};
use signalbox_core::{AttemptRecord, ChatRequest, RouteIdx, SkipRecord};
use signalbox_policy::{Decision, Observations, PolicyError, PolicySnapshot, Signals};
use signalbox_providers::CallContext;
use signalbox_state::AffinityMemory;
use tokio::time::Instant;

use crate::{Failure, Plan, RetryBudget, RouteTable, Served, StickyInput, StopReason, dispatch};

mod degrade;
mod operator;
#[cfg(test)]
mod tests;

use degrade::{Floor, next_step};

/// Every candidate's zone blocks a data class the request carries.
#[derive(Debug, Clone)]
pub struct Blocked {
    /// The first blocking zone.
    pub zone: String,
    /// The data classes it found.
    pub classes: Vec<String>,
}

/// How a request that was not served ended.
#[derive(Debug)]
pub enum Ended {
    /// Every round failed (attempts merged across rounds).
    Failed(Failure),
    /// No round had an eligible route.
    Refused(PolicyError),
    /// The policy's last resort: hand over to a human.
    Escalated {
        /// Why (how many attempts failed, or that no route was eligible).
        reason: String,
    },
    /// Every candidate's zone blocks a data class the request carries.
    PrivacyBlocked {
        /// The first blocking zone.
        zone: String,
        /// The data classes it found.
        classes: Vec<String>,
    },
}

/// One round's bodies, as the caller prepared them.
pub trait RoundBodies: Send {
    /// Per route (indexed like the route table): the body to send instead
    /// of the round's request; empty or `None` sends the request as it is.
    fn bodies(&self) -> Vec<Option<&ChatRequest>>;

    /// What the round's privacy boundaries found (counts only), taken once.
    fn take_report(&mut self) -> Option<serde_json::Value>;
}

/// The round as it stands, for [`PrepareRound::prepare`].
#[derive(Debug, Clone, Copy)]
pub struct RoundRequest<'a> {
    /// The round's request (degraded, from the second round on).
    pub req: &'a ChatRequest,
    /// The signals the round's decision was made on.
    pub signals: &'a Signals,
    /// The round's decision.
    pub decision: &'a Decision,
}

/// The candidates a round may still send to, and a skip record for each
/// one dropped on the way.
#[derive(Debug, Default)]
pub struct Eligible {
    /// Routes still eligible, best first.
    pub candidates: Vec<RouteIdx>,
    /// Why the others were dropped.
    pub skipped: Vec<SkipRecord>,
}

impl Eligible {
    /// Keeps the candidates `refuse` has no skip for, in order; each skip
    /// it returns drops its candidate and is recorded.
    pub fn retain(
        candidates: Vec<RouteIdx>,
        mut refuse: impl FnMut(RouteIdx) -> Option<SkipRecord>,
    ) -> Self {
        let mut out = Self {
            candidates: Vec::with_capacity(candidates.len()),
            skipped: Vec::new(),
        };
        for c in candidates {
            match refuse(c) {
                None => out.candidates.push(c),
                Some(skip) => out.skipped.push(skip),
            }
        }
        out
    }
}

/// What dispatch leaves to its caller: each round's bodies.
pub trait PrepareRound: Sync {
    /// The prepared bodies (kept for the serving round, e.g. to restore
    /// its answer).
    type Round: RoundBodies;

    /// Builds the round's bodies, and the `candidates` that may get the
    /// request (each one dropped with its skip); `Err` when none may and
    /// the request is blocked, which ends the request (a block is the
    /// policy's answer, never a reason to degrade).
    fn prepare<'a>(
        &'a self,
        round: RoundRequest<'a>,
        candidates: Vec<RouteIdx>,
    ) -> impl Future<Output = Result<(Self::Round, Eligible), Blocked>> + Send + 'a;
}

/// Sends each round's request as it is to every candidate.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsIs;

impl RoundBodies for AsIs {
    fn bodies(&self) -> Vec<Option<&ChatRequest>> {
        Vec::new()
    }

    fn take_report(&mut self) -> Option<serde_json::Value> {
        None
    }
}

impl PrepareRound for AsIs {
    type Round = AsIs;

    async fn prepare<'a>(
        &'a self,
        _round: RoundRequest<'a>,
        candidates: Vec<RouteIdx>,
    ) -> Result<(AsIs, Eligible), Blocked> {
        let eligible = Eligible {
            candidates,
            skipped: Vec::new(),
        };
        Ok((AsIs, eligible))
    }
}

/// Everything one request's failover needs besides the request.
#[derive(Debug)]
pub struct Failover<'a, X> {
    /// The policy, re-asked after each degradation step.
    pub policy: &'a PolicySnapshot,
    /// The route table of the same configuration load.
    pub routes: &'a RouteTable<X>,
    /// The gateway-wide retry budget.
    pub budget: &'a RetryBudget,
    /// The request's headers (signals are re-extracted from them).
    pub headers: &'a HeaderMap,
    /// Session → route memory (stickiness).
    pub affinity: &'a AffinityMemory,
    /// Seeds jitter and slow-start sampling.
    pub seed: u64,
    /// When the request arrived (the deadline counts from here).
    pub started: Instant,
    /// The tenant, for fair queuing at a gate.
    pub tenant: &'a str,
    /// The tenant's fair-share weight.
    pub tenant_weight: f64,
    /// For logs.
    pub request_id: &'a str,
    /// Each round stays on its first route (fail-closed, `degrade: never`,
    /// no fallback step).
    pub fail_closed: bool,
    /// Whether the rule's declared steps may run: false for fail-closed
    /// flows and `degrade: never`.
    pub steps_allowed: bool,
    /// Request id and trace context sent with every provider call.
    pub call: CallContext<'a>,
    /// The operator actions in force (a snapshot), when there are any:
    /// escalation triggers, tools switches and pins (`failover/operator.rs`).
    pub operator: Option<&'a signalbox_state::ActionSet>,
}

/// Everything dispatch reports about a request's failover.
#[derive(Debug)]
pub struct Outcome<R> {
    /// Served, or how it ended.
    pub result: Result<Served, Ended>,
    /// Every attempt of every round, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Every route skipped (health, gates, posture, privacy), in order.
    pub skipped: Vec<SkipRecord>,
    /// Degradation steps taken, in order.
    pub degraded: Vec<DegradeStep>,
    /// The request was handled at most once.
    pub at_most_once: bool,
    /// Routes of the last round the policy excluded, with why (on failure).
    pub excluded: Vec<String>,
    /// What the privacy boundaries found and did (counts only), if any applied.
    pub privacy_report: Option<serde_json::Value>,
    /// The serving round's bodies (or what [`Outcome::map_round`] kept of
    /// them), when served.
    pub round: Option<R>,
    /// Ids of the operator actions that changed this request's routing
    /// (route skips name theirs in `skipped` too).
    pub actions: Vec<String>,
    /// Warned routes moved after the others, with the order tried: the
    /// first round that moved one (`None` for almost every request).
    pub reordered: Option<Box<signalbox_core::ReorderRecord>>,
}

impl<R> Outcome<R> {
    /// The same outcome, keeping of the serving round only what `keep` takes
    /// from it for the answer it served (e.g. the table that restores it).
    pub fn map_round<T>(self, keep: impl FnOnce(R, &Served) -> Option<T>) -> Outcome<T> {
        let round = match (&self.result, self.round) {
            (Ok(served), Some(round)) => keep(round, served),
            _ => None,
        };
        Outcome {
            result: self.result,
            attempts: self.attempts,
            skipped: self.skipped,
            degraded: self.degraded,
            at_most_once: self.at_most_once,
            excluded: self.excluded,
            privacy_report: self.privacy_report,
            round,
            actions: self.actions,
            reordered: self.reordered,
        }
    }
}

/// The walk's state across rounds.
struct Walk {
    at_most_once: bool,
    may_degrade: bool,
    /// The declared steps not yet taken.
    steps: std::vec::IntoIter<DegradeStep>,
    /// Routes already tried (never tried again).
    tried: Vec<RouteIdx>,
    /// The policy's first choice sets the posture floor for every fallback.
    floor: Option<Floor>,
    first_refusal: Option<PolicyError>,
    last_failure: Option<Failure>,
}

/// How one round ended.
enum RoundEnd {
    /// The request is answered (served, or ended for good).
    Done,
    /// No further rounds.
    Stop,
    /// The next degradation step may find a route.
    Degrade,
}

/// A request as the policy decided it: what failover takes, and rewrites
/// in place as degradation steps change the request or its signals.
///
/// Failover borrows it (`&mut`) rather than taking its parts by value:
/// each level of nested futures that took them by value kept its own copy
/// (an `async fn`'s arguments stay in its future beside the locals they are
/// moved into), about 0.5 KB a level held for the whole upstream wait.
#[derive(Debug)]
pub struct Decided {
    /// The request as the current round sends it.
    pub req: ChatRequest,
    /// Its signals (a degradation step may change them).
    pub signals: Signals,
    /// The current round's decision; the first one's refusal, if any, is
    /// only final when no degradation step finds a route.
    pub decision: Decision,
}

/// Runs the rounds for `decided`, leaving in it the request, signals and
/// decision of the last round.
pub async fn run<X: Sync, P: PrepareRound>(
    f: &Failover<'_, X>,
    prep: &P,
    decided: &mut Decided,
) -> Outcome<P::Round> {
    let mut walk = Walk::start(f, decided);
    let mut out = Outcome::started(walk.at_most_once);
    if let Some(ops) = f.operator
        && !operator::before(f, ops, &mut out, walk.may_degrade, decided)
    {
        return out;
    }
    loop {
        let round = RoundRequest {
            req: &decided.req,
            signals: &decided.signals,
            decision: &decided.decision,
        };
        match walk.round(f, prep, round, &mut out).await {
            RoundEnd::Done => return out,
            RoundEnd::Stop => break,
            RoundEnd::Degrade => {}
        }
        let Some((step, next)) = next_step(f, &mut walk.steps, &decided.req, &decided.signals)
        else {
            break;
        };
        out.degraded.push(step);
        if step == DegradeStep::HumanEscalation {
            out.result = Err(walk.escalated(&out.attempts));
            return out;
        }
        (decided.req, decided.signals) = next;
        decided.decision =
            signalbox_policy::decide(f.policy, &decided.signals, f.headers, f.routes);
    }
    walk.finish(f, out, &decided.decision, &decided.signals)
}

impl<R> Outcome<R> {
    /// Nothing tried yet; the result a refusal until a round says otherwise.
    fn started(at_most_once: bool) -> Self {
        Self {
            result: Err(Ended::Refused(PolicyError::Forbidden(String::new()))),
            attempts: Vec::new(),
            skipped: Vec::new(),
            degraded: Vec::new(),
            at_most_once,
            excluded: Vec::new(),
            privacy_report: None,
            round: None,
            actions: Vec::new(),
            reordered: None,
        }
    }
}

impl Walk {
    /// The walk before the first round: the declared steps (fallback is
    /// the rounds themselves), the posture floor of the first choice.
    fn start<X>(f: &Failover<'_, X>, d: &Decided) -> Self {
        let steps: Vec<DegradeStep> = d
            .decision
            .degrade
            .iter()
            .copied()
            .filter(|s| *s != DegradeStep::FallbackRoute)
            .collect();
        Self {
            at_most_once: d.signals.irreversible || d.decision.at_most_once(f.policy),
            may_degrade: f.steps_allowed && d.decision.failure_mode == FailureMode::Degrade,
            steps: steps.into_iter(),
            tried: Vec::new(),
            floor: Floor::of(f, &d.decision.candidates),
            first_refusal: d.decision.refusal.clone(),
            last_failure: None,
        }
    }

    /// One round: the decision's untried candidates above the posture
    /// floor, their bodies, then the attempt loop.
    async fn round<X: Sync, P: PrepareRound>(
        &mut self,
        f: &Failover<'_, X>,
        prep: &P,
        round: RoundRequest<'_>,
        out: &mut Outcome<P::Round>,
    ) -> RoundEnd {
        let untried: Vec<RouteIdx> = round
            .decision
            .candidates
            .iter()
            .copied()
            .filter(|c| !self.tried.contains(c))
            .collect();
        let Some(untried) = operator::narrow(f, round.decision, untried, out) else {
            return RoundEnd::Done;
        };
        let above_floor = match &self.floor {
            Some(floor) => floor.keep(f, untried),
            None => Eligible {
                candidates: untried,
                skipped: Vec::new(),
            },
        };
        out.skipped.extend(above_floor.skipped);
        let prepared = prep.prepare(round, above_floor.candidates).await;
        let (mut bodies, candidates) = match prepared {
            Ok((bodies, eligible)) => {
                out.skipped.extend(eligible.skipped);
                (bodies, eligible.candidates)
            }
            Err(Blocked { zone, classes }) => {
                out.result = Err(Ended::PrivacyBlocked { zone, classes });
                return RoundEnd::Done;
            }
        };
        if let Some(report) = bodies.take_report() {
            out.privacy_report = Some(report);
        }
        if candidates.is_empty() {
            return if self.may_degrade {
                RoundEnd::Degrade
            } else {
                RoundEnd::Stop
            };
        }
        let result = {
            let per_route = bodies.bodies();
            dispatch_round(f, round, &candidates, self.at_most_once, &per_route).await
        };
        match result {
            Ok(served) => {
                out.round = Some(bodies);
                served_by(out, served);
                RoundEnd::Done
            }
            Err(failure) => self.failed(f, failure, out),
        }
    }

    /// Notes a failed round; whether a degradation step may still help.
    fn failed<X, R>(
        &mut self,
        f: &Failover<'_, X>,
        mut failure: Failure,
        out: &mut Outcome<R>,
    ) -> RoundEnd {
        self.tried.extend(
            failure
                .attempts
                .iter()
                .filter_map(|a| f.routes.index(a.route.as_str())),
        );
        out.attempts.append(&mut failure.attempts);
        out.skipped.append(&mut failure.skipped);
        if out.reordered.is_none() {
            out.reordered = failure.reordered.take();
        }
        let final_failure = failure.rejection.is_some()
            || failure.stop == StopReason::AtMostOnce
            || failure.stop == StopReason::Deadline
            || (failure.capacity_refused && out.attempts.is_empty());
        self.last_failure = Some(failure);
        if final_failure || !self.may_degrade {
            RoundEnd::Stop
        } else {
            RoundEnd::Degrade
        }
    }

    /// The hand-over to a human, saying why.
    fn escalated(&self, attempts: &[AttemptRecord]) -> Ended {
        let reason = match &self.last_failure {
            Some(f) if !f.attempts.is_empty() || !attempts.is_empty() => {
                format!("all {} upstream attempts failed", attempts.len())
            }
            _ => "no eligible route could serve the request".to_string(),
        };
        Ended::Escalated { reason }
    }

    /// The walk ended without serving: the last failure (with every
    /// round's attempts and skips), else the policy's refusal.
    fn finish<X, R>(
        self,
        f: &Failover<'_, X>,
        mut out: Outcome<R>,
        decision: &Decision,
        signals: &Signals,
    ) -> Outcome<R> {
        // Rendered only for the failure message: why no compliant fallback existed.
        out.excluded = decision.excluded(f.policy, signals);
        out.result = Err(match self.last_failure {
            Some(mut failure) => {
                failure.attempts = out.attempts.clone();
                failure.skipped = out.skipped.clone();
                Ended::Failed(failure)
            }
            None => Ended::Refused(
                self.first_refusal
                    .or_else(|| decision.refusal.clone())
                    .unwrap_or_else(|| PolicyError::NoEligibleRoute {
                        alias: decision.alias.to_string(),
                        reasons: "every eligible route was already tried".into(),
                    }),
            ),
        });
        out
    }
}

/// Moves a served round into the outcome: a fallback is the first
/// degradation, and every round's attempts and skips live in `out`.
fn served_by<R>(out: &mut Outcome<R>, mut served: Served) {
    if served.fallback && !out.degraded.contains(&DegradeStep::FallbackRoute) {
        out.degraded.insert(0, DegradeStep::FallbackRoute);
    }
    out.attempts.append(&mut served.attempts);
    out.skipped.append(&mut served.skipped);
    if out.reordered.is_none() {
        out.reordered = served.reordered.take();
    }
    out.result = Ok(served);
}

/// One attempt loop over the round's candidates (only the first when the
/// flow is fail-closed); a session that had to leave its route stays on
/// the one that served it.
async fn dispatch_round<X: Sync>(
    f: &Failover<'_, X>,
    round: RoundRequest<'_>,
    candidates: &[RouteIdx],
    at_most_once: bool,
    bodies: &[Option<&ChatRequest>],
) -> Result<Served, Failure> {
    let cfg = &f.policy.config();
    let retry = &cfg.resilience.retry;
    let candidates = if f.fail_closed {
        candidates.get(..1).unwrap_or_default()
    } else {
        candidates
    };
    let session = round.signals.session.as_deref();
    let remembered = session
        .and_then(|s| f.affinity.get(s))
        .and_then(|id| f.routes.index(&id));
    let plan = Plan {
        routes: f.routes,
        candidates,
        max_attempts: round.decision.max_attempts.max(1) * retry.attempts_per_route as usize,
        at_most_once,
        retry,
        budget: f.budget,
        seed: f.seed,
        started: f.started,
        sticky: session.map(|s| StickyInput {
            session: s,
            remembered,
            group: round.decision.leading_ties(),
            intent: &round.signals.intent,
        }),
        tenant: f.tenant,
        intent: &round.signals.intent,
        tenant_weight: f.tenant_weight,
        queue_timeout: cfg.resilience.queue_timeout,
        bodies,
    };
    let served = dispatch(plan, round.req, &f.call).await?;
    if let Some(s) = session
        && served.sticky.is_some_and(|sticky| sticky != served.route)
        && let Some(route) = f.routes.get(served.route)
    {
        // The session had to leave its rendezvous route: it stays on this one.
        f.affinity.set(s, route.id.as_str());
    }
    Ok(served)
}

/// The ranking reads each route's recent latency from its health.
impl<X> Observations for RouteTable<X> {
    fn latency(&self, route: RouteIdx) -> Option<std::time::Duration> {
        self.get(route).and_then(|r| r.health.latency())
    }
}
