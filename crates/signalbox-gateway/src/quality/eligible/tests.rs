//! Where eval traffic may go: a suite's data classes only to zones that
//! leave them as written, and only routes the eval tenant may use.

use std::collections::HashMap;

use super::*;

const CONFIG: &str = "
regions: [us, eu]
tenants:
  - { id: acme, api-keys: [{ env: K }], allowed-regions: [eu] }
providers:
  - { name: p, kind: openai-compatible, base-url: http://127.0.0.1:9001/v1 }
routes:
  - { id: inside, provider: p, model: m, region: eu, zone: internal }
  - { id: outside, provider: p, model: m, region: eu }
  - { id: us, provider: p, model: m, region: us, zone: internal }
aliases:
  - { name: chat, routes: [inside, outside, us] }
privacy:
  boundaries:
    - zone: external
      protect:
        classes: { email: tokenise, ip: allow }
        custom: [{ name: order-ids, regex: 'A[0-9]+', action: redact }]
";

fn config(extra: &str) -> Config {
    let vars = HashMap::from([("K".to_owned(), "k".to_owned())]);
    signalbox_config::load_str(&format!("{CONFIG}{extra}"), "t.yaml", &vars)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn verdict(cfg: &Config, route: &str, classes: &[&str]) -> Result<(), (SkipReason, String)> {
    let r = cfg.routes.iter().find(|r| r.id.as_str() == route).unwrap();
    let classes: Vec<String> = classes.iter().map(|c| (*c).to_owned()).collect();
    check(cfg, r, &classes, Some(&["weather"]))
}

/// The verdict for a suite of `intents` (`None`: the judge's request).
fn verdict_for(
    cfg: &Config,
    route: &str,
    class: &str,
    intents: Option<&[&str]>,
) -> Result<(), (SkipReason, String)> {
    let r = cfg.routes.iter().find(|r| r.id.as_str() == route).unwrap();
    check(cfg, r, &[class.to_owned()], intents)
}

/// Rules with boundaries of their own: `support` requests redact emails in
/// the internal zone, and let them through to the external one as written.
const RULES: &str = "
policy:
  rules:
    - name: support-pii
      when: { intents: [support] }
      privacy:
        - zone: internal
          protect: { classes: { email: redact } }
        - zone: external
          protect: { classes: { email: allow } }
";

#[test]
fn a_data_class_goes_only_where_the_zone_leaves_it_as_written() {
    let cfg = config("");
    assert!(verdict(&cfg, "inside", &["email", "order-ids"]).is_ok());
    let (reason, why) = verdict(&cfg, "outside", &["email"]).unwrap_err();
    assert_eq!(reason, SkipReason::DataClass);
    assert_eq!(
        why,
        "data class email: zone external of route outside would tokenise it"
    );
    let (_, why) = verdict(&cfg, "outside", &["order-ids"]).unwrap_err();
    assert!(why.contains("would redact it"), "{why}");
    assert!(
        verdict(&cfg, "outside", &["ip", "phone"]).is_ok(),
        "allowed, or not named"
    );
    assert!(verdict(&cfg, "outside", &[]).is_ok());
    assert!(known_class(&cfg, "order-ids") && known_class(&cfg, "card"));
    assert!(!known_class(&cfg, "emial"));
}

#[test]
fn the_eval_tenant_keeps_eval_traffic_on_routes_it_may_use() {
    let cfg = config("quality: { tenant: acme }\n");
    let (reason, why) = verdict(&cfg, "us", &[]).unwrap_err();
    assert_eq!(reason, SkipReason::Tenant);
    assert_eq!(why, "tenant acme may not use route us: region us ∉ [eu]");
    assert!(verdict(&cfg, "inside", &[]).is_ok());
    assert!(
        verdict(&config(""), "us", &[]).is_ok(),
        "no eval tenant: any route"
    );
}

#[test]
fn a_rule_boundary_keeps_a_suite_of_its_intent_off_a_zone_it_would_redact() {
    let cfg = config(RULES);
    let (reason, why) = verdict_for(&cfg, "inside", "email", Some(&["support"])).unwrap_err();
    assert_eq!(reason, SkipReason::DataClass);
    assert_eq!(
        why,
        "data class email: rule support-pii's boundary at zone internal of route inside would redact it"
    );
    assert!(
        verdict_for(&cfg, "inside", "email", Some(&["weather"])).is_ok(),
        "a rule for another intent never applies to the suite"
    );
    // The rule surely applies and replaces the gateway's tokenising
    // boundary at the external zone: emails go there as written.
    assert!(verdict_for(&cfg, "outside", "email", Some(&["support"])).is_ok());
    // A suite with another intent too may meet the gateway's boundary.
    let (_, why) =
        verdict_for(&cfg, "outside", "email", Some(&["support", "weather"])).unwrap_err();
    assert_eq!(
        why,
        "data class email: zone external of route outside would tokenise it"
    );
    // The judge's request has an intent of its own: the rule may apply.
    assert!(verdict_for(&cfg, "inside", "email", None).is_err());
}

#[test]
fn a_rule_that_may_match_eval_traffic_counts_and_one_for_another_plan_does_not() {
    // Eval traffic carries no client headers, alias or tools: a rule on
    // them may or may not match, so its boundary counts.
    let header_rule = RULES.replace(
        "{ intents: [support] }",
        "{ headers: { x-data: customer } }",
    );
    let (_, why) =
        verdict_for(&config(&header_rule), "inside", "email", Some(&["weather"])).unwrap_err();
    assert!(why.contains("rule support-pii's boundary"), "{why}");
    // A rule for another plan never matches the eval tenant's traffic;
    // without an eval tenant, it may.
    let plan_rule = RULES.replace("{ intents: [support] }", "{ plans: [enterprise] }");
    let as_acme = config(&format!("{plan_rule}quality: {{ tenant: acme }}\n"));
    assert!(verdict_for(&as_acme, "inside", "email", Some(&["weather"])).is_ok());
    assert!(verdict_for(&config(&plan_rule), "inside", "email", Some(&["weather"])).is_err());
}

#[test]
fn a_route_below_the_eval_tenants_risk_floor_gets_no_eval_traffic() {
    let mut cfg = config("quality: { tenant: acme }\n");
    let acme = cfg.tenants.iter_mut().find(|t| t.id == "acme").unwrap();
    acme.risk_floor = 2;
    acme.max_risk_tier = 2;
    for r in &mut cfg.routes {
        r.max_risk_tier = if r.id.as_str() == "inside" { 1 } else { 2 };
    }
    let (reason, why) = verdict(&cfg, "inside", &[]).unwrap_err();
    assert_eq!(reason, SkipReason::Tenant);
    assert!(why.contains("risk tier"), "{why}");
    assert!(verdict(&cfg, "outside", &[]).is_ok());
}
