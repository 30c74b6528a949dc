//! Tests of the checks that live in `invariants.rs` itself.

use std::time::Duration;

use super::*;
use crate::facts::{AppliedReload, HealthCheck};

#[test]
fn a_refused_or_unchanged_reload_breaks_reload_applied() {
    let reload = |result| AppliedReload {
        at: Duration::from_secs(1),
        result,
    };
    let mut facts = Facts {
        reloads: vec![reload(Ok("reloaded (policy version abc)".to_owned()))],
        ..Facts::default()
    };
    assert!(reloads_applied(&facts).held);
    facts
        .reloads
        .push(reload(Ok("unchanged (policy version abc)".to_owned())));
    facts
        .reloads
        .push(reload(Err("routes[0].region: unknown".to_owned())));
    let v = reloads_applied(&facts);
    assert_eq!((v.held, v.violations), (false, 2));
    assert!(v.detail.contains("unchanged"), "{}", v.detail);
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
