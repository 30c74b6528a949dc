//! The scheduled runner against mocks: an hourly budget that skips runs
//! (counted, visible in `/admin/routes`), a suite's data classes kept off
//! a zone that would tokenise them, scores kept per model version (a
//! silent model update gets its own row), and the judge alias in
//! scheduled runs (routed by the policy; a judge that answers garbage
//! fails the rubric instead of passing it).

use std::time::Duration;

use serde_json::Value;
use signalbox_mock::{Faults, QualityFault};
use signalbox_testkit::{Harness, temp_file};

const ADMIN: &str = "admin-secret";

const TWO_CASES: &str = r#"
suite: greetings
data_classes: [email]
cases:
  - id: hello
    intent: support
    messages: [{role: user, content: "hello there, I am ann@example.com"}]
    expect: {refusal: false}
  - id: bye
    intent: support
    messages: [{role: user, content: "goodbye"}]
    expect: {refusal: false}
"#;

const JUDGED: &str = r#"
suite: judged
cases:
  - id: greet
    intent: support
    messages: [{role: user, content: "hello there"}]
    expect: {judge: {rubric: "Answers the greeting instead of refusing it.", min: 0.7}}
"#;

const CONFIG: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: secondary, kind: openai-compatible, base-url: "${SECONDARY_URL}" }
  - { name: judge, kind: openai-compatible, base-url: "${JUDGE_URL}" }
routes:
  - { id: primary-route, provider: primary, model: a, region: us, zone: internal }
  - { id: secondary-route, provider: secondary, model: b, region: us }
  - { id: judge-route, provider: judge, model: j, region: us, zone: internal }
aliases:
  - { name: chat, routes: [primary-route, secondary-route] }
  - { name: grader, routes: [judge-route] }
privacy:
  boundaries:
    - { zone: external, protect: { classes: { email: tokenise } } }
quality:
  every: 1s
  recover-after: 1
${EXTRA}
  suites:
    - path: ${SUITE_PATH}
      routes: [primary-route, secondary-route]
      min-pass-rate: ${MIN}
"#;

async fn start(suite: &str, extra: &str, min: &str) -> Harness {
    start_with(suite, extra, min, "").await
}

/// As [`start`], with `top` (top-level sections) added to the config.
async fn start_with(suite: &str, extra: &str, min: &str, top: &str) -> Harness {
    let (dir, path) = temp_file("schedule", "suite.yaml", suite);
    let yaml = CONFIG.replace("${EXTRA}", extra).replace("${MIN}", min) + top;
    Harness::start(
        &yaml,
        &["primary", "secondary", "judge"],
        &[
            ("SUITE_PATH", path.display().to_string()),
            ("ADMIN_TOKEN", ADMIN.into()),
        ],
    )
    .await
    .keeping(dir)
}

async fn admin(h: &Harness, path: &str) -> Value {
    let resp = h.client.get(h.url(path)).bearer_auth(ADMIN).send().await;
    resp.unwrap().json().await.unwrap_or_default()
}

/// `route`'s quality section in `/admin/routes`.
async fn quality_of(h: &Harness, route: &str) -> Value {
    let routes = admin(h, "/admin/routes").await;
    routes["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["route"] == route)
        .map(|r| r["quality"].clone())
        .unwrap_or_default()
}

/// Polls the metrics until `needle` shows (10 s at most).
async fn wait_metric(h: &Harness, needle: &str) {
    for _ in 0..100 {
        if h.get("/metrics").await.1.contains(needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{needle} never showed: {}", h.get("/metrics").await.1);
}

/// Waits for a run of primary-route skipped for its budget.
async fn wait_budget_skip(h: &Harness) {
    wait_metric(
        h,
        r#"signalbox_quality_skipped_total{route="primary-route",reason="budget"}"#,
    )
    .await;
}

/// Waits for a passing run of primary-route.
async fn wait_passed(h: &Harness) {
    wait_metric(
        h,
        r#"signalbox_quality_runs_total{route="primary-route",result="passed"}"#,
    )
    .await;
}

#[tokio::test]
async fn a_run_over_the_hourly_budget_is_skipped_counted_and_shown() {
    // Two cases a run, three requests an hour: one run, then skips.
    let h = start(
        TWO_CASES,
        "  budget: { requests-per-hour: 3 }",
        "{ refusal: 1.0 }",
    )
    .await;
    wait_budget_skip(&h).await;
    assert_eq!(
        h.mock("primary").stats().requests,
        2,
        "one run of two cases"
    );
    let q = quality_of(&h, "primary-route").await;
    assert_eq!(q["schedule"]["budget"]["requests_this_hour"], 2, "{q}");
    assert!(
        q["schedule"]["skipped"]["budget"].as_u64() >= Some(1),
        "{q}"
    );
    let why = q["schedule"]["last_skip"].as_str().unwrap_or_default();
    assert!(why.contains("would exceed 3 per hour (2 used)"), "{q}");
    h.stop().await;
}

#[tokio::test]
async fn a_suite_carrying_emails_never_reaches_a_zone_that_tokenises_them() {
    let h = start(TWO_CASES, "", "{ refusal: 1.0 }").await;
    wait_metric(
        &h,
        r#"signalbox_quality_skipped_total{route="secondary-route",reason="data_class"}"#,
    )
    .await;
    wait_passed(&h).await;
    assert_eq!(h.mock("secondary").stats().requests, 0);
    let q = quality_of(&h, "secondary-route").await;
    let why = q["schedule"]["last_skip"].as_str().unwrap_or_default();
    assert!(
        why.contains(
            "greetings: data class email: zone external of route secondary-route would tokenise it"
        ),
        "{q}"
    );
    h.stop().await;
}

/// A policy rule for the suite's intent brings its own boundary, which
/// redacts emails in the internal zone: the suite is kept off that zone's
/// route too, naming the rule, though the gateway's boundary leaves the
/// zone alone.
#[tokio::test]
async fn a_rule_boundary_for_the_suites_intent_keeps_it_off_a_zone_that_would_redact() {
    let rule = "policy:\n  rules:\n    - name: support-pii\n      when: { intents: [support] }\n      \
                privacy:\n        - { zone: internal, protect: { classes: { email: redact } } }\n";
    let h = start_with(TWO_CASES, "", "{ refusal: 1.0 }", rule).await;
    wait_metric(
        &h,
        r#"signalbox_quality_skipped_total{route="primary-route",reason="data_class"}"#,
    )
    .await;
    assert_eq!(h.mock("primary").stats().requests, 0);
    let q = quality_of(&h, "primary-route").await;
    let why = q["schedule"]["last_skip"].as_str().unwrap_or_default();
    assert!(
        why.contains(
            "greetings: data class email: rule support-pii's boundary at zone internal of route \
             primary-route would redact it"
        ),
        "{q}"
    );
    h.stop().await;
}

#[tokio::test]
async fn scores_are_kept_per_model_version_and_a_silent_update_gets_its_own_row() {
    let h = start(TWO_CASES, "", "{ refusal: 1.0 }").await;
    wait_passed(&h).await;
    // The model is silently updated and starts refusing.
    h.mock("primary").set_faults(Faults {
        quality: Some(QualityFault::OverRefuse),
        model_version: Some("a-2026-12-01".into()),
        ..Faults::default()
    });
    let path = "/admin/quality/scores?route=primary-route&model_version=a-2026-12-01";
    let mut rows = Value::Null;
    for _ in 0..100 {
        rows = admin(&h, path).await;
        if rows["scores"].as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new = &rows["scores"][0];
    assert_eq!(new["suite"], "greetings", "{rows}");
    assert_eq!(new["scorer"], "refusal");
    assert_eq!(new["prompt_version"], "-");
    assert_eq!(new["pass_rate"], 0.0, "{rows}");
    let all = admin(&h, "/admin/quality/scores?route=primary-route").await;
    let versions: Vec<&str> = all["scores"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["model_version"].as_str())
        .collect();
    assert!(
        versions.contains(&"a"),
        "the old version's row stays: {all}"
    );
    let q = quality_of(&h, "primary-route").await;
    assert!(q["scores"].as_array().is_some_and(|r| !r.is_empty()), "{q}");
    h.stop().await;
}

#[tokio::test]
async fn a_scheduled_run_asks_the_judge_alias_and_garbage_fails_the_rubric() {
    let h = start(JUDGED, "  judge: grader", "{ judge: 1.0 }").await;
    wait_passed(&h).await;
    let judged = h.mock("judge").stats().last_request.unwrap_or_default();
    assert!(judged.to_string().contains("[signalbox-judge]"), "{judged}");
    // The judge starts answering without a grade: the rubric fails, the
    // route is not waved through.
    h.mock("judge").set_faults(Faults {
        quality: Some(QualityFault::DropFacts),
        ..Faults::default()
    });
    wait_metric(&h, r#"signalbox_quality_disabled{route="primary-route"} 1"#).await;
    let q = admin(&h, "/admin/routes").await;
    assert!(q.to_string().contains("the judge gave no grade"), "{q}");
    h.stop().await;
}

const PROMPTED: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
routes:
  - { id: primary-route, provider: primary, model: a, region: us }
aliases:
  - { name: chat, routes: [primary-route] }
prompts:
  - id: support
    versions:
      - { version: v1, template: "You help with {{product}}." }
      - { version: v2, template: "You help with {{product}}, in a strict legal register." }
quality:
  every: 1s
  suites:
    - path: ${SUITE_PATH}
      min-pass-rate: { refusal: 1.0 }
      prompt: support@v2
      prompt-variables: { product: Acme }
"#;

#[tokio::test]
async fn a_suite_under_a_prompt_version_sends_its_wording_and_scores_under_it() {
    let suite = TWO_CASES.replace("data_classes: [email]\n", "");
    let (_dir, path) = temp_file("schedule", "prompted.yaml", &suite);
    let h = Harness::start(
        PROMPTED,
        &["primary"],
        &[
            ("SUITE_PATH", path.display().to_string()),
            ("ADMIN_TOKEN", ADMIN.into()),
        ],
    )
    .await;
    wait_passed(&h).await;
    let sent = h.mock("primary").stats().last_request.unwrap_or_default();
    assert!(
        sent.to_string()
            .contains("You help with Acme, in a strict legal register."),
        "{sent}"
    );
    let rows = admin(&h, "/admin/quality/scores?prompt_version=support@v2").await;
    assert_eq!(rows["scores"][0]["route"], "primary-route", "{rows}");
    assert_eq!(rows["scores"][0]["suite"], "greetings", "{rows}");
    h.stop().await;
}

#[tokio::test]
async fn a_misspelt_data_class_refuses_the_configuration() {
    let misspelt = TWO_CASES.replace("[email]", "[emial]");
    let (_dir, path) = temp_file("schedule", "misspelt.yaml", &misspelt);
    let yaml = CONFIG
        .replace("${EXTRA}", "")
        .replace("${MIN}", "{ refusal: 1.0 }")
        .replace("${SUITE_PATH}", &path.display().to_string());
    let url = "http://127.0.0.1:9".to_owned();
    let config = signalbox_testkit::config(
        &yaml,
        vec![
            ("ADMIN_TOKEN".into(), ADMIN.into()),
            ("PRIMARY_URL".into(), url.clone()),
            ("SECONDARY_URL".into(), url.clone()),
            ("JUDGE_URL".into(), url),
        ],
    );
    let err = signalbox_gateway::Gateway::new(config)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("data_classes: `emial` is neither a built-in class"),
        "{err}"
    );
}

#[tokio::test]
async fn judge_calls_count_against_the_graded_routes_budget() {
    // One case and its judge call a run: two requests; three an hour.
    let h = start(
        JUDGED,
        "  judge: grader\n  budget: { requests-per-hour: 3 }",
        "{ judge: 1.0 }",
    )
    .await;
    wait_budget_skip(&h).await;
    let q = quality_of(&h, "primary-route").await;
    let why = q["schedule"]["last_skip"].as_str().unwrap_or_default();
    assert!(
        why.contains("a run of 2 request(s) would exceed 3 per hour (2 used)"),
        "{q}"
    );
    h.stop().await;
}

const RESIDENT: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
regions: [us, eu]
tenants:
  - { id: acme, api-keys: [{ env: ACME_KEY }], allowed-regions: [eu] }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: secondary, kind: openai-compatible, base-url: "${SECONDARY_URL}" }
  - { name: judgeus, kind: openai-compatible, base-url: "${JUDGEUS_URL}" }
  - { name: judgeeu, kind: openai-compatible, base-url: "${JUDGEEU_URL}" }
routes:
  - { id: eu-route, provider: primary, model: a, region: eu }
  - { id: us-route, provider: secondary, model: b, region: us }
  - { id: judge-us, provider: judgeus, model: j, region: us }
  - { id: judge-eu, provider: judgeeu, model: j, region: eu }
aliases:
  - { name: chat, routes: [eu-route, us-route] }
  - { name: grader, routes: [judge-us, judge-eu] }
quality:
  every: 1s
  tenant: acme
  judge: grader
  suites:
    - path: ${SUITE_PATH}
      min-pass-rate: { judge: 1.0 }
"#;

#[tokio::test]
async fn eval_and_judge_traffic_stay_where_the_eval_tenant_may_go() {
    let (_dir, path) = temp_file("schedule", "resident.yaml", JUDGED);
    let h = Harness::start(
        RESIDENT,
        &["primary", "secondary", "judgeus", "judgeeu"],
        &[
            ("SUITE_PATH", path.display().to_string()),
            ("ADMIN_TOKEN", ADMIN.into()),
            ("ACME_KEY", "acme-key".into()),
        ],
    )
    .await;
    wait_metric(
        &h,
        r#"signalbox_quality_runs_total{route="eu-route",result="passed"}"#,
    )
    .await;
    wait_metric(
        &h,
        r#"signalbox_quality_skipped_total{route="us-route",reason="tenant"}"#,
    )
    .await;
    let q = quality_of(&h, "us-route").await;
    let why = q["schedule"]["last_skip"].as_str().unwrap_or_default();
    assert!(
        why.contains("tenant acme may not use route us-route: region us ∉ [eu]"),
        "{q}"
    );
    assert_eq!(
        h.mock("secondary").stats().requests,
        0,
        "no eval traffic to the us"
    );
    // The judge alias prefers judge-us, but acme's judge requests may not
    // leave the eu.
    assert_eq!(h.mock("judgeus").stats().requests, 0);
    let judged = h.mock("judgeeu").stats().last_request.unwrap_or_default();
    assert!(judged.to_string().contains("[signalbox-judge]"), "{judged}");
    h.stop().await;
}
