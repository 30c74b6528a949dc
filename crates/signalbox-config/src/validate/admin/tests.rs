use std::collections::HashMap;

use signalbox_core::operator::{ActionKind, Role};

use crate::{Config, ConfigErrors, hash_secret, load_str};

const BASE: &str = "\
providers:
  - { name: p, kind: openai-compatible, base-url: \"http://127.0.0.1:9001/v1\" }
routes:
  - { id: r, provider: p, model: m, region: us }
aliases:
  - { name: chat, routes: [r] }
";

fn vars() -> HashMap<String, String> {
    [("ADMIN", "adm-1"), ("ONCALL", "op-1"), ("VIEW", "ro-1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(extra: &str) -> Result<Config, ConfigErrors> {
    load_str(&format!("{BASE}{extra}"), "<test>", &vars())
}

#[test]
fn named_tokens_carry_a_role_and_operator_scopes() {
    let config = load(
        "admin:\n  token: { env: ADMIN }\n  tokens:\n    \
         - { name: oncall, role: operator, token: { env: ONCALL }, actions: [drain, throttle] }\n    \
         - { name: viewer, role: read-only, token: { env: VIEW } }\n",
    )
    .unwrap();
    let admin = &config.admin;
    assert!(admin.enabled());
    assert_eq!(admin.token_hash, Some(hash_secret("adm-1")));
    assert_eq!(admin.tokens[0].name, "oncall");
    assert_eq!(admin.tokens[0].role, Role::Operator);
    assert_eq!(admin.tokens[0].hash, hash_secret("op-1"));
    assert_eq!(
        admin.tokens[0].actions,
        Some(vec![ActionKind::Drain, ActionKind::Throttle])
    );
    assert_eq!(admin.tokens[1].role, Role::ReadOnly);
    assert!(!format!("{config:?}").contains("op-1"));
    let only_viewer =
        load("admin:\n  tokens:\n    - { name: viewer, role: read-only, token: { env: VIEW } }\n")
            .unwrap();
    assert!(only_viewer.admin.enabled() && only_viewer.admin.token_hash.is_none());
    assert!(!load("").unwrap().admin.enabled());
}

#[test]
fn every_mistake_is_reported_at_its_path() {
    let e = load(
        "admin:\n  token: { env: ADMIN }\n  tokens:\n    \
         - { name: a, role: admin, token: { env: ONCALL } }\n    \
         - { name: a, role: read-only, token: { env: VIEW }, actions: [drain] }\n    \
         - { name: b, role: operator, token: { env: ADMIN }, actions: [] }\n    \
         - { name: c, role: operator, token: adm-1 }\n",
    )
    .unwrap_err()
    .to_string();
    for want in [
        "admin.tokens[0].role",
        "admin.tokens[1].name: duplicate token name \"a\"",
        "admin.tokens[1].actions: only an operator token",
        "admin.tokens[2].actions: must not be empty",
        "admin.tokens[2].token: the same token is already used by admin.token",
        "admin.tokens[3].token: inline keys are not allowed",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    let e = load("admin:\n  tokens:\n    - { name: x, role: operator, token: { env: VIEW }, actions: [explode] }\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("explode"), "{e}");
}
