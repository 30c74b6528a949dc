use super::*;

fn who() -> Actor {
    Actor {
        name: "oncall".into(),
        role: Role::Operator,
    }
}

fn new(json: serde_json::Value) -> Result<OperatorAction, ActionError> {
    let n: NewAction = serde_json::from_value(json).unwrap();
    n.into_action("act-1".into(), who(), 1_000)
}

#[test]
fn a_drain_with_ttl_expires_by_itself() {
    let a = new(serde_json::json!({
        "action": {"kind": "drain", "route": "us-large"},
        "reason": " provider incident ",
        "ttl": "30m"
    }))
    .unwrap();
    assert_eq!(a.action.kind(), ActionKind::Drain);
    assert_eq!(a.reason, "provider incident");
    assert_eq!(a.expires_ms, Some(1_000 + 30 * 60_000));
    assert!(a.active_at(1_000));
    assert!(!a.active_at(1_000 + 30 * 60_000));
    assert_eq!(
        a.cite(),
        "operator action act-1 (drain route us-large: provider incident)"
    );
}

#[test]
fn validation_errors_name_the_field() {
    let cases = [
        (
            serde_json::json!({"action": {"kind": "drain", "route": "r"}}),
            "reason",
        ),
        (
            serde_json::json!({"action": {"kind": "drain", "route": "r"}, "reason": "  "}),
            "reason",
        ),
        (
            serde_json::json!({"action": {"kind": "drain", "route": "r"}, "reason": "x", "ttl": "soon"}),
            "ttl",
        ),
        (
            serde_json::json!({"action": {"kind": "drain", "route": "r"}, "reason": "x", "ttl": "0s"}),
            "ttl",
        ),
        (
            serde_json::json!({"action": {"kind": "drain", "route": "r"}, "reason": "x", "ttl": "90d"}),
            "ttl",
        ),
        (
            serde_json::json!({"action": {"kind": "drain", "route": ""}, "reason": "x"}),
            "action.route",
        ),
        (
            serde_json::json!({"action": {"kind": "throttle", "target": {"tenant": "t"}}, "reason": "x"}),
            "action.requests-per-minute",
        ),
        (
            serde_json::json!({"action": {"kind": "throttle", "target": {"intent": "t"}, "requests-per-minute": 5}, "reason": "x"}),
            "action.target",
        ),
        (
            serde_json::json!({"action": {"kind": "disable-tools", "target": {"route": "r"}}, "reason": "x"}),
            "action.target",
        ),
        (
            serde_json::json!({"action": {"kind": "fail-closed", "target": {"tenant": "t"}}, "reason": "x"}),
            "action.target",
        ),
    ];
    for (json, field) in cases {
        let e = new(json.clone()).unwrap_err();
        assert_eq!(e.field, field, "{json}: {e}");
    }
}

#[test]
fn unknown_fields_and_kinds_are_refused() {
    for json in [
        serde_json::json!({"action": {"kind": "drain", "route": "r", "rout": "x"}, "reason": "x"}),
        serde_json::json!({"action": {"kind": "explode", "route": "r"}, "reason": "x"}),
        serde_json::json!({"action": {"kind": "drain", "route": "r"}, "reason": "x", "for": "1m"}),
    ] {
        assert!(
            serde_json::from_value::<NewAction>(json.clone()).is_err(),
            "{json}"
        );
    }
}

#[test]
fn every_kind_round_trips_and_has_a_label() {
    let actions = [
        serde_json::json!({"kind": "drain", "route": "r"}),
        serde_json::json!({"kind": "force-open", "route": "r"}),
        serde_json::json!({"kind": "force-close", "route": "r"}),
        serde_json::json!({"kind": "throttle", "target": {"route": "r"}, "tokens-per-minute": 1000}),
        serde_json::json!({"kind": "disable-tools", "target": {"intent": "action"}}),
        serde_json::json!({"kind": "fail-closed", "target": {"alias": "chat"}}),
        serde_json::json!({"kind": "escalate", "intent": "action"}),
        serde_json::json!({"kind": "pin", "alias": "chat", "route": "r"}),
    ];
    for (json, kind) in actions.into_iter().zip(ActionKind::ALL) {
        let a: Action = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(a.kind(), kind);
        assert_eq!(serde_json::to_value(&a).unwrap(), json);
        assert_eq!(ActionKind::parse(kind.label()), Some(kind));
        assert!(!a.to_string().is_empty());
    }
}

#[test]
fn roles_are_ordered() {
    assert!(Role::ReadOnly < Role::Operator && Role::Operator < Role::Admin);
}
