use std::time::Duration;

use signalbox_core::operator::{Action, Actor, OperatorAction, Role, Target};

use super::*;

pub(crate) fn action(id: &str, action: Action, ttl: Option<Duration>) -> OperatorAction {
    let now = crate::unix_ms();
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

#[tokio::test(start_paused = true)]
async fn an_action_with_a_ttl_expires_on_read_under_a_paused_clock() {
    let store = InMemoryActions::default();
    let drain = Action::Drain { route: "r".into() };
    store
        .create(action("a1", drain, Some(Duration::from_secs(1800))))
        .await
        .unwrap();
    let view = store.snapshot();
    let now = crate::unix_ms();
    assert_eq!(
        view.load().blocks_route("r", now).map(|a| a.id.as_str()),
        Some("a1")
    );
    assert!(view.load().blocks_route("other", now).is_none());
    tokio::time::advance(Duration::from_secs(1799)).await;
    assert!(view.load().blocks_route("r", crate::unix_ms()).is_some());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(
        view.load().blocks_route("r", crate::unix_ms()).is_none(),
        "expired by itself, with nothing written"
    );
    assert!(store.list().await.unwrap().is_empty());
}

#[test]
fn the_newest_action_wins_and_each_question_reads_its_own_kind() {
    let set = ActionSet::new(vec![
        action(
            "p1",
            Action::Pin {
                alias: "chat".into(),
                route: "a".into(),
            },
            None,
        ),
        action(
            "p2",
            Action::Pin {
                alias: "chat".into(),
                route: "b".into(),
            },
            None,
        ),
        action(
            "t1",
            Action::DisableTools {
                target: Target::Tenant("acme".into()),
            },
            None,
        ),
        action(
            "f1",
            Action::FailClosed {
                target: Target::Intent("action".into()),
            },
            None,
        ),
        action(
            "e1",
            Action::Escalate {
                intent: "refund".into(),
            },
            None,
        ),
        action("c1", Action::ForceClose { route: "a".into() }, None),
        action(
            "th",
            Action::Throttle {
                target: Target::Tenant("acme".into()),
                requests_per_minute: Some(5),
                tokens_per_minute: None,
            },
            None,
        ),
    ]);
    let now = crate::unix_ms();
    assert_eq!(
        set.pin("chat", now).map(|(a, r)| (a.id.as_str(), r)),
        Some(("p2", "b"))
    );
    assert!(set.pin("other", now).is_none());
    assert!(set.tools_disabled("general", "acme", now).is_some());
    assert!(set.tools_disabled("general", "initech", now).is_none());
    assert!(set.fail_closed("chat", "action", now).is_some());
    assert!(set.fail_closed("chat", "general", now).is_none());
    assert!(set.escalation("refund", now).is_some());
    assert!(set.forced_closed("a", now).is_some() && set.blocks_route("a", now).is_none());
    let acme = Target::Tenant("acme".into());
    assert_eq!(
        set.throttles(&acme, now)
            .map(|(_, r, _)| r)
            .collect::<Vec<_>>(),
        [Some(5)]
    );
}
