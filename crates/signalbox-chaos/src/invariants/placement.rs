//! Owns the residency and posture check: no request is sent to, or served
//! by, a route outside its tenant's regions, retention or content filter,
//! and no attempt goes to a route with a weaker posture than the policy's
//! first choice. Read from the decision records and, for requests without
//! one, from the mocks' call logs.

use super::Tally;
use crate::facts::{Facts, RequestFact, RouteFact, TenantFact};

pub(super) fn residency(facts: &Facts) -> Tally {
    let mut t = Tally::default();
    for r in &facts.requests {
        t.look();
        if let Some(why) = misplaced(facts, r) {
            t.broke(Some(&r.id), why);
        }
    }
    t
}

fn misplaced(facts: &Facts, r: &RequestFact) -> Option<String> {
    let record = facts.record(r);
    let tenant_id = record.map_or(r.tenant.as_str(), |rec| rec.tenant.as_str());
    let tenant = facts.tenants.iter().find(|t| t.id == tenant_id);
    let mut routes: Vec<&str> = Vec::new();
    if let Some(rec) = record {
        routes.extend(rec.attempts.iter().map(|a| a.route.as_str()));
        routes.extend(rec.chosen.as_deref());
    }
    routes.extend(r.answer.route.as_deref());
    if let Some(tenant) = tenant {
        for id in &routes {
            if let Some(route) = facts.route(id)
                && let Some(why) = outside(tenant, route)
            {
                return Some(format!("tenant {} sent to route {id}: {why}", tenant.id));
            }
        }
        // Calls the mocks saw, for requests whose record is missing or incomplete.
        for c in facts
            .calls
            .iter()
            .filter(|c| c.request_id.as_deref() == Some(r.id.as_str()))
        {
            let behind: Vec<&RouteFact> = facts
                .routes
                .iter()
                .filter(|rt| rt.upstream.as_deref() == Some(c.upstream.as_str()))
                .collect();
            if !behind.is_empty()
                && let Some(why) = behind.iter().find_map(|rt| outside(tenant, rt))
                && behind.iter().all(|rt| outside(tenant, rt).is_some())
            {
                return Some(format!(
                    "tenant {} reached upstream {}: {why}",
                    tenant.id, c.upstream
                ));
            }
        }
    }
    let floor = record
        .and_then(|rec| rec.ranking.first())
        .and_then(|id| facts.route(id))?;
    routes
        .iter()
        .filter_map(|id| facts.route(id))
        .find_map(|route| {
            let weaker =
                route.retention > floor.retention || route.content_filter < floor.content_filter;
            weaker.then(|| {
                format!(
                    "route {} (retention {}, content-filter {}) is weaker than the first choice {}",
                    route.id, route.retention, route.content_filter, floor.id
                )
            })
        })
}

/// Why `route` is outside `tenant`'s constraints, if it is.
fn outside(tenant: &TenantFact, route: &RouteFact) -> Option<String> {
    if !tenant.allowed_regions.is_empty() && !tenant.allowed_regions.contains(&route.region) {
        return Some(format!(
            "region {} not in [{}]",
            route.region,
            tenant.allowed_regions.join(", ")
        ));
    }
    if let Some(req) = tenant.require_retention
        && route.retention > req
    {
        return Some(format!(
            "retention {} weaker than the required {req}",
            route.retention
        ));
    }
    if let Some(req) = tenant.require_content_filter
        && route.content_filter < req
    {
        return Some(format!(
            "content filter {} weaker than the required {req}",
            route.content_filter
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use signalbox_config::Retention;
    use signalbox_core::OutcomeClass;
    use signalbox_mock::CallOutcome;

    use super::*;
    use crate::invariants::testkit::{call, error, ok, record, route};

    fn eu_tenant() -> TenantFact {
        TenantFact {
            id: "bank".to_owned(),
            allowed_regions: vec!["eu".to_owned()],
            require_retention: None,
            require_content_filter: None,
        }
    }

    #[test]
    fn a_request_served_or_tried_outside_its_region_breaks_it() {
        let mut served_eu = ok("eu", "eu-1");
        served_eu.tenant = "bank".to_owned();
        let mut served_us = ok("us", "us-1");
        served_us.tenant = "bank".to_owned();
        let mut tried_us = error("tried", 502);
        tried_us.tenant = "bank".to_owned();
        let f = Facts {
            requests: vec![served_eu, served_us, tried_us],
            routes: vec![route("eu-1", "eu"), route("us-1", "us")],
            tenants: vec![eu_tenant()],
            calls: vec![call("us-1", 5, "tried", CallOutcome::Error { status: 503 })],
            ..Facts::default()
        };
        let t = residency(&f);
        assert_eq!((t.checked, t.violations), (3, 2));
        let (id, why) = t.first.unwrap();
        assert_eq!(id.as_deref(), Some("us"));
        assert!(why.contains("region us not in [eu]"), "{why}");
    }

    #[test]
    fn a_failover_to_a_weaker_posture_breaks_it() {
        let mut weak = route("weak", "eu");
        weak.retention = Retention::Training;
        let mut f = Facts {
            requests: vec![ok("r", "weak")],
            routes: vec![route("strong", "eu"), weak],
            ..Facts::default()
        };
        let mut rec = record(
            "r",
            &[
                ("strong", OutcomeClass::ServerError),
                ("weak", OutcomeClass::Success),
            ],
        );
        rec.tenant = "other".to_owned();
        f.records.insert("r".to_owned(), rec);
        let t = residency(&f);
        assert_eq!(t.violations, 1);
        assert!(
            t.first
                .unwrap()
                .1
                .contains("weaker than the first choice strong")
        );
    }
}
