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
    check(cfg, r, &classes)
}

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
