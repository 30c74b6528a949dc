//! The failover walk against scripted upstreams under a paused clock: each
//! degradation step, escalation, the posture floor, fail-closed flows and
//! the merging of every round's attempts, with the real policy re-asked
//! between rounds and no sockets.

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Value, json};
use signalbox_config::{DegradeStep, FailureMode, load_str};
use signalbox_core::{ChatRequest, OutcomeClass, SkipKind};
use signalbox_state::AffinityMemory;
use tokio::time::{Duration, Instant};

use super::*;
use crate::scripted::{Script, Scripted};
use crate::{Route, RouteHealth};

mod breakers;
mod operator;

const CONFIG: &str = r#"
providers:
  - { name: p, kind: openai-compatible, base-url: "http://127.0.0.1:9/v1" }
routes:
  - { id: big, provider: p, model: big-model, region: us, context-window: 8192, max-output-tokens: 1024, supports: { tools: true }, retention: zero }
  - { id: plain, provider: p, model: plain-model, region: us, context-window: 8192, max-output-tokens: 1024, retention: zero }
  - { id: small, provider: p, model: small-model, region: us, context-window: 400, max-output-tokens: 100, retention: zero }
  - { id: loose, provider: p, model: loose-model, region: us, context-window: 8192, max-output-tokens: 1024, retention: standard }
aliases:
  - { name: tools, routes: [big, plain] }
  - { name: assist, routes: [big], smaller-model: short }
  - { name: short, routes: [small] }
  - { name: human, routes: [big] }
  - { name: strict, routes: [big, loose, plain] }
  - { name: closed, routes: [big, plain] }
policy:
  rules:
    - { name: tools, when: { aliases: [tools] }, degrade: [fallback-route, tools-disabled, human-escalation] }
    - { name: assist, when: { aliases: [assist] }, degrade: [fallback-route, smaller-model, reduced-context, human-escalation] }
    - { name: short, when: { aliases: [short] }, degrade: [reduced-context] }
    - { name: human, when: { aliases: [human] }, degrade: [human-escalation] }
    - { name: closed, when: { aliases: [closed] }, failure-mode: fail-closed }
"#;

/// The configuration's routes, each on its own scripted upstream.
struct World {
    snap: PolicySnapshot,
    upstreams: HashMap<String, Arc<Scripted>>,
    routes: RouteTable,
    budget: RetryBudget,
    affinity: AffinityMemory,
    headers: HeaderMap,
}

impl World {
    fn new(scripts: &[(&str, Vec<Script>)]) -> Self {
        Self::with_config(CONFIG, scripts)
    }

    fn with_config(config: &str, scripts: &[(&str, Vec<Script>)]) -> Self {
        let config = load_str(config, "<test>", &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
        let snap = PolicySnapshot::new(Arc::new(config));
        let mut upstreams = HashMap::new();
        let mut routes = Vec::new();
        for r in &snap.config().routes {
            let script = scripts
                .iter()
                .find(|(id, _)| *id == r.id.as_str())
                .map(|(_, s)| s.clone())
                .unwrap_or_default();
            let upstream = Arc::new(Scripted::new(script));
            let route: Route = Route {
                health: Arc::new(RouteHealth::new(r.breaker)),
                ..upstream.route(r.id.as_str())
            };
            upstreams.insert(r.id.to_string(), upstream);
            routes.push(route);
        }
        let budget = RetryBudget::new(&snap.config().resilience.retry);
        Self {
            snap,
            upstreams,
            routes: RouteTable::new(routes),
            budget,
            affinity: AffinityMemory::new(Duration::from_secs(60), 16),
            headers: HeaderMap::new(),
        }
    }

    fn calls(&self, route: &str) -> usize {
        self.upstreams[route].calls().len()
    }

    /// The request and the policy's first decision on it.
    fn decide(&self, body: &Value, headers: &HeaderMap) -> (ChatRequest, Signals, Decision) {
        let req = ChatRequest::parse(body.to_string().as_bytes()).unwrap();
        let (tenant, anonymous) = signalbox_policy::authenticate(&self.snap, headers).unwrap();
        let signals =
            signalbox_policy::extract(&self.snap, tenant, anonymous, headers, &req).unwrap();
        let decision = signalbox_policy::decide(&self.snap, &signals, headers, &self.routes);
        (req, signals, decision)
    }

    /// The failover context the pipeline would build for `decision`.
    fn failover<'a>(&'a self, decision: &Decision, headers: &'a HeaderMap) -> Failover<'a, ()> {
        Failover {
            policy: &self.snap,
            routes: &self.routes,
            budget: &self.budget,
            headers,
            affinity: &self.affinity,
            seed: 1,
            started: Instant::now(),
            tenant: "t",
            tenant_weight: 1.0,
            request_id: "req",
            fail_closed: decision.failure_mode == FailureMode::FailClosed
                || !decision.degrade.contains(&DegradeStep::FallbackRoute),
            steps_allowed: decision.failure_mode != FailureMode::FailClosed,
            call: CallContext::default(),
            operator: None,
        }
    }

    /// Decides and runs `body` as the pipeline does.
    async fn run(&self, body: Value) -> Outcome<AsIs> {
        self.run_with(body, &self.headers).await
    }

    /// Decides and runs `body`, sent with `headers`.
    async fn run_with(&self, body: Value, headers: &HeaderMap) -> Outcome<AsIs> {
        let (req, signals, decision) = self.decide(&body, headers);
        run(
            &self.failover(&decision, headers),
            &AsIs,
            &mut Decided {
                req,
                signals,
                decision,
            },
        )
        .await
    }

    /// The id of the route that served `out`.
    fn served<R>(&self, out: &Outcome<R>) -> &str {
        let served = out
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("not served: {e:?}"));
        self.routes.get(served.route).unwrap().id.as_str()
    }
}

fn chat(alias: &str) -> Value {
    json!({"model": alias, "messages": [{"role": "user", "content": "hi"}]})
}

fn with_tools(alias: &str) -> Value {
    json!({
        "model": alias,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    })
}

fn long_conversation(alias: &str) -> Value {
    let long_turn = "an old turn that no longer matters ".repeat(40);
    json!({
        "model": alias,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": long_turn},
            {"role": "assistant", "content": long_turn},
            {"role": "user", "content": "and now the question"}
        ]
    })
}

fn down() -> Script {
    Script::Status {
        status: 503,
        retry_after: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_healthy_first_choice_serves_without_degrading() {
    let w = World::new(&[("big", vec![Script::Json])]);
    let out = w.run(chat("tools")).await;
    assert_eq!(w.served(&out), "big");
    assert!(out.degraded.is_empty());
    assert!(out.round.is_some());
}

#[tokio::test(start_paused = true)]
async fn map_round_keeps_what_the_caller_takes_of_the_serving_round_only() {
    let w = World::new(&[("big", vec![down()]), ("plain", vec![Script::Json])]);
    let out = w.run(chat("tools")).await;
    let degraded = out.degraded.clone();
    let out = out.map_round(|AsIs, served| Some(served.route));
    let Ok(served) = &out.result else {
        panic!("expected an answer: {:?}", out.result);
    };
    assert_eq!(out.round, Some(served.route));
    assert_eq!(out.degraded, degraded);
    assert_eq!(out.attempts.len(), 2);

    let w = World::new(&[("big", vec![down()]), ("plain", vec![Script::Json])]);
    let out = w.run(chat("closed")).await.map_round(|AsIs, _| Some(()));
    assert!(out.result.is_err());
    assert_eq!(out.round, None);
}

#[tokio::test(start_paused = true)]
async fn a_fallback_route_is_the_first_degradation() {
    let w = World::new(&[("big", vec![down()]), ("plain", vec![Script::Json])]);
    let out = w.run(chat("tools")).await;
    assert_eq!(w.served(&out), "plain");
    assert_eq!(out.degraded, [DegradeStep::FallbackRoute]);
    assert_eq!(out.attempts.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn tools_disabled_finds_a_route_that_cannot_call_tools() {
    // Only `big` supports tools: once it fails, dropping the tools lets
    // `plain` serve.
    let w = World::new(&[("big", vec![down()]), ("plain", vec![Script::Json])]);
    let out = w.run(with_tools("tools")).await;
    assert_eq!(w.served(&out), "plain");
    assert_eq!(out.degraded, [DegradeStep::ToolsDisabled]);
    assert_eq!(
        out.attempts.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [OutcomeClass::ServerError, OutcomeClass::Success],
        "every round's attempts, in order"
    );
    assert_eq!(w.calls("big"), 1, "a tried route is not tried again");
}

#[tokio::test(start_paused = true)]
async fn a_smaller_model_then_reduced_context() {
    // `assist` is only `big`; its smaller model `short` is `small`, whose
    // window is too small for the long conversation until it is trimmed.
    let w = World::new(&[("big", vec![down()]), ("small", vec![Script::Json])]);
    let out = w.run(long_conversation("assist")).await;
    assert_eq!(w.served(&out), "small");
    assert_eq!(
        out.degraded,
        [DegradeStep::SmallerModel, DegradeStep::ReducedContext]
    );
}

#[tokio::test(start_paused = true)]
async fn reduced_context_alone_finds_the_route_when_nothing_failed() {
    let w = World::new(&[("small", vec![Script::Json])]);
    let out = w.run(long_conversation("short")).await;
    assert_eq!(w.served(&out), "small");
    assert_eq!(out.degraded, [DegradeStep::ReducedContext]);
    assert_eq!(out.attempts.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn escalation_is_the_last_resort() {
    let w = World::new(&[("big", vec![down()])]);
    let out = w.run(chat("human")).await;
    let Err(Ended::Escalated { reason }) = &out.result else {
        panic!("expected escalation: {:?}", out.result);
    };
    assert_eq!(reason, "all 1 upstream attempts failed");
    assert_eq!(out.degraded, [DegradeStep::HumanEscalation]);

    // Tools disabled did not help either: then a human.
    let w = World::new(&[("big", vec![down()]), ("plain", vec![down()])]);
    let out = w.run(with_tools("tools")).await;
    assert!(matches!(out.result, Err(Ended::Escalated { .. })));
    assert_eq!(
        out.degraded,
        [DegradeStep::ToolsDisabled, DegradeStep::HumanEscalation]
    );
    assert_eq!(out.attempts.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn no_fallback_is_weaker_than_the_first_choice() {
    let w = World::new(&[
        ("big", vec![down()]),
        ("loose", vec![Script::Json]),
        ("plain", vec![Script::Json]),
    ]);
    let out = w.run(chat("strict")).await;
    assert_eq!(w.served(&out), "plain");
    assert_eq!(w.calls("loose"), 0);
    let skip = out.skipped.iter().find(|s| s.route == "loose").unwrap();
    assert_eq!(skip.kind, SkipKind::WeakerPosture);
    assert!(
        skip.reason.contains("than the first choice big"),
        "{}",
        skip.reason
    );
}

#[tokio::test(start_paused = true)]
async fn a_fail_closed_flow_stays_on_its_first_route() {
    let w = World::new(&[("big", vec![down()]), ("plain", vec![Script::Json])]);
    let out = w.run(chat("closed")).await;
    let Err(Ended::Failed(failure)) = &out.result else {
        panic!("expected a failure: {:?}", out.result);
    };
    assert_eq!(failure.attempts.len(), 1);
    assert_eq!(w.calls("plain"), 0);
    assert!(out.degraded.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_rejection_ends_the_walk_without_degrading() {
    let w = World::new(&[(
        "big",
        vec![Script::Status {
            status: 400,
            retry_after: None,
        }],
    )]);
    let out = w.run(with_tools("tools")).await;
    let Err(Ended::Failed(failure)) = &out.result else {
        panic!("expected a failure: {:?}", out.result);
    };
    assert!(failure.rejection.is_some());
    assert!(out.degraded.is_empty());
    assert_eq!(w.calls("plain"), 0);
}

/// Blocks every candidate, as a privacy boundary would.
struct BlockAll;

impl PrepareRound for BlockAll {
    type Round = AsIs;

    async fn prepare<'a>(
        &'a self,
        _round: RoundRequest<'a>,
        _candidates: Vec<RouteIdx>,
    ) -> Result<(AsIs, Eligible), Blocked> {
        Err(Blocked {
            zone: "external".into(),
            classes: vec!["email".into()],
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_blocked_round_ends_the_request_and_sends_nothing() {
    let w = World::new(&[("big", vec![Script::Json])]);
    let (req, signals, decision) = w.decide(&chat("tools"), &w.headers);
    let f = w.failover(&decision, &w.headers);
    let mut decided = Decided {
        req,
        signals,
        decision,
    };
    let out = run(&f, &BlockAll, &mut decided).await;
    assert!(
        matches!(out.result, Err(Ended::PrivacyBlocked { ref zone, .. }) if zone == "external")
    );
    assert_eq!(w.calls("big"), 0);
    assert!(out.degraded.is_empty());
}
