//! Operator actions in the failover walk, under a paused clock: a drain
//! (skipped with the action's id, back by itself when its TTL ends), a pin
//! (narrows the alias; refused when the policy excludes the route), tools
//! disabled (the `tools-disabled` step, or fail closed), and an escalation
//! trigger (the escalation path).

use std::time::Duration;

use http::HeaderMap;
use signalbox_config::DegradeStep;
use signalbox_core::SkipKind;
use signalbox_core::operator::{Action, Actor, OperatorAction, Role, Target};
use signalbox_state::{ActionSet, ActionStore, InMemoryActions, unix_ms};

use super::{AsIs, Decided, Ended, Outcome, World, chat, down, run, with_tools};
use crate::scripted::Script;

fn op(id: &str, action: Action, ttl: Option<Duration>) -> OperatorAction {
    let now = unix_ms();
    OperatorAction {
        id: id.into(),
        action,
        who: Actor {
            name: "oncall".into(),
            role: Role::Operator,
        },
        created_ms: now,
        expires_ms: ttl.map(|t| now + t.as_millis() as u64),
        reason: "incident".into(),
    }
}

impl World {
    /// Runs `body` with `ops` in force.
    async fn run_ops(&self, body: serde_json::Value, ops: &ActionSet) -> Outcome<AsIs> {
        let headers = HeaderMap::new();
        let (req, signals, decision) = self.decide(&body, &headers);
        let mut f = self.failover(&decision, &headers);
        f.operator = Some(ops);
        let mut decided = Decided {
            req,
            signals,
            decision,
        };
        run(&f, &AsIs, &mut decided).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_drained_route_is_skipped_naming_the_action_until_its_ttl_ends() {
    let w = World::new(&[
        ("big", vec![Script::Json]),
        ("plain", vec![Script::Json, Script::Json]),
    ]);
    let store = InMemoryActions::default();
    for r in w.routes.iter() {
        r.health.watch_actions(r.id.as_str(), store.snapshot());
    }
    let drain = Action::Drain {
        route: "big".into(),
    };
    store
        .create(op("act-1", drain, Some(Duration::from_secs(1800))))
        .await
        .unwrap();
    let out = w.run(chat("tools")).await;
    assert_eq!(w.served(&out), "plain");
    assert_eq!(w.calls("big"), 0, "no new request on a drained route");
    let skip = &out.skipped[0];
    assert_eq!(
        (skip.route.as_str(), skip.kind, skip.action.as_deref()),
        ("big", SkipKind::Operator, Some("act-1"))
    );
    assert!(skip.reason.contains("act-1"), "{}", skip.reason);
    assert_eq!(out.degraded, [DegradeStep::FallbackRoute]);

    tokio::time::advance(Duration::from_secs(1801)).await;
    let out = w.run(chat("tools")).await;
    assert_eq!(w.served(&out), "big", "the drain expired by itself");
    assert!(out.skipped.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_pin_narrows_the_alias_and_refuses_a_route_the_policy_excludes() {
    let w = World::new(&[("plain", vec![Script::Json])]);
    let pin = ActionSet::new(vec![op(
        "pin-1",
        Action::Pin {
            alias: "tools".into(),
            route: "plain".into(),
        },
        None,
    )]);
    let out = w.run_ops(chat("tools"), &pin).await;
    assert_eq!(w.served(&out), "plain");
    assert_eq!(w.calls("big"), 0);
    assert_eq!(out.actions, ["pin-1"]);
    assert_eq!(
        out.skipped
            .iter()
            .map(|s| (s.route.as_str(), s.kind))
            .collect::<Vec<_>>(),
        [("big", SkipKind::Operator)]
    );

    // With tools, only `big` is eligible: the pin refuses rather than
    // serving elsewhere or relaxing a constraint.
    let out = w.run_ops(with_tools("tools"), &pin).await;
    let Err(Ended::Refused(refusal)) = &out.result else {
        panic!("expected a refusal: {:?}", out.result);
    };
    assert!(refusal.to_string().contains("pin-1"), "{refusal}");
    assert_eq!(w.calls("big"), 0);
}

#[tokio::test(start_paused = true)]
async fn disabled_tools_degrade_with_the_marker_or_fail_closed() {
    let w = World::new(&[("big", vec![Script::Json, Script::Json])]);
    let off = ActionSet::new(vec![op(
        "tools-1",
        Action::DisableTools {
            target: Target::Tenant("t".into()),
        },
        None,
    )]);
    let out = w.run_ops(with_tools("tools"), &off).await;
    assert_eq!(w.served(&out), "big");
    assert_eq!(out.degraded, [DegradeStep::ToolsDisabled]);
    assert_eq!(out.actions, ["tools-1"]);

    let out = w.run_ops(chat("tools"), &off).await;
    assert!(out.degraded.is_empty(), "nothing to disable");

    // A fail-closed flow may not degrade: refused, nothing sent.
    let w = World::new(&[("big", vec![down()])]);
    let out = w.run_ops(with_tools("closed"), &off).await;
    let Err(Ended::Failed(failure)) = &out.result else {
        panic!("expected a refusal: {:?}", out.result);
    };
    assert!(failure.attempts.is_empty());
    assert_eq!(failure.skipped[0].action.as_deref(), Some("tools-1"));
    assert_eq!(w.calls("big"), 0);
}

#[tokio::test(start_paused = true)]
async fn an_escalation_trigger_takes_the_escalation_path() {
    let w = World::new(&[("big", vec![Script::Json])]);
    let esc = ActionSet::new(vec![op(
        "esc-1",
        Action::Escalate {
            intent: "general".into(),
        },
        None,
    )]);
    let out = w.run_ops(chat("tools"), &esc).await;
    let Err(Ended::Escalated { reason }) = &out.result else {
        panic!("expected an escalation: {:?}", out.result);
    };
    assert!(reason.contains("esc-1"), "{reason}");
    assert_eq!(out.degraded, [DegradeStep::HumanEscalation]);
    assert_eq!(w.calls("big"), 0);
}
