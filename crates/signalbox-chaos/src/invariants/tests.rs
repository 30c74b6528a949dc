//! Tests of the checks that live in `invariants.rs` itself.

use std::time::Duration;

use super::*;
use crate::facts::{AppliedAction, HealthCheck};

#[test]
fn a_refused_or_unchanged_reload_or_a_failed_redis_step_breaks_timeline_applied() {
    let reload = |result| AppliedAction {
        at: Duration::from_secs(1),
        action: "reload",
        result,
    };
    let mut facts = Facts {
        actions: vec![reload(Ok("reloaded (policy version abc)".to_owned()))],
        ..Facts::default()
    };
    assert!(timeline_applied(&facts).held);
    facts
        .actions
        .push(reload(Ok("unchanged (policy version abc)".to_owned())));
    facts
        .actions
        .push(reload(Err("routes[0].region: unknown".to_owned())));
    let v = timeline_applied(&facts);
    assert_eq!((v.held, v.violations), (false, 2));
    assert!(v.detail.contains("unchanged"), "{}", v.detail);
    facts.actions = vec![AppliedAction {
        at: Duration::from_secs(2),
        action: "redis start",
        result: Err("redis-server is not installed".to_owned()),
    }];
    assert!(!timeline_applied(&facts).held);
}

#[test]
fn healthy_after_breaks_when_the_fresh_request_failed_or_never_ran() {
    let inv = Invariant::HealthyAfter { within: None };
    let mut facts = Facts::default();
    assert!(!check(&inv, &facts).held);
    facts.healthy_after = Some(HealthCheck {
        ok: false,
        detail: "status 503".to_owned(),
    });
    let v = check(&inv, &facts);
    assert!(!v.held && v.detail.contains("status 503"), "{v:?}");
    facts.healthy_after = Some(HealthCheck {
        ok: true,
        detail: "status 200".to_owned(),
    });
    assert!(check(&inv, &facts).held);
}
