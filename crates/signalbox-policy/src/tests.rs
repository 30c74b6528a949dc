use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use signalbox_config::{Config, FailureMode, load_str};
use signalbox_core::ChatRequest;

use super::*;

const POLICY: &str = r#"
regions: [us, eu]
providers:
  - { name: p, kind: openai-compatible, base-url: "http://127.0.0.1:9/v1" }
routes:
  - { id: us-big, provider: p, model: m, region: us, context-window: 128000, supports: { tools: true, json-mode: true, streaming: true }, price: { input-per-1m: 2.5, output-per-1m: 10 }, retention: zero, max-risk-tier: sensitive }
  - { id: eu-big, provider: p, model: m, region: eu, context-window: 128000, supports: { tools: true, streaming: true }, price: { input-per-1m: 3, output-per-1m: 12 }, retention: zero, max-risk-tier: restricted }
  - { id: eu-small, provider: p, model: m, region: eu, context-window: 4096, max-output-tokens: 1024, supports: { tools: false, streaming: true }, price: { input-per-1m: 0.1, output-per-1m: 0.2 }, retention: standard, max-risk-tier: sensitive }
tenants:
  - { id: acme, plan: enterprise, api-keys: [{ env: ACME_KEY }], allowed-regions: [eu], risk-floor: internal, max-risk-tier: restricted }
  - { id: globex, api-keys: [{ env: GLOBEX_KEY }], allowed-regions: [us, eu], preferred-regions: [us] }
  - { id: guest }
anonymous-tenant: guest
intents:
  default: general
  rules:
    - { name: tools-action, when: { tools: true }, intent: action }
    - { name: draft-keywords, when: { last-user-message: "(?i)\\b(draft|compose)\\b" }, intent: drafting }
policy:
  rules:
    - name: zero-retention-for-acme-actions
      when: { tenants: [acme], intents: [action] }
      require: { retention: zero }
      failure-mode: fail-closed
    - name: cheap-drafting
      when: { intents: [drafting] }
      objectives: { max-cost-usd: 0.001, weights: { preference: 0, cost: 1 } }
    - name: beta-header
      when: { headers: { x-feature: beta } }
      routes: [eu-small, eu-big]
aliases:
  - { name: chat, routes: [us-big, eu-big, eu-small] }
"#;

fn snapshot() -> PolicySnapshot {
    snapshot_of(POLICY)
}

fn snapshot_of(policy: &str) -> PolicySnapshot {
    let vars: HashMap<String, String> =
        [("ACME_KEY", "acme-secret"), ("GLOBEX_KEY", "globex-secret")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
    let config: Config = load_str(policy, "<test>", &vars).unwrap_or_else(|e| panic!("{e}"));
    PolicySnapshot::new(Arc::new(config))
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn chat(extra: serde_json::Value, text: &str) -> ChatRequest {
    let mut body =
        serde_json::json!({"model": "chat", "messages": [{"role": "user", "content": text}]});
    if let serde_json::Value::Object(m) = extra {
        body.as_object_mut().unwrap().extend(m);
    }
    ChatRequest::parse(body.to_string().as_bytes()).unwrap()
}

/// Runs the whole policy for a request; returns signals and decision.
fn run(
    snap: &PolicySnapshot,
    h: &HeaderMap,
    req: &ChatRequest,
) -> Result<(Signals, Decision), PolicyError> {
    let (tenant, anon) = authenticate(snap, h)?;
    let s = extract(snap, tenant, anon, h, req)?;
    let d = decide(snap, &s, h, &NoObservations);
    Ok((s, d))
}

fn routes(snap: &PolicySnapshot, d: &Decision) -> Vec<String> {
    d.candidates
        .iter()
        .map(|&i| snap.config().routes[i.get()].id.to_string())
        .collect()
}

#[test]
fn authentication_by_key_or_anonymous() {
    let snap = snapshot();
    assert_eq!(authenticate(&snap, &headers(&[])).unwrap(), (2, true));
    assert_eq!(
        authenticate(&snap, &headers(&[("authorization", "Bearer acme-secret")])).unwrap(),
        (0, false)
    );
    assert_eq!(
        authenticate(&snap, &headers(&[("x-api-key", "globex-secret")])).unwrap(),
        (1, false)
    );
    assert_eq!(
        authenticate(&snap, &headers(&[("authorization", "Bearer nope")])),
        Err(PolicyError::UnknownKey)
    );
}

#[test]
fn residency_keeps_an_eu_tenant_in_the_eu() {
    let snap = snapshot();
    let h = headers(&[("authorization", "Bearer acme-secret")]);
    let (s, d) = run(&snap, &h, &chat(serde_json::json!({}), "hello")).unwrap();
    assert_eq!(routes(&snap, &d), ["eu-big", "eu-small"]);
    let trace = d.trace(&snap, &s);
    let us = trace
        .candidates
        .iter()
        .find(|c| c.route == "us-big")
        .unwrap();
    assert!(!us.eligible);
    assert!(
        us.verdicts
            .iter()
            .any(|v| v.constraint == "region" && !v.ok && v.detail == "region us ∉ [eu] ✗")
    );
    assert_eq!(d.excluded(&snap, &s), ["us-big: region us ∉ [eu] ✗"]);
}

#[test]
fn headers_only_narrow_the_tenant() {
    let snap = snapshot();
    let acme =
        |extra: (&'static str, &str)| headers(&[("authorization", "Bearer acme-secret"), extra]);
    let req = chat(serde_json::json!({}), "hello");
    let err = run(&snap, &acme(("x-signalbox-region", "us")), &req).unwrap_err();
    assert!(
        matches!(&err, PolicyError::Forbidden(m) if m.contains("may not request region us")),
        "{err}"
    );
    let err = run(&snap, &acme(("x-signalbox-risk-tier", "public")), &req).unwrap_err();
    assert!(
        matches!(&err, PolicyError::Forbidden(m) if m.contains("below tenant acme's floor internal")),
        "{err}"
    );
    // Raising is fine, and narrows the routes to those allowed at that tier.
    let (_, d) = run(&snap, &acme(("x-signalbox-risk-tier", "restricted")), &req).unwrap();
    assert_eq!(routes(&snap, &d), ["eu-big"]);
    let err = run(&snap, &acme(("x-signalbox-region", "mars")), &req).unwrap_err();
    assert!(matches!(err, PolicyError::BadHeader { .. }));
    // Globex may pin itself to the EU.
    let h = headers(&[
        ("authorization", "Bearer globex-secret"),
        ("x-signalbox-region", "eu"),
    ]);
    let (_, d) = run(&snap, &h, &req).unwrap();
    assert_eq!(routes(&snap, &d), ["eu-big", "eu-small"]);
}

#[test]
fn preferred_regions_rank_first() {
    let snap = snapshot();
    let h = headers(&[("authorization", "Bearer globex-secret")]);
    let (_, d) = run(&snap, &h, &chat(serde_json::json!({}), "hello")).unwrap();
    assert_eq!(routes(&snap, &d), ["us-big", "eu-big", "eu-small"]);
}

#[test]
fn tools_requests_never_reach_routes_without_tools() {
    let snap = snapshot();
    let tools =
        serde_json::json!({"tools": [{"type": "function", "function": {"name": "lookup"}}]});
    let (s, d) = run(&snap, &headers(&[]), &chat(tools, "hi")).unwrap();
    assert_eq!(s.intent, "action");
    assert_eq!(routes(&snap, &d), ["us-big", "eu-big"]);
}

#[test]
fn context_window_uses_the_token_estimate() {
    let snap = snapshot();
    let long = "word ".repeat(5000);
    let (s, d) = run(&snap, &headers(&[]), &chat(serde_json::json!({}), &long)).unwrap();
    assert!(s.prompt_tokens > 4096, "{}", s.prompt_tokens);
    assert_eq!(routes(&snap, &d), ["us-big", "eu-big"]);
}

#[test]
fn max_tokens_above_a_route_limit_is_clamped_unless_the_route_refuses() {
    let req = chat(serde_json::json!({"max_tokens": 2000}), "short");
    let snap = snapshot();
    let (_, d) = run(&snap, &headers(&[]), &req).unwrap();
    assert_eq!(
        routes(&snap, &d),
        ["us-big", "eu-big", "eu-small"],
        "eu-small (1024 output tokens) clamps by default"
    );
    let refusing = POLICY.replace(
        "max-output-tokens: 1024,",
        "max-output-tokens: 1024, max-output: refuse,",
    );
    let snap = snapshot_of(&refusing);
    let (_, d) = run(&snap, &headers(&[]), &req).unwrap();
    assert_eq!(
        routes(&snap, &d),
        ["us-big", "eu-big"],
        "eu-small refuses more than 1024 output tokens"
    );
}

#[test]
fn rules_match_in_order_and_record_why_not() {
    let snap = snapshot();
    let tools =
        serde_json::json!({"tools": [{"type": "function", "function": {"name": "lookup"}}]});
    let h = headers(&[("authorization", "Bearer acme-secret")]);
    let (s, d) = run(&snap, &h, &chat(tools, "hi")).unwrap();
    assert_eq!(d.rule_name(&snap), Some("zero-retention-for-acme-actions"));
    assert_eq!(d.failure_mode, FailureMode::FailClosed);
    assert_eq!(d.max_attempts, 1, "fail-closed flows never fall back");
    assert_eq!(routes(&snap, &d), ["eu-big"]);
    let (s2, d2) = run(
        &snap,
        &headers(&[("x-feature", "beta")]),
        &chat(serde_json::json!({}), "hi"),
    )
    .unwrap();
    let t = d2.trace(&snap, &s2);
    assert_eq!(t.rules.len(), 3);
    assert_eq!(
        t.rules[0].failed.as_deref(),
        Some("tenants: guest ∉ [acme]")
    );
    assert_eq!(
        t.rules[1].failed.as_deref(),
        Some("intents: general ∉ [drafting]")
    );
    assert!(t.rules[2].matched);
    assert_eq!(routes(&snap, &d2), ["eu-small", "eu-big"]);
    let _ = s;
}

#[test]
fn cost_ceiling_excludes_expensive_routes() {
    let snap = snapshot();
    let (s, d) = run(
        &snap,
        &headers(&[]),
        &chat(serde_json::json!({}), "please draft a note"),
    )
    .unwrap();
    assert_eq!(s.intent, "drafting");
    assert_eq!(d.rule_name(&snap), Some("cheap-drafting"));
    assert_eq!(routes(&snap, &d), ["eu-small"]);
    let t = d.trace(&snap, &s);
    let big = t.candidates.iter().find(|c| c.route == "us-big").unwrap();
    assert!(
        big.verdicts
            .iter()
            .any(|v| v.constraint == "cost_ceiling" && !v.ok)
    );
}

#[test]
fn no_eligible_route_is_a_refusal_naming_each_reason() {
    let snap = snapshot();
    let h = headers(&[("authorization", "Bearer acme-secret")]);
    let req = chat(
        serde_json::json!({"tools": [{"type": "function", "function": {"name": "x"}}]}),
        &"word ".repeat(140_000),
    );
    let (_, d) = run(&snap, &h, &req).unwrap();
    let Some(PolicyError::NoEligibleRoute { reasons, .. }) = &d.refusal else {
        panic!("{d:?}")
    };
    assert!(
        reasons.contains("eu-big: context_window 128000 <"),
        "{reasons}"
    );
    assert!(d.candidates.is_empty());
}

#[test]
fn intent_header_overrides_rules() {
    let snap = snapshot();
    let (s, _) = run(
        &snap,
        &headers(&[("x-signalbox-intent", "search")]),
        &chat(serde_json::json!({}), "draft it"),
    )
    .unwrap();
    assert_eq!(s.intent, "search");
    assert_eq!(s.intent_source, signalbox_core::SignalSource::Header);
    let recs = s.records(&snap);
    assert!(recs.iter().any(|r| {
        r.name == "prompt_tokens"
            && r.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("estimate:"))
    }));
}

#[test]
fn unknown_model_is_refused() {
    let snap = snapshot();
    let req =
        ChatRequest::parse(br#"{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}"#)
            .unwrap();
    assert!(matches!(
        run(&snap, &headers(&[]), &req),
        Err(PolicyError::UnknownModel { .. })
    ));
}

struct Slow(usize);

impl Observations for Slow {
    fn latency(&self, route: signalbox_core::RouteIdx) -> Option<Duration> {
        Some(if route.get() == self.0 {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(100)
        })
    }
}

#[test]
fn latency_observations_feed_the_ranking() {
    let yaml = POLICY.replace(
        "    - name: beta-header",
        "    - name: fast\n      when: { headers: { x-fast: \"1\" } }\n      objectives: { latency-slo: 1s }\n    - name: beta-header",
    );
    let vars: HashMap<String, String> = [("ACME_KEY", "a"), ("GLOBEX_KEY", "g")]
        .map(|(k, v)| (k.into(), v.into()))
        .into();
    let snap = PolicySnapshot::new(Arc::new(load_str(&yaml, "<t>", &vars).unwrap()));
    let h = headers(&[("x-fast", "1")]);
    let req = chat(serde_json::json!({}), "hi");
    let (tenant, anon) = authenticate(&snap, &h).unwrap();
    let s = extract(&snap, tenant, anon, &h, &req).unwrap();
    let d = decide(&snap, &s, &h, &Slow(0));
    assert_eq!(
        routes(&snap, &d),
        ["eu-big", "eu-small", "us-big"],
        "the slow route drops below the SLO"
    );
}

proptest! {
    // Whatever the routes and the tenant, every candidate satisfies the
    // region and capability constraints.
    #[test]
    fn candidates_never_violate_hard_constraints(
        route_regions in proptest::collection::vec(0usize..3, 1..8),
        route_tools in proptest::collection::vec(any::<bool>(), 8),
        allowed in proptest::collection::vec(0usize..3, 1..3),
        wants_tools in any::<bool>(),
    ) {
        let names = ["us", "eu", "uk"];
        let mut yaml = String::from("regions: [us, eu, uk]\nproviders:\n  - { name: p, kind: openai-compatible, base-url: \"http://127.0.0.1:9/v1\" }\nroutes:\n");
        for (i, r) in route_regions.iter().enumerate() {
            yaml.push_str(&format!("  - {{ id: r{i}, provider: p, model: m, region: {}, supports: {{ tools: {} }} }}\n", names[*r], route_tools[i]));
        }
        let allowed: Vec<&str> = allowed.iter().collect::<std::collections::BTreeSet<_>>().into_iter().map(|i| names[*i]).collect();
        yaml.push_str(&format!("tenants:\n  - {{ id: t, allowed-regions: [{}] }}\nanonymous-tenant: t\n", allowed.join(", ")));
        let ids: Vec<String> = (0..route_regions.len()).map(|i| format!("r{i}")).collect();
        yaml.push_str(&format!("aliases:\n  - {{ name: chat, routes: [{}] }}\n", ids.join(", ")));
        let snap = PolicySnapshot::new(Arc::new(load_str(&yaml, "<p>", &HashMap::new()).unwrap()));
        let extra = if wants_tools { serde_json::json!({"tools": [{"type": "function", "function": {"name": "f"}}]}) } else { serde_json::json!({}) };
        let (_, d) = run(&snap, &headers(&[]), &chat(extra, "hi")).unwrap();
        for &i in &d.candidates {
            let r = &snap.config().routes[i.get()];
            prop_assert!(allowed.contains(&r.region.as_str()));
            prop_assert!(!wants_tools || r.supports.tools);
        }
        // And nothing eligible was left out.
        let eligible = route_regions.iter().enumerate().filter(|(i, r)| allowed.contains(&names[**r]) && (!wants_tools || route_tools[*i])).count();
        prop_assert_eq!(d.candidates.len(), eligible);
    }
}

/// A prompt an Anthropic client put in a `document` block is not in the
/// OpenAI view (it is forwarded only to Anthropic routes), yet it is sent:
/// the context window, cost and token limits must see it.
#[test]
fn a_document_the_openai_view_lacks_still_counts_against_the_context_window() {
    use signalbox_core::request::{NativeBody, Origin, WireFormat};
    let snap = snapshot();
    let long = "word ".repeat(5000);
    let native = serde_json::json!({"model": "chat", "max_tokens": 64, "messages": [
        {"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": long}},
            {"type": "text", "text": "hello"}]}]});
    let serde_json::Value::Object(body) = native else {
        unreachable!()
    };
    let req = chat(serde_json::json!({}), "hello").with_origin(Some(Origin {
        native: NativeBody {
            format: WireFormat::Anthropic,
            body,
            beta: None,
        },
        untranslatable: Some("messages[0].content[0]: content type `document`".into()),
        notes: Vec::new(),
    }));
    let (s, d) = run(&snap, &headers(&[]), &req).unwrap();
    assert!(s.prompt_tokens > 4096, "{}", s.prompt_tokens);
    assert_eq!(routes(&snap, &d), ["us-big", "eu-big"]);
    // The view's own estimate stands for a request without such parts.
    let (plain, _) = run(&snap, &headers(&[]), &chat(serde_json::json!({}), "hello")).unwrap();
    assert!(plain.prompt_tokens < 100, "{}", plain.prompt_tokens);
}

/// The same for a Responses body's items only a passthrough carries (a
/// built-in tool's earlier output left in `input`).
#[test]
fn a_responses_item_the_openai_view_lacks_still_counts_against_the_context_window() {
    use signalbox_core::request::{NativeBody, Origin, WireFormat};
    let snap = snapshot();
    let long = "word ".repeat(5000);
    let native = serde_json::json!({"model": "chat", "instructions": "be brief", "input": [
        {"role": "user", "content": "hello"},
        {"type": "mcp_call", "id": "m1", "name": "fetch", "output": long}]});
    let serde_json::Value::Object(body) = native else {
        unreachable!()
    };
    let req = chat(serde_json::json!({}), "hello").with_origin(Some(Origin {
        native: NativeBody {
            format: WireFormat::Responses,
            body,
            beta: None,
        },
        untranslatable: Some("input[1].type: item `mcp_call`".into()),
        notes: Vec::new(),
    }));
    let (s, d) = run(&snap, &headers(&[]), &req).unwrap();
    assert!(s.prompt_tokens > 4096, "{}", s.prompt_tokens);
    assert_eq!(routes(&snap, &d), ["us-big", "eu-big"]);
}

#[test]
fn a_route_outside_the_chain_is_admitted_only_under_the_same_constraints() {
    let snap = snapshot();
    let idx = |id: &str| {
        signalbox_core::RouteIdx::new(
            snap.config()
                .routes
                .iter()
                .position(|r| r.id.as_str() == id)
                .unwrap(),
        )
    };
    // acme is served in the eu only, and its action intent needs zero retention.
    let h = headers(&[("authorization", "Bearer acme-secret")]);
    let (s, d) = run(&snap, &h, &chat(serde_json::json!({}), "hello")).unwrap();
    assert!(d.admits(&snap, &s, idx("eu-big")));
    assert!(!d.admits(&snap, &s, idx("us-big")), "residency");
    let tools = serde_json::json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]});
    let (s, d) = run(&snap, &h, &chat(tools, "hello")).unwrap();
    assert!(!d.admits(&snap, &s, idx("eu-small")), "retention and tools");
    assert!(d.admits(&snap, &s, idx("eu-big")));
}

mod endpoints;
