//! Owns canary rollouts (`canary:` in the configuration): a route — or a
//! new model version behind its own route, or a version of a registered
//! prompt — takes a growing share of one alias's requests in steps
//! (1 % → 5 % → 25 % → 100 % by default). A request is put in one arm by a
//! stable hash of its session key (`x-signalbox-session`, the key
//! stickiness uses; a request without one is hashed by the gateway's request id),
//! so one session stays in one arm as the share grows. A route canary
//! applies to requests whose decision ranks both routes: the other arm's
//! route is left out of the candidates with a `canary` skip. A prompt
//! canary applies to requests that use the prompt without naming a
//! version: the arm's version is rendered. Either way the record's
//! `canary` names the arm and why (`signalbox explain`). What each arm
//! showed (errors, latency, cost, validity of its answers) feeds the
//! canary's state machine (`canary/state.rs`), and so do, for a prompt
//! canary, the scheduled quality runs of its versions (`canary/evals.rs`);
//! a background task
//! evaluates it every second: a regression rolls back at once, a clean
//! window promotes. Every step is an event (kept with the canary, counted,
//! logged, and written to the audit trail of the decision log). The
//! rollout's step is shared across replicas through the `state` backend
//! (`canary/shared.rs`), and so is what its steps are judged on: each
//! replica counts its own traffic in memory and a background task adds it
//! to the step's shared counters once a second (`canary/counts.rs`), so a
//! step is promoted or rolled back on every replica's traffic.

mod counts;
mod evals;
mod report;
mod shared;
mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::Mutex;
use serde_json::Value;
use signalbox_config::{CanaryConfig, CanarySubject, Config};
use signalbox_core::metric_names as m;
use signalbox_core::{ChatRequest, RouteIdx, SkipKind, SkipRecord};
use signalbox_dispatch::{Served, ServedBody, fnv1a};
use signalbox_policy::Decision;
use tokio::task::JoinHandle;
use tokio::time::Duration;

use crate::AppState;
use crate::ctx::RequestCtx;
use crate::judge::Asked;
use crate::runtime::Runtime;

pub(crate) use evals::Floor;
pub(crate) use report::report;
pub(crate) use state::{Arm, Sample};
use state::{Event, State};

/// How often the rollouts are evaluated.
const TICK: Duration = Duration::from_secs(1);

/// How far apart two rates may be and still count as equal when a drop is
/// compared with its threshold: rates are ratios of counts, and 0.8 − 0.7
/// is 0.10000000000000009 in floating point.
const RATE_TOLERANCE: f64 = 1e-9;

/// Buckets of the session hash: a share is in basis points.
const BUCKETS: u64 = 10_000;

/// One canary: its configuration, its share (read lock-free by requests)
/// and its state machine.
#[derive(Debug)]
pub(crate) struct Canary {
    cfg: CanaryConfig,
    /// The rollout's key in the shared store: its name and a fingerprint
    /// of its definition (a changed definition is a rollout of its own).
    key: String,
    share_bp: AtomicU32,
    state: Mutex<State>,
}

impl Canary {
    fn new(cfg: CanaryConfig) -> Self {
        let state = State::new(&cfg);
        Self {
            key: format!("{}:{:016x}", cfg.name, fnv1a(format!("{cfg:?}").as_bytes())),
            share_bp: AtomicU32::new(state.share_bp(&cfg)),
            state: Mutex::new(state),
            cfg,
        }
    }

    /// Makes `s`'s share the one requests read.
    fn publish_share(&self, s: &State) {
        self.share_bp
            .store(s.share_bp(&self.cfg), Ordering::Relaxed);
    }

    /// Whether requests are still being measured (not completed or rolled
    /// back).
    fn measuring(&self) -> bool {
        !matches!(self.share_bp.load(Ordering::Relaxed), 0 | 10_000)
    }

    /// The arm of the request with session key `key`, and why, in words.
    fn arm(&self, key: &str) -> (Arm, String) {
        let share = self.share_bp.load(Ordering::Relaxed);
        let b = bucket(&self.cfg.name, key);
        let arm = if b < share {
            Arm::Canary
        } else {
            Arm::Baseline
        };
        let why = format!(
            "{}: {} arm (session bucket {b} {} {share} of {BUCKETS}: {}% to {})",
            self.cfg.name,
            arm.label(),
            if arm == Arm::Canary { "<" } else { "≥" },
            f64::from(share) / 100.0,
            self.cfg.subject.arms().1,
        );
        (arm, why)
    }
}

/// What a canary's arms are in one runtime.
#[derive(Debug, Clone, Copy)]
enum Arms {
    /// Route indices.
    Route {
        baseline: RouteIdx,
        canary: RouteIdx,
    },
    /// The prompt's index and its versions' indices.
    Prompt {
        prompt: usize,
        baseline: usize,
        canary: usize,
    },
}

/// A canary with its arms' indices in one runtime.
#[derive(Debug)]
struct Entry {
    canary: Arc<Canary>,
    arms: Arms,
}

/// Every canary of one runtime.
#[derive(Debug, Default)]
pub(crate) struct Canaries(Vec<Entry>);

impl Canaries {
    /// Whether the runtime has no canary (the request path's one check).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the canary `name` is rolling (neither completed nor
    /// rolled back).
    pub fn rolling(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|e| e.canary.cfg.name == name && e.canary.measuring())
    }

    /// The configuration's canaries; one whose definition is unchanged
    /// since `previous` keeps its state (a reload does not restart it).
    pub fn build(config: &Config, previous: Option<&Canaries>) -> Self {
        let entries = config
            .canaries
            .iter()
            .filter_map(|cfg| {
                let kept = previous
                    .into_iter()
                    .flat_map(|p| &p.0)
                    .find(|e| e.canary.cfg == *cfg)
                    .map(|e| Arc::clone(&e.canary));
                Some(Entry {
                    canary: kept.unwrap_or_else(|| Arc::new(Canary::new(cfg.clone()))),
                    arms: arms(config, &cfg.subject)?,
                })
            })
            .collect();
        Self(entries)
    }
}

fn arms(config: &Config, subject: &CanarySubject) -> Option<Arms> {
    match subject {
        CanarySubject::Route { baseline, canary } => {
            let index = |id| config.routes.iter().position(|r| &r.id == id);
            Some(Arms::Route {
                baseline: RouteIdx::new(index(baseline)?),
                canary: RouteIdx::new(index(canary)?),
            })
        }
        CanarySubject::Prompt {
            id,
            baseline,
            canary,
        } => {
            let prompt = config.prompts.iter().position(|p| &p.id == id)?;
            let p = config.prompts.get(prompt)?;
            let version = |name| p.versions.iter().position(|v| &v.version == name);
            Some(Arms::Prompt {
                prompt,
                baseline: version(baseline)?,
                canary: version(canary)?,
            })
        }
    }
}

/// What a canary did with one request: its arm, and what to judge the
/// arm's answer by.
#[derive(Debug)]
pub(crate) struct Assigned {
    canary: Arc<Canary>,
    arm: Arm,
    /// A route canary's arm route (a prompt canary's arm is served by any).
    route: Option<RouteIdx>,
    /// A route canary's other route, left out, and why.
    skip: Option<SkipRecord>,
    /// The arm and why, for the record.
    why: String,
    /// What the answer is judged against (read only while measuring).
    asked: Asked,
}

/// The request's session bucket for the canary `name`, in `0..10_000`.
fn bucket(name: &str, key: &str) -> u32 {
    let h = fnv1a(key.as_bytes()) ^ fnv1a(name.as_bytes()).rotate_left(17);
    // A final mix so that nearby keys spread over the buckets.
    let h = (h ^ (h >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    ((h ^ (h >> 33)) % BUCKETS) as u32
}

fn assigned(
    state: &AppState,
    canary: &Arc<Canary>,
    (arm, why): (Arm, String),
    req: &ChatRequest,
) -> Assigned {
    state.telemetry.count(
        m::CANARY_REQUESTS_TOTAL,
        &[("canary", canary.cfg.name.as_str()), ("arm", arm.label())],
    );
    Assigned {
        canary: Arc::clone(canary),
        arm,
        route: None,
        skip: None,
        why,
        asked: if canary.measuring() {
            Asked::of(req)
        } else {
            Asked::default()
        },
    }
}

/// The version of registered prompt `prompt` a request of `alias` that
/// named no version gets from a prompt canary, with its arm. A runtime
/// without canaries pays one length check.
pub(crate) fn prompt_version(
    state: &AppState,
    rt: &Runtime,
    key: &str,
    req: &ChatRequest,
    prompt: usize,
) -> Option<(usize, Assigned)> {
    if rt.canaries.0.is_empty() {
        return None;
    }
    rt.canaries.0.iter().find_map(|e| match e.arms {
        Arms::Prompt {
            prompt: p,
            baseline,
            canary,
        } if p == prompt && e.canary.cfg.alias == req.model() => {
            let (arm, why) = e.canary.arm(key);
            let version = if arm == Arm::Canary { canary } else { baseline };
            Some((version, assigned(state, &e.canary, (arm, why), req)))
        }
        _ => None,
    })
}

/// Puts the request in an arm of the first route canary of its alias whose
/// routes it ranks both, and leaves the other arm's route out of its
/// candidates. A runtime without canaries pays one length check.
pub(crate) fn assign(
    state: &AppState,
    rt: &Runtime,
    key: &str,
    req: &ChatRequest,
    decision: &mut Decision,
) -> Option<Assigned> {
    if rt.canaries.0.is_empty() {
        return None;
    }
    let (e, baseline, canary) = rt.canaries.0.iter().find_map(|e| match e.arms {
        Arms::Route { baseline, canary }
            if e.canary.cfg.alias == decision.alias.as_str()
                && decision.candidates.contains(&baseline)
                && decision.candidates.contains(&canary) =>
        {
            Some((e, baseline, canary))
        }
        _ => None,
    })?;
    let (arm, why) = e.canary.arm(key);
    let (kept, left) = match arm {
        Arm::Canary => (canary, baseline),
        Arm::Baseline => (baseline, canary),
    };
    decision.candidates.retain(|&c| c != left);
    let left_id = rt.routes.get(left).map_or("-", |r| r.id.as_str());
    let skip = SkipRecord::new(left_id, SkipKind::Canary, format!("canary {why}"));
    let mut a = assigned(state, &e.canary, (arm, why), req);
    a.route = Some(kept);
    a.skip = Some(skip);
    Some(a)
}

/// Once failover has settled: the request's record names its arm (a route
/// canary's skip goes first among its skips), and what the arm showed is
/// counted.
pub(crate) fn settled(ctx: &mut RequestCtx, assigned: Assigned, served: Option<&Served>) {
    // A request the provider refused as malformed says nothing about the
    // arm: counting it would let a caller who picks session keys in the
    // canary arm roll the canary back, for every replica, with bad requests.
    let callers_fault = served.is_none()
        && ctx
            .attempts
            .last()
            .is_some_and(|a| a.outcome == signalbox_core::OutcomeClass::RequestRejected);
    if !callers_fault {
        observe(&ctx.runtime, &assigned, served, ctx.started.elapsed());
    }
    if let Some(skip) = assigned.skip {
        ctx.skipped.insert(0, skip);
    }
    ctx.canary = Some(assigned.why);
}

/// Counts what the arm showed for one request: an error unless it was
/// served by the arm's route (a route canary) or by the route the policy
/// meant, not a fallback (a prompt canary: failover hides a version the
/// model cannot cope with from the caller, not from the canary); its
/// latency, cost and answer validity when it was.
fn observe(rt: &Runtime, assigned: &Assigned, served: Option<&Served>, latency: Duration) {
    if !assigned.canary.measuring() {
        return;
    }
    let sample = match served {
        Some(s) if assigned.route.map_or(!s.fallback, |r| r == s.route) => {
            let price = rt.route_config(s.route).map(|c| c.price);
            let (cost_usd, valid) = match &s.body {
                ServedBody::Json(json) => (
                    price
                        .zip(json.usage)
                        .map(|(p, u)| p.cost_usd(u.prompt_tokens, u.completion_tokens)),
                    judge_body(&assigned.asked, &json.body),
                ),
                ServedBody::Stream(_) => (None, None),
            };
            Sample {
                error: false,
                latency_ms: Some(latency.as_secs_f64() * 1e3),
                cost_usd,
                valid,
            }
        }
        _ => Sample {
            error: true,
            ..Sample::default()
        },
    };
    assigned.canary.state.lock().record(assigned.arm, sample);
}

/// Judges a served JSON answer (parsed only when there is something to
/// judge it against).
fn judge_body(asked: &Asked, body: &[u8]) -> Option<bool> {
    if asked.is_empty() {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    asked.validity(&signalbox_eval::Answer::from_completion(&v))
}

/// Starts the evaluation loop; it follows configuration reloads.
pub(crate) fn spawn(state: &Arc<AppState>) -> JoinHandle<()> {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let rt = state.runtime.load_full();
            for e in &rt.canaries.0 {
                shared::tick(&state, &rt, e).await;
                let share = f64::from(e.canary.share_bp.load(Ordering::Relaxed)) / 100.0;
                let labels = [("canary", e.canary.cfg.name.as_str())];
                state
                    .telemetry
                    .set_gauge(m::CANARY_SHARE_PERCENT, &labels, share);
            }
        }
    })
}

/// Counts, logs and audits one step.
fn tell(state: &AppState, cfg: &CanaryConfig, event: &Event) {
    let name = cfg.name.as_str();
    let kind = event.kind.label();
    state
        .telemetry
        .count(m::CANARY_EVENTS_TOTAL, &[("canary", name), ("event", kind)]);
    let detail = format!(
        "canary {name} {kind}: {}% → {}% of {} to {}; {}",
        f64::from(event.from_bp) / 100.0,
        f64::from(event.to_bp) / 100.0,
        cfg.alias,
        cfg.subject.arms().1,
        event.evidence
    );
    if event.kind == state::EventKind::RolledBack {
        tracing::warn!(canary = name, "{detail}");
    } else {
        tracing::info!(canary = name, "{detail}");
    }
    crate::record::system_event(
        state,
        "signalbox-canary",
        format!("/canary/{name}"),
        kind,
        detail,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(steps: &str) -> Config {
        let yaml = format!(
            "providers: [{{ name: p, kind: openai-compatible, base-url: 'http://127.0.0.1:9/v1' }}]
routes:
  - {{ id: a, provider: p, model: m, region: us }}
  - {{ id: b, provider: p, model: m, region: us }}
aliases: [{{ name: chat, routes: [a, b] }}]
canary: [{{ name: c, alias: chat, baseline: a, canary: b, steps: {steps} }}]
"
        );
        signalbox_config::load_str(&yaml, "t", &std::collections::HashMap::new()).unwrap()
    }

    #[tokio::test]
    async fn a_reload_keeps_an_unchanged_canary_and_restarts_a_changed_one() {
        let first = Canaries::build(&config("[10, 100]"), None);
        let same = Canaries::build(&config("[10, 100]"), Some(&first));
        assert!(Arc::ptr_eq(&first.0[0].canary, &same.0[0].canary));
        let changed = Canaries::build(&config("[20, 100]"), Some(&same));
        assert!(!Arc::ptr_eq(&same.0[0].canary, &changed.0[0].canary));
        assert_eq!(changed.0[0].canary.share_bp.load(Ordering::Relaxed), 2000);
    }

    #[test]
    fn a_session_keeps_its_bucket_and_buckets_spread() {
        assert_eq!(bucket("m2", "session-1"), bucket("m2", "session-1"));
        let below = (0..10_000)
            .filter(|i| bucket("m2", &format!("s{i}")) < 500)
            .count();
        // 5 % of 10 000 sessions, give or take.
        assert!((400..600).contains(&below), "{below}");
        // Another canary splits the same sessions independently.
        let same = (0..1000)
            .filter(|i| {
                let k = format!("s{i}");
                (bucket("a", &k) < 5000) == (bucket("b", &k) < 5000)
            })
            .count();
        assert!((400..600).contains(&same), "{same}");
    }
}
