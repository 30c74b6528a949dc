//! Owns shadow traffic (`shadow:` in the configuration): a sampled share of
//! the live requests a rule scopes (tenants, intents, aliases) is sent
//! again, after the served answer is decided, to the rule's shadow route;
//! the shadow answer is never returned, only scored against the served one
//! (`judge.rs`: refusal agreement, tool-call agreement, structured-output
//! validity; latency and cost deltas) and reported per shadow route
//! (`GET /admin/shadow`, `signalbox shadow report`, `signalbox_shadow_*`);
//! disagreements and agreement falling below the rule's bar are events in
//! the audit trail, rate limited (`shadow/events.rs`).
//!
//! What is never mirrored, each counted with its reason: requests with an
//! `Idempotency-Key`, irreversible ones (the caller's header or an
//! at-most-once rule), streams (their answer is not whole at the decision
//! point), requests the shadow route fails a hard constraint for (the
//! policy's own check, [`Decision::admits`]), requests the route's privacy
//! boundary blocks (applied as for a served request), requests past the
//! rule's hourly budget (shared across replicas: `shadow/budget.rs`,
//! checked on the shadow task, never on the request path), and any that
//! find every shadow slot busy (`max-concurrency`: dropped, never queued). The shadow call runs on its
//! own task, so the caller's answer never waits for it. A runtime without
//! shadow rules pays one length check per request.

mod board;
mod budget;
mod events;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use serde_json::{Value, json};
use signalbox_config::{Config, ShadowRule};
use signalbox_core::headers::IDEMPOTENCY_KEY;
use signalbox_core::metric_names as m;
use signalbox_core::{ChatRequest, RouteIdx, WireFormat};
use signalbox_dispatch::fnv1a;
use signalbox_eval::score::refusal::Detector;
use signalbox_policy::{Decision, Signals};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Duration;

use crate::AppState;
use crate::ctx::RequestCtx;
use crate::judge::Asked;
use crate::privacy::{Who, protect};
use crate::prompt::PromptUse;
use crate::runtime::Runtime;
use board::{Board, Budget, Compared};

/// One rule of a runtime.
#[derive(Debug)]
struct Rule {
    cfg: ShadowRule,
    route: RouteIdx,
    budget: Budget,
}

/// Shadow traffic for one runtime.
#[derive(Debug)]
pub(crate) struct Shadow {
    rules: Vec<Rule>,
    slots: Arc<Semaphore>,
    timeout: Duration,
    refusals: Detector,
    /// What the shadow routes showed (carried across reloads).
    board: Arc<Board>,
    /// Their comparisons as events (carried across reloads).
    watch: Arc<events::Watch>,
}

impl Shadow {
    /// The configuration's rules; what earlier runtimes saw is kept.
    pub fn build(config: &Config, previous: Option<&Shadow>) -> Self {
        let rules = config
            .shadow
            .rules
            .iter()
            .filter_map(|cfg| {
                let route = config.routes.iter().position(|r| r.id == cfg.route)?;
                Some(Rule {
                    cfg: cfg.clone(),
                    route: RouteIdx::new(route),
                    budget: Budget::default(),
                })
            })
            .collect();
        Self {
            rules,
            // Clamped: a larger count would make the semaphore panic.
            slots: Arc::new(Semaphore::new(
                config.shadow.max_concurrency.min(Semaphore::MAX_PERMITS),
            )),
            timeout: config.shadow.timeout,
            refusals: Detector::new(None),
            board: previous.map_or_else(Arc::default, |p| Arc::clone(&p.board)),
            watch: previous.map_or_else(Arc::default, |p| Arc::clone(&p.watch)),
        }
    }
}

/// A request chosen for mirroring, until the served answer is decided.
#[derive(Debug)]
pub(crate) struct Job {
    rule: usize,
    /// The caller's request id, sent with the shadow call too (the
    /// provider's logs tie the two together).
    request_id: HeaderValue,
    /// The gateway's own id of the served request (events name it: it is
    /// the decision record's key, and no caller chooses it).
    gateway_id: String,
    req: ChatRequest,
    who: Who,
    session: Option<String>,
    /// The registered prompt the request uses: the shadow route gets its
    /// family's variant, as a served request would.
    prompt: Option<PromptUse>,
}

/// Why a matched request is not mirrored: the metric's and report's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    IdempotencyKey,
    Irreversible,
    Stream,
    Constraints,
    PrivacyBlocked,
    Budget,
    Concurrency,
    NotJson,
    ServedByShadowRoute,
}

impl Skip {
    fn label(self) -> &'static str {
        match self {
            Self::IdempotencyKey => "idempotency_key",
            Self::Irreversible => "irreversible",
            Self::Stream => "stream",
            Self::Constraints => "constraints",
            Self::PrivacyBlocked => "privacy_blocked",
            Self::Budget => "budget",
            Self::Concurrency => "concurrency",
            Self::NotJson => "not_json",
            Self::ServedByShadowRoute => "served_by_shadow_route",
        }
    }
}

/// Whether the request with this id (the gateway's own: a caller may
/// repeat its `x-request-id`) falls in the rule's sample, by a hash.
fn sampled(rule: &ShadowRule, request_id: &str) -> bool {
    if rule.sample >= 1.0 {
        return true;
    }
    let h = fnv1a(request_id.as_bytes()) ^ fnv1a(rule.name.as_bytes()).rotate_left(29);
    let h = (h ^ (h >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    ((h ^ (h >> 33)) as f64 / u64::MAX as f64) < rule.sample
}

fn skip(state: &AppState, sh: &Shadow, rt: &Runtime, rule: &Rule, why: Skip) {
    let route = rt.routes.get(rule.route).map_or("-", |r| r.id.as_str());
    state.telemetry.count(
        m::SHADOW_SKIPPED_TOTAL,
        &[("rule", rule.cfg.name.as_str()), ("reason", why.label())],
    );
    sh.board.skipped(route, why.label());
}

/// Chooses the request for mirroring, before failover takes it: the first
/// rule that scopes it, if it falls in the sample and may be mirrored.
pub(crate) fn pick(
    ctx: &RequestCtx,
    headers: &HeaderMap,
    req: &ChatRequest,
    signals: &Signals,
    decision: &Decision,
) -> Option<Job> {
    let rt = &ctx.runtime;
    let sh = &rt.shadow;
    if sh.rules.is_empty() {
        return None;
    }
    let (tenant, alias) = (ctx.tenant_id(), decision.alias.as_str());
    let (i, rule) = sh
        .rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.cfg.scopes(tenant, &signals.intent, alias))?;
    if !sampled(&rule.cfg, &ctx.ids.gateway) {
        return None;
    }
    let why = if headers.contains_key(IDEMPOTENCY_KEY) {
        Some(Skip::IdempotencyKey)
    } else if signals.irreversible || decision.at_most_once(&rt.policy) {
        Some(Skip::Irreversible)
    } else if signals.stream {
        Some(Skip::Stream)
    } else if !decision.admits(&rt.policy, signals, rule.route) {
        Some(Skip::Constraints)
    } else {
        None
    };
    if let Some(why) = why {
        skip(&ctx.state, sh, rt, rule, why);
        return None;
    }
    Some(Job {
        rule: i,
        request_id: ctx.ids.echo_header.clone(),
        gateway_id: ctx.ids.gateway.clone(),
        req: req.clone(),
        who: Who {
            tenant: signals.tenant,
            rule: decision.rule,
        },
        session: signals.session.clone(),
        prompt: ctx.prompt.clone(),
    })
}

/// What the served answer was, for the comparison.
struct ServedAnswer {
    body: Bytes,
    latency_ms: f64,
    cost_usd: Option<f64>,
}

/// Sends the job to its shadow route on a task of its own, once the served
/// answer (`body`, an OpenAI completion) is decided; never waits.
pub(crate) fn launch(ctx: &RequestCtx, job: Job, body: &Bytes, format: WireFormat) {
    let rt = &ctx.runtime;
    let sh = &rt.shadow;
    let Some(rule) = sh.rules.get(job.rule) else {
        return;
    };
    let why = if format != WireFormat::OpenAi {
        Some(Skip::NotJson)
    } else if ctx.served_route() == Some(rule.route) {
        Some(Skip::ServedByShadowRoute)
    } else {
        None
    };
    let permit = match why {
        Some(why) => Err(why),
        None => Arc::clone(&sh.slots)
            .try_acquire_owned()
            .map_err(|_| Skip::Concurrency),
    };
    let permit = match permit {
        Ok(p) => p,
        Err(why) => {
            skip(&ctx.state, sh, rt, rule, why);
            return;
        }
    };
    let served_price = ctx
        .served_route()
        .and_then(|r| rt.route_config(r))
        .map(|c| c.price);
    let served = ServedAnswer {
        body: body.clone(),
        latency_ms: ctx.started.elapsed().as_secs_f64() * 1e3,
        cost_usd: served_price
            .zip(ctx.usage)
            .map(|(p, u)| p.cost_usd(u.prompt_tokens, u.completion_tokens)),
    };
    let tenant_id = ctx.tenant_id().to_owned();
    tokio::spawn(mirror(
        Arc::clone(&ctx.state),
        Arc::clone(rt),
        job,
        tenant_id,
        served,
        permit,
    ));
}

/// The shadow call: the privacy boundary of the shadow route's zone, the
/// call, and the comparison.
async fn mirror(
    state: Arc<AppState>,
    rt: Arc<Runtime>,
    job: Job,
    tenant_id: String,
    served: ServedAnswer,
    _permit: OwnedSemaphorePermit,
) {
    let sh = &rt.shadow;
    let (Some(rule), Some(route)) = (
        sh.rules.get(job.rule),
        sh.rules.get(job.rule).and_then(|r| rt.routes.get(r.route)),
    ) else {
        return;
    };
    let id = route.id.as_str();
    if !budget::take(&state, rule).await {
        skip(&state, sh, &rt, rule, Skip::Budget);
        return;
    }
    let targets = [rule.route];
    let family = route.upstream.kind().family();
    let variant = job
        .prompt
        .as_ref()
        .and_then(|p| p.for_family(&rt.config, family, &job.req));
    let asked = variant.as_ref().unwrap_or(&job.req);
    let protected = if rt.privacy.applies(job.who, &targets) {
        let session = job.session.as_deref();
        let p = protect(
            &rt.privacy,
            state.vault.as_ref(),
            job.who,
            &tenant_id,
            session,
            asked,
            &targets,
        )
        .await;
        if p.blocks(rule.route, &rt.privacy) {
            skip(&state, sh, &rt, rule, Skip::PrivacyBlocked);
            return;
        }
        let table = p.table_for(rule.route, &rt.privacy);
        p.for_route(rule.route, &rt.privacy)
            .cloned()
            .map(|req| (req, table))
    } else {
        None
    };
    let req = protected.as_ref().map_or(asked, |(req, _)| req);
    sh.board.mirrored(id);
    let price = rt.route_config(rule.route).map(|c| c.price);
    let answer = crate::quality::call(route, req, sh.timeout, price, &job.request_id).await;
    let Some(mut answer) = answer else {
        sh.board.failed(id);
        let labels = [("route", id), ("result", "error")];
        state.telemetry.count(m::SHADOW_REQUESTS_TOTAL, &labels);
        return;
    };
    if let Some(c) = answer.cost_usd {
        budget::spend(&state, rule, c).await;
    }
    // Compared as the caller would have read it: tokens restored.
    if let Some((_, Some(table))) = &protected {
        restore(&mut answer, table);
    }
    let verdicts = compare(&state, sh, id, &job.req, &served, &answer);
    let bar = rule.cfg.min_agreement;
    events::compared(&state, &sh.watch, id, &job.gateway_id, &verdicts, bar);
}

/// Restores privacy tokens in the answer's text and tool arguments.
fn restore(answer: &mut signalbox_eval::Answer, table: &signalbox_privacy::TokenTable) {
    use signalbox_privacy::{Escape, RestoreStats, restore_text};
    let mut stats = RestoreStats::default();
    let mut put = |text: &mut String, escape: Escape| {
        if let std::borrow::Cow::Owned(restored) = restore_text(text, table, escape, &mut stats) {
            *text = restored;
        }
    };
    put(&mut answer.text, Escape::None);
    // Arguments are JSON text: a restored value is escaped inside it.
    for call in &mut answer.tool_calls {
        put(&mut call.arguments, Escape::JsonString);
    }
}

/// Scores the shadow answer against the served one and keeps the result;
/// the verdicts.
fn compare(
    state: &AppState,
    sh: &Shadow,
    route: &str,
    req: &ChatRequest,
    served: &ServedAnswer,
    shadow: &signalbox_eval::Answer,
) -> Vec<signalbox_eval::Verdict> {
    let served_answer = serde_json::from_slice::<Value>(&served.body)
        .map(|v| signalbox_eval::Answer::from_completion(&v))
        .unwrap_or_default();
    let verdicts = Asked::of(req).compare(&served_answer, shadow, &sh.refusals);
    let t = &state.telemetry;
    for v in &verdicts {
        let agreed = if v.passed { "true" } else { "false" };
        t.count(
            m::SHADOW_AGREEMENT_TOTAL,
            &[
                ("route", route),
                ("scorer", v.scorer.label()),
                ("agreed", agreed),
            ],
        );
    }
    let compared = Compared {
        verdicts: &verdicts,
        latency_delta_ms: shadow.latency_ms.map(|l| l - served.latency_ms),
        cost_delta_usd: shadow.cost_usd.zip(served.cost_usd).map(|(s, v)| s - v),
    };
    sh.board.compared(route, &compared);
    t.count(
        m::SHADOW_REQUESTS_TOTAL,
        &[("route", route), ("result", "compared")],
    );
    let (latency, cost) = sh.board.deltas(route);
    if let Some(l) = latency {
        t.set_gauge(m::SHADOW_LATENCY_DELTA_MS, &[("route", route)], l);
    }
    if let Some(c) = cost {
        t.set_gauge(m::SHADOW_COST_DELTA_USD, &[("route", route)], c);
    }
    verdicts
}

/// `GET /admin/shadow`: each rule and each shadow route's numbers.
pub(crate) fn report(rt: &Runtime) -> Value {
    let sh = &rt.shadow;
    let rules: Vec<Value> = sh
        .rules
        .iter()
        .map(|r| {
            json!({
                "name": r.cfg.name,
                "route": r.cfg.route,
                "sample": r.cfg.sample,
                "tenants": r.cfg.tenants,
                "intents": r.cfg.intents,
                "aliases": r.cfg.aliases,
                "requests_per_hour": r.cfg.requests_per_hour,
                "cost_per_hour_usd": r.cfg.cost_per_hour_usd,
            })
        })
        .collect();
    json!({
        "max_concurrency": rt.config.shadow.max_concurrency,
        "in_flight": rt.config.shadow.max_concurrency.saturating_sub(sh.slots.available_permits()),
        "rules": rules,
        "routes": sh.board.report(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(sample: f64) -> ShadowRule {
        ShadowRule {
            name: "r".into(),
            tenants: Vec::new(),
            intents: Vec::new(),
            aliases: Vec::new(),
            route: signalbox_core::RouteId::new("s"),
            sample,
            requests_per_hour: 10,
            cost_per_hour_usd: None,
            min_agreement: 0.9,
        }
    }

    #[test]
    fn the_shadow_answer_is_compared_with_its_tokens_restored() {
        let mut table = signalbox_privacy::TokenTable::new();
        let token = table.tokenise("EMAIL", "jane.doe@example.com").to_owned();
        let mut answer = signalbox_eval::Answer {
            text: format!("Written to {token}."),
            tool_calls: vec![signalbox_eval::ToolCall {
                name: "send".into(),
                arguments: format!(r#"{{"to":"{token}"}}"#),
            }],
            ..signalbox_eval::Answer::default()
        };
        restore(&mut answer, &table);
        assert_eq!(answer.text, "Written to jane.doe@example.com.");
        assert_eq!(
            answer.tool_calls[0].arguments,
            r#"{"to":"jane.doe@example.com"}"#
        );
    }

    #[test]
    fn sampling_takes_about_its_share_and_decides_alike_for_one_request() {
        let r = rule(0.1);
        let taken = (0..10_000)
            .filter(|i| sampled(&r, &format!("req-{i}")))
            .count();
        assert!((800..1200).contains(&taken), "{taken}");
        assert_eq!(sampled(&r, "req-7"), sampled(&r, "req-7"));
        assert!((0..100).all(|i| sampled(&rule(1.0), &format!("q{i}"))));
        assert!(!(0..100).any(|i| sampled(&rule(0.0), &format!("q{i}"))));
    }
}
