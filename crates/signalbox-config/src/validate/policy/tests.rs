use std::collections::HashMap;
use std::time::Duration;

use crate::{
    Capability, Config, ConfigErrors, ContentFilter, DegradeStep, FailureMode, Retention, Weights,
    load_str,
};

const BASE: &str = "\
regions: [us, eu]
providers:
  - name: p-us
    kind: openai-compatible
    base-url: http://127.0.0.1:9001/v1
  - name: p-eu
    kind: openai-compatible
    base-url: http://127.0.0.1:9002/v1
routes:
  - id: us
    provider: p-us
    model: m
    region: us
  - id: eu
    provider: p-eu
    model: m
    region: eu
aliases:
  - name: chat
    routes: [us, eu]
tenants:
  - id: acme
    plan: enterprise
    api-keys: [{ env: ACME_KEY }]
";

fn vars() -> HashMap<String, String> {
    [("ACME_KEY".to_owned(), "k-acme".to_owned())].into()
}

fn load(extra: &str) -> Config {
    load_str(&format!("{BASE}{extra}"), "t", &vars()).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(extra: &str) -> ConfigErrors {
    match load_str(&format!("{BASE}{extra}"), "t", &vars()) {
        Ok(_) => panic!("expected errors for:\n{extra}"),
        Err(e) => e,
    }
}

/// A policy with one rule whose body is `rule` (indented under `- name: r`).
fn rule(body: &str) -> String {
    format!("policy:\n  rules:\n    - name: r\n{body}")
}

fn assert_single(extra: &str, path: &str, message: &str) {
    let errs = errors(extra);
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, path, "{errs}");
    assert_eq!(errs.0[0].message, message, "{errs}");
}

#[test]
fn a_full_rule() {
    let config = load(&rule(
        "      when:
        tenants: [acme]
        plans: [enterprise]
        intents: [action]
        risk-tiers: [sensitive, restricted]
        regions: [eu]
        aliases: [chat]
        tools: true
        headers: { X-Feature: beta }
      routes: [eu, us]
      select: { regions: [eu], providers: [p-eu], supports: [tools, json-mode] }
      require: { retention: zero, content-filter: strict }
      objectives:
        prefer: [eu]
        prefer-regions: [eu]
        max-cost-usd: 0.05
        latency-slo: 2s
        weights: { preference: 2, cost: 0.5 }
      failure-mode: degrade
      degrade: [smaller-model, human-escalation]
      max-attempts: 3
",
    ));
    let rule = &config.policy_rules[0];
    assert_eq!(rule.name, "r");
    let when = &rule.when;
    assert_eq!(when.tenants, ["acme"]);
    assert_eq!(when.plans, ["enterprise"]);
    assert_eq!(when.intents, ["action"]);
    assert_eq!(when.risk_tiers, [2, 3]);
    assert_eq!(when.regions, ["eu"]);
    assert_eq!(when.aliases, ["chat"]);
    assert_eq!(when.tools, Some(true));
    assert_eq!(when.headers, [("x-feature".to_owned(), "beta".to_owned())]);
    let routes: Vec<&str> = rule.routes.iter().flatten().map(|r| r.as_str()).collect();
    assert_eq!(routes, ["eu", "us"]);
    let select = rule.select.as_ref().unwrap();
    assert_eq!(select.regions, ["eu"]);
    assert_eq!(select.providers, ["p-eu"]);
    assert_eq!(select.supports, [Capability::Tools, Capability::JsonMode]);
    assert_eq!(rule.require.retention, Some(Retention::Zero));
    assert_eq!(rule.require.content_filter, Some(ContentFilter::Strict));
    let objectives = &rule.objectives;
    assert_eq!(objectives.prefer[0].as_str(), "eu");
    assert_eq!(objectives.prefer_regions, ["eu"]);
    assert_eq!(objectives.max_cost_usd, Some(0.05));
    assert_eq!(objectives.latency_slo, Some(Duration::from_secs(2)));
    assert_eq!(
        objectives.weights,
        Weights {
            preference: 2.0,
            cost: 0.5,
            latency: 0.0
        }
    );
    assert_eq!(rule.failure_mode, FailureMode::Degrade);
    assert_eq!(
        rule.degrade,
        [DegradeStep::SmallerModel, DegradeStep::HumanEscalation]
    );
    assert_eq!(rule.max_attempts, Some(3));
}

#[test]
fn rule_defaults() {
    let config = load(&rule("      routes: [eu]\n"));
    let first = &config.policy_rules[0];
    assert_eq!(first.when, crate::RuleWhen::default());
    assert!(first.select.is_none());
    assert_eq!(first.require, crate::Requirements::default());
    assert_eq!(first.objectives.weights, Weights::default());
    assert_eq!(first.failure_mode, FailureMode::Degrade);
    assert_eq!(first.degrade, [DegradeStep::FallbackRoute]);
    assert_eq!(first.max_attempts, None);
    let closed = load(&rule(
        "      failure-mode: fail-closed
",
    ));
    assert_eq!(closed.policy_rules[0].failure_mode, FailureMode::FailClosed);
    assert!(closed.policy_rules[0].degrade.is_empty());
    assert_eq!(FailureMode::FailClosed.as_str(), "fail_closed");
    assert_eq!(Capability::JsonMode.as_str(), "json-mode");
    assert_eq!(DegradeStep::ToolsDisabled.as_str(), "tools-disabled");
}

#[test]
fn references_must_exist() {
    let errs = errors(&rule(
        "      when:
        tenants: [initech]
        risk-tiers: [secret]
        regions: [mars]
        aliases: [chat-eu]
      routes: [eu, ghost]
      select: { regions: [moon], providers: [p-ap] }
      objectives: { prefer: [gone], prefer-regions: [jupiter] }
",
    ));
    assert_eq!(
        errs.to_string(),
        "policy.rules[0].when.tenants[0]: unknown tenant \"initech\" (known: acme)\n\
         policy.rules[0].when.risk-tiers[0]: unknown risk tier \"secret\" (known: public, internal, sensitive, restricted)\n\
         policy.rules[0].when.regions[0]: unknown region \"mars\" (known: us, eu)\n\
         policy.rules[0].when.aliases[0]: unknown alias \"chat-eu\" (known: chat)\n\
         policy.rules[0].routes[1]: unknown route \"ghost\" (known: us, eu)\n\
         policy.rules[0].select.regions[0]: unknown region \"moon\" (known: us, eu)\n\
         policy.rules[0].select.providers[0]: unknown provider \"p-ap\" (known: p-us, p-eu)\n\
         policy.rules[0].objectives.prefer[0]: unknown route \"gone\" (known: us, eu)\n\
         policy.rules[0].objectives.prefer-regions[0]: unknown region \"jupiter\" (known: us, eu)"
    );
}

#[test]
fn the_implicit_default_tenant_can_be_named() {
    let text = BASE[..BASE.find("tenants:").unwrap()].to_owned()
        + "policy:\n  rules:\n    - name: r\n      when: { tenants: [default] }\n";
    let config = load_str(&text, "t", &vars()).unwrap();
    assert_eq!(config.policy_rules[0].when.tenants, ["default"]);
}

#[test]
fn fail_closed_with_degrade_steps() {
    assert_single(
        &rule("      failure-mode: fail-closed\n      degrade: [fallback-route]\n"),
        "policy.rules[0].degrade",
        "degrade steps cannot be combined with failure-mode fail-closed (remove degrade, or use failure-mode degrade)",
    );
    let config = load(&rule(
        "      failure-mode: fail-closed\n      degrade: []\n",
    ));
    assert!(config.policy_rules[0].degrade.is_empty());
    assert_single(
        &rule("      degrade: [smaller-model, smaller-model]\n"),
        "policy.rules[0].degrade[1]",
        "duplicate degrade step \"smaller-model\" (first defined at degrade[0])",
    );
    assert_single(
        &rule("      max-attempts: 0\n"),
        "policy.rules[0].max-attempts",
        "must be at least 1",
    );
}

#[test]
fn empty_lists_and_duplicates() {
    assert_single(
        &rule("      routes: []\n"),
        "policy.rules[0].routes",
        "at least one route is required (omit routes to use the alias's routes)",
    );
    assert_single(
        &rule("      routes: [eu, eu]\n"),
        "policy.rules[0].routes[1]",
        "duplicate route \"eu\" (first defined at routes[0])",
    );
    assert_single(
        &rule("      when: { tenants: [] }\n"),
        "policy.rules[0].when.tenants",
        "must not be empty (omit tenants instead)",
    );
    assert_single(
        &rule("      when: { plans: [\"\"] }\n"),
        "policy.rules[0].when.plans[0]",
        "plan must not be empty",
    );
    assert_single(
        &rule("      select: { supports: [tools, tools] }\n"),
        "policy.rules[0].select.supports[1]",
        "duplicate capability \"tools\" (first defined at supports[0])",
    );
}

#[test]
fn header_conditions() {
    let errs = errors(&rule(
        "      when:\n        headers: { \"bad name\": x, X-Tier: a, x-tier: b, X-Ok: \" padded\" }\n",
    ));
    assert_eq!(
        errs.to_string(),
        "policy.rules[0].when.headers.X-Ok: invalid header value: use visible ASCII, spaces or tabs, without leading or trailing whitespace\n\
         policy.rules[0].when.headers.bad name: invalid header name \"bad name\"\n\
         policy.rules[0].when.headers.x-tier: header \"x-tier\" repeats \"X-Tier\" (names are case-insensitive)"
    );
    assert_single(
        &rule("      when: { headers: {} }\n"),
        "policy.rules[0].when.headers",
        "must not be empty (omit headers instead)",
    );
}

#[test]
fn objective_numbers() {
    let errs = errors(&rule(
        "      objectives:\n        max-cost-usd: -0.5\n        latency-slo: 0s\n        weights: { preference: -1, cost: .nan, latency: .inf }\n",
    ));
    assert_eq!(
        errs.to_string(),
        "policy.rules[0].objectives.max-cost-usd: must be a finite number ≥ 0 (USD), got -0.5\n\
         policy.rules[0].objectives.latency-slo: must be greater than 0\n\
         policy.rules[0].objectives.weights.preference: must be a finite number ≥ 0 (a weight), got -1\n\
         policy.rules[0].objectives.weights.cost: must be a finite number ≥ 0 (a weight), got NaN\n\
         policy.rules[0].objectives.weights.latency: must be a finite number ≥ 0 (a weight), got inf"
    );
}

#[test]
fn rule_names() {
    let errs = errors("policy:\n  rules:\n    - name: a\n    - name: a\n    - name: \"a b\"\n");
    assert_eq!(
        errs.to_string(),
        "policy.rules[1].name: duplicate policy rule name \"a\" (first defined at policy.rules[0])\n\
         policy.rules[2].name: invalid policy rule name \"a b\": use only letters, digits, '.', '_' and '-'"
    );
}

#[test]
fn unknown_keys_and_values_are_reported_with_paths() {
    let errs = errors(&rule("      when: { tenant: [acme] }\n"));
    assert_eq!(errs.0[0].path, "policy.rules[0].when.tenant", "{errs}");
    let errs = errors(&rule("      failure-mode: fail-open\n"));
    assert_eq!(errs.0[0].path, "policy.rules[0].failure-mode", "{errs}");
    let errs = errors(&rule("      select: { supports: [telepathy] }\n"));
    assert_eq!(
        errs.0[0].path, "policy.rules[0].select.supports[0]",
        "{errs}"
    );
}

#[test]
fn intent_rules() {
    let config = load(
        "\
intents:
  default: chat
  rules:
    - name: tools-action
      when: { tools: true }
      intent: action
    - name: drafting
      when: { last-user-message: \"(?i)\\\\b(draft|write)\\\\b\" }
      intent: drafting
    - name: fallback
      intent: other
",
    );
    let intents = &config.intents;
    assert_eq!(intents.default, "chat");
    assert_eq!(intents.rules.len(), 3);
    assert_eq!(intents.rules[0].when.tools, Some(true));
    assert!(intents.rules[0].when.last_user_message.is_none());
    let regex = intents.rules[1].when.last_user_message.as_ref().unwrap();
    assert!(regex.is_match("Please DRAFT an email"));
    assert!(!regex.is_match("redraft"));
    assert_eq!(intents.rules[2].when.tools, None);
    assert_eq!(intents.rules[2].intent, "other");
}

#[test]
fn intent_rule_errors() {
    let errs = errors(
        "\
intents:
  default: \"\"
  rules:
    - name: a
      when: { last-user-message: \"(unclosed\" }
      intent: x
    - name: a
      intent: \" \"
",
    );
    assert_eq!(
        errs.to_string(),
        "intents.default: intent must not be empty\n\
         intents.rules[1].name: duplicate intent rule name \"a\" (first defined at intents.rules[0])\n\
         intents.rules[0].when.last-user-message: invalid regex \"(unclosed\": unclosed group\n\
         intents.rules[1].intent: intent must not be empty"
    );
}

#[test]
fn summary_counts_tenants_and_rules() {
    let config = load(
        "intents:\n  rules:\n    - { name: a, intent: x }\npolicy:\n  rules:\n    - name: r\n    - name: s\ndecision-log: { retention: 30d }\n",
    );
    let summary = config.summary();
    assert!(
        summary.contains(
            "\n  1 tenant (anonymous: none), 2 policy rules, 1 intent rule, decision log signalbox-decisions.db (30days)\n"
        ),
        "{summary}"
    );
    let disabled = load("anonymous-tenant: acme\ndecision-log: { enabled: false }\n").summary();
    assert!(
        disabled.contains(
            "  1 tenant (anonymous: acme), 0 policy rules, 0 intent rules, decision log disabled\n"
        ),
        "{disabled}"
    );
}
