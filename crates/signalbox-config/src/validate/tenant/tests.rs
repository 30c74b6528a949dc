use std::collections::HashMap;
use std::time::Duration;

use crate::{Config, ConfigErrors, ContentFilter, Retention, hash_secret, load_str};

const BASE: &str = "\
regions: [us, eu]
providers:
  - name: p
    kind: openai-compatible
    base-url: http://127.0.0.1:9001/v1
routes:
  - id: us
    provider: p
    model: m
    region: us
  - id: eu
    provider: p
    model: m
    region: eu
aliases:
  - name: chat
    routes: [us, eu]
";

const TENANTS: &str = "\
tenants:
  - id: acme
    api-keys: [{ env: ACME_KEY }]
  - id: globex
    api-keys: [{ env: GLOBEX_KEY }]
";

fn vars() -> HashMap<String, String> {
    [
        ("ACME_KEY", "k-acme-123"),
        ("GLOBEX_KEY", "k-globex-456"),
        ("ALSO_ACME", "k-acme-123"),
        ("ADMIN_TOKEN", "adm-789"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
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

/// Asserts exactly one error, at `path`, with `message`.
fn assert_single(extra: &str, path: &str, message: &str) {
    let errs = errors(extra);
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, path, "{errs}");
    assert_eq!(errs.0[0].message, message, "{errs}");
}

#[test]
fn without_tenants_an_implicit_default_tenant_is_anonymous() {
    let config = load("");
    assert_eq!(
        config.risk_tiers,
        ["public", "internal", "sensitive", "restricted"]
    );
    assert_eq!(config.anonymous_tenant.as_deref(), Some("default"));
    assert_eq!(config.tenants.len(), 1);
    let tenant = config.tenant("default").unwrap();
    assert_eq!(tenant.plan, "default");
    assert!(tenant.api_key_hashes.is_empty());
    assert_eq!(tenant.allowed_regions, ["us", "eu"]);
    assert!(tenant.preferred_regions.is_empty());
    assert_eq!((tenant.risk_floor, tenant.max_risk_tier), (0, 3));
    assert_eq!(tenant.require_retention, None);
    assert_eq!(tenant.require_content_filter, None);
    assert!(!tenant.log_content);
    assert_eq!(tenant.monthly_budget_usd, None);
    assert_eq!(config.admin.token_hash, None);
    assert_eq!(config.decision_log, crate::DecisionLogConfig::default());
    assert_eq!(config.intents.default, "general");
    assert!(config.intents.rules.is_empty());
    assert!(config.policy_rules.is_empty());
    assert_eq!(config.routes[0].max_risk_tier, 3);
    assert_eq!(config.routes[0].content_filter, ContentFilter::Standard);
    // An empty list means the same as none.
    assert_eq!(load("tenants: []\n").tenants[0].id, "default");
    assert!(
        load("anonymous-tenant: default\n")
            .tenant("default")
            .is_some()
    );
}

#[test]
fn tenants_keep_only_key_hashes_and_defaults_apply() {
    let config = load(TENANTS);
    assert_eq!(config.anonymous_tenant, None);
    let acme = config.tenant("acme").unwrap();
    assert_eq!(acme.api_key_hashes, [hash_secret("k-acme-123")]);
    assert_eq!(acme.plan, "default");
    assert_eq!(acme.allowed_regions, ["us", "eu"]);
    assert_eq!((acme.risk_floor, acme.max_risk_tier), (0, 3));
    assert!(config.tenant("initech").is_none());
}

#[test]
fn every_tenant_field() {
    let config = load(
        "\
tenants:
  - id: acme
    plan: enterprise
    api-keys: [{ env: ACME_KEY }, { env: GLOBEX_KEY }]
    allowed-regions: [eu]
    preferred-regions: [eu]
    risk-floor: internal
    max-risk-tier: sensitive
    require-retention: zero
    require-content-filter: strict
    log-content: true
    monthly-budget-usd: 1000
  - id: walk-in
anonymous-tenant: walk-in
",
    );
    let acme = &config.tenants[0];
    assert_eq!(acme.plan, "enterprise");
    assert_eq!(acme.api_key_hashes.len(), 2);
    assert_eq!(acme.allowed_regions, ["eu"]);
    assert_eq!(acme.preferred_regions, ["eu"]);
    assert_eq!((acme.risk_floor, acme.max_risk_tier), (1, 2));
    assert_eq!(acme.require_retention, Some(Retention::Zero));
    assert_eq!(acme.require_content_filter, Some(ContentFilter::Strict));
    assert!(acme.log_content);
    assert_eq!(acme.monthly_budget_usd, Some(1000.0));
    // The anonymous tenant needs no key.
    assert_eq!(config.anonymous_tenant.as_deref(), Some("walk-in"));
    assert!(config.tenants[1].api_key_hashes.is_empty());
}

#[test]
fn keys_never_appear_in_debug_or_summary() {
    let config = load(&format!(
        "{TENANTS}admin:\n  token: {{ env: ADMIN_TOKEN }}\n"
    ));
    let debug = format!("{config:?}");
    let summary = config.summary();
    for secret in ["k-acme-123", "k-globex-456", "adm-789"] {
        assert!(!debug.contains(secret), "{debug}");
        assert!(!summary.contains(secret), "{summary}");
    }
    // Not even the hash bytes are printed.
    let first_byte = hash_secret("k-acme-123")[0].to_string();
    assert!(debug.contains("api_keys: <1 hashed>"), "{debug}");
    assert!(debug.contains("token: <1 hashed>"), "{debug}");
    assert!(!debug.contains(&format!("[{first_byte}, ")), "{debug}");
}

#[test]
fn keys_are_required_unless_anonymous() {
    assert_single(
        "tenants:\n  - id: acme\n",
        "tenants[0].api-keys",
        "at least one key ({env: VAR} or {file: PATH}) is required unless this tenant is the anonymous-tenant",
    );
    assert_single(
        "tenants:\n  - id: acme\n    api-keys: []\n",
        "tenants[0].api-keys",
        "at least one key ({env: VAR} or {file: PATH}) is required unless this tenant is the anonymous-tenant",
    );
}

#[test]
fn inline_and_missing_keys() {
    let errs = errors("tenants:\n  - id: acme\n    api-keys: [k-acme-123, { env: NOPE }]\n");
    assert_eq!(
        errs.to_string(),
        "tenants[0].api-keys[0]: inline keys are not allowed; use {env: VAR} or {file: PATH}\n\
         tenants[0].api-keys[1]: environment variable NOPE is not set"
    );
    assert!(!errs.to_string().contains("k-acme-123"));
}

#[test]
fn the_same_key_on_two_tenants() {
    let errs = errors(
        "tenants:\n  - id: acme\n    api-keys: [{ env: ACME_KEY }]\n  - id: globex\n    api-keys: [{ env: GLOBEX_KEY }, { env: ALSO_ACME }]\n",
    );
    assert_eq!(
        errs.to_string(),
        "tenants[1].api-keys[1]: the same key is already used by tenant acme"
    );
}

#[test]
fn anonymous_tenant_must_exist() {
    assert_single(
        &format!("{TENANTS}anonymous-tenant: initech\n"),
        "anonymous-tenant",
        "unknown tenant \"initech\" (known: acme, globex)",
    );
    assert_single(
        "anonymous-tenant: guest\n",
        "anonymous-tenant",
        "unknown tenant \"guest\" (known: default)",
    );
}

#[test]
fn tenant_ids() {
    let errs = errors(
        "tenants:\n  - id: acme\n    api-keys: [{ env: ACME_KEY }]\n  - id: acme\n    api-keys: [{ env: GLOBEX_KEY }]\n  - id: \"a b\"\n    api-keys: [{ env: ADMIN_TOKEN }]\n",
    );
    assert_eq!(
        errs.to_string(),
        "tenants[1].id: duplicate tenant id \"acme\" (first defined at tenants[0])\n\
         tenants[2].id: invalid tenant id \"a b\": use only letters, digits, '.', '_' and '-'"
    );
}

#[test]
fn regions_of_a_tenant() {
    let tenant = "tenants:\n  - id: acme\n    api-keys: [{ env: ACME_KEY }]\n";
    assert_single(
        &format!("{tenant}    allowed-regions: [eu, mars]\n"),
        "tenants[0].allowed-regions[1]",
        "unknown region \"mars\" (known: us, eu)",
    );
    assert_single(
        &format!("{tenant}    allowed-regions: []\n"),
        "tenants[0].allowed-regions",
        "must not be empty (omit allowed-regions instead)",
    );
    assert_single(
        &format!("{tenant}    allowed-regions: [eu]\n    preferred-regions: [eu, us]\n"),
        "tenants[0].preferred-regions[1]",
        "region \"us\" is not in allowed-regions (eu)",
    );
    assert_single(
        &format!("{tenant}    preferred-regions: [eu, eu]\n"),
        "tenants[0].preferred-regions[1]",
        "duplicate region \"eu\" (first defined at preferred-regions[0])",
    );
}

#[test]
fn tiers_of_a_tenant() {
    let tenant = "tenants:\n  - id: acme\n    api-keys: [{ env: ACME_KEY }]\n";
    assert_single(
        &format!("{tenant}    risk-floor: secret\n"),
        "tenants[0].risk-floor",
        "unknown risk tier \"secret\" (known: public, internal, sensitive, restricted)",
    );
    assert_single(
        &format!("{tenant}    risk-floor: sensitive\n    max-risk-tier: internal\n"),
        "tenants[0].max-risk-tier",
        "max-risk-tier (internal) must not be below risk-floor (sensitive)",
    );
    assert_single(
        &format!("{tenant}    monthly-budget-usd: -5\n"),
        "tenants[0].monthly-budget-usd",
        "must be a finite number ≥ 0 (USD), got -5",
    );
    assert_single(
        &format!("{tenant}    plan: \"\"\n"),
        "tenants[0].plan",
        "plan must not be empty (omit it for \"default\")",
    );
}

#[test]
fn custom_risk_tiers() {
    let config = load(
        "risk-tiers: [low, high]\ntenants:\n  - id: acme\n    api-keys: [{ env: ACME_KEY }]\n    risk-floor: high\n",
    );
    assert_eq!(config.risk_tiers, ["low", "high"]);
    assert_eq!(config.risk_tier_index("high"), Some(1));
    assert_eq!(config.risk_tier_index("public"), None);
    assert_eq!(
        (
            config.tenants[0].risk_floor,
            config.tenants[0].max_risk_tier
        ),
        (1, 1)
    );
    assert_eq!(config.routes[0].max_risk_tier, 1);
    assert_single(
        "risk-tiers: []\n",
        "risk-tiers",
        "at least one risk tier is required (or omit `risk-tiers` for the built-in list)",
    );
    let errs = errors("risk-tiers: [low, low, \"\"]\n");
    assert_eq!(
        errs.to_string(),
        "risk-tiers[1]: duplicate risk tier \"low\" (first defined at risk-tiers[0])\n\
         risk-tiers[2]: risk tier must not be empty"
    );
}

#[test]
fn route_tier_and_content_filter() {
    let text = BASE.replacen(
        "region: us\n",
        "region: us\n    max-risk-tier: internal\n    content-filter: strict\n",
        1,
    );
    let config = load_str(&text, "t", &vars()).unwrap();
    assert_eq!(config.routes[0].max_risk_tier, 1);
    assert_eq!(config.routes[0].content_filter, ContentFilter::Strict);
    assert_eq!(config.routes[1].content_filter, ContentFilter::Standard);
    let errs = load_str(&text.replace("internal", "top"), "t", &vars()).unwrap_err();
    assert_eq!(
        errs.to_string(),
        "routes[0].max-risk-tier: unknown risk tier \"top\" (known: public, internal, sensitive, restricted)"
    );
    assert!(ContentFilter::None < ContentFilter::Standard);
    assert!(ContentFilter::Standard < ContentFilter::Strict);
}

#[test]
fn admin_token() {
    let config = load("admin:\n  token: { env: ADMIN_TOKEN }\n");
    assert_eq!(config.admin.token_hash, Some(hash_secret("adm-789")));
    assert_eq!(load("admin: {}\n").admin.token_hash, None);
    assert_single(
        "admin:\n  token: adm-789\n",
        "admin.token",
        "inline keys are not allowed; use {env: VAR} or {file: PATH}",
    );
    assert_single(
        "admin:\n  token: { env: NO_TOKEN }\n",
        "admin.token",
        "environment variable NO_TOKEN is not set",
    );
}

#[test]
fn decision_log() {
    let config = load(
        "decision-log:\n  enabled: false\n  path: /var/lib/sb.db\n  retention: 30d\n  queue: 5\n  priority: normal\n",
    );
    let log = &config.decision_log;
    assert!(!log.enabled);
    assert_eq!(log.path, std::path::Path::new("/var/lib/sb.db"));
    assert_eq!(log.retention, Duration::from_secs(30 * 86_400));
    assert_eq!(log.queue, 5);
    assert_eq!(log.priority, crate::LogPriority::Normal);
    assert_eq!(log.max_size_mb, 10_240, "the default size limit: 10 GiB");
    let sized = load("decision-log: { max-size-mb: 512 }\n").decision_log;
    assert_eq!(sized.max_size_mb, 512);
    assert_eq!(
        load("decision-log: { max-size-mb: 0 }\n")
            .decision_log
            .max_size_mb,
        0
    );
    let defaults = load("decision-log: {}\n").decision_log;
    assert!(defaults.enabled);
    assert_eq!(defaults.priority, crate::LogPriority::Idle);
    assert_eq!(defaults.retention, Duration::from_secs(7 * 86_400));
    let errs = errors("decision-log: { path: \"\", retention: 0s, queue: 0 }\n");
    assert_eq!(
        errs.to_string(),
        "decision-log.path: path must not be empty\n\
         decision-log.retention: must be greater than 0\n\
         decision-log.queue: must be at least 1"
    );
}

#[test]
fn tenant_errors_are_reported_together() {
    let errs = errors(
        "\
tenants:
  - id: acme
    allowed-regions: [mars]
    risk-floor: nope
  - id: globex
    api-keys: [{ env: GLOBEX_KEY }]
    monthly-budget-usd: -1
anonymous-tenant: nobody
admin: { token: inline }
",
    );
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "anonymous-tenant",
            "tenants[0].api-keys",
            "tenants[0].allowed-regions[0]",
            "tenants[0].risk-floor",
            "tenants[1].monthly-budget-usd",
            "admin.token",
        ]
    );
}

#[test]
fn version_covers_key_sources_but_not_key_values() {
    let a = load(TENANTS);
    let mut other = vars();
    other.insert("ACME_KEY".into(), "k-rotated".into());
    let b = load_str(&format!("{BASE}{TENANTS}"), "t", &other).unwrap();
    assert_eq!(a.version, b.version);
    assert_ne!(a.tenants[0].api_key_hashes, b.tenants[0].api_key_hashes);
    let renamed = load(&TENANTS.replace("ACME_KEY", "ALSO_ACME"));
    assert_ne!(renamed.version, a.version);
    assert_ne!(load("").version, a.version);
}
