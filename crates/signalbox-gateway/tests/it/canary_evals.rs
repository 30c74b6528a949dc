//! A prompt canary judged on eval scores against the mock: the canary's
//! prompt version makes the model pick the wrong tool (a quality fault
//! that follows the prompt's wording: every answer is a 200, so live
//! traffic shows nothing), the scheduled quality runner evaluates both
//! versions on the alias's route, and the canary rolls back at once with
//! the eval score as evidence — while the route, whose own runs pass,
//! keeps serving.

use std::time::Duration;

use serde_json::Value;
use signalbox_mock::{Faults, QualityFault};
use signalbox_testkit::{Harness, temp_file};

use crate::quality::SUITE;

const CONFIG: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
providers:
  - { name: old, kind: openai-compatible, base-url: "${OLD_URL}" }
routes:
  - { id: only-route, provider: old, model: m, region: us, supports: { tools: true } }
aliases:
  - { name: chat, routes: [only-route] }
prompts:
  - id: support
    default-version: v1
    versions:
      - { version: v1, template: "You help with {{product}}." }
      - { version: v2, template: "You help with {{product}}. Answer in TERSE MODE." }
quality:
  every: 1s
  score-window: 1s
  suites:
    - path: ${SUITE_PATH}
      prompt: support@v1
      prompt-variables: { product: Acme }
      min-pass-rate: { tool-call: 1.0 }
canary:
  - name: support-v2
    alias: chat
    prompt: support
    baseline: v1
    canary: v2
    steps: [30, 100]
    window: { min-requests: 1, min-duration: 1s }
"#;

/// A gateway with the suite in a file of its own (`name`): a shared one
/// rewritten by a parallel test can read empty.
async fn start(name: &str) -> Harness {
    start_with(name, CONFIG).await
}

async fn start_with(name: &str, config: &str) -> Harness {
    let (dir, path) = temp_file("canary-evals", &format!("{name}.yaml"), SUITE);
    Harness::start(
        config,
        &["old"],
        &[
            ("SUITE_PATH", path.display().to_string()),
            ("ADMIN_TOKEN", "admin-secret".into()),
        ],
    )
    .await
    .keeping(dir)
}

async fn status(h: &Harness) -> Value {
    h.admin_json("/admin/canary", "admin-secret").await["canaries"][0].clone()
}

/// The evidence of the canary's rollback (waited for 60 s at most), with
/// the model picking the wrong tool whenever v2's wording is in front.
async fn rolled_back_with_a_bad_v2(h: &Harness) -> String {
    h.mock("old").set_faults(Faults {
        quality: Some(QualityFault::WrongTool),
        quality_when_body_contains: Some("TERSE MODE".into()),
        ..Faults::default()
    });
    let mut s = status(h).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while s["phase"] == "stepping" && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        s = status(h).await;
    }
    assert_eq!(s["phase"], "rolled_back", "{s}");
    let last = &s["events"].as_array().unwrap().last().unwrap()["evidence"];
    last.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_prompt_version_that_fails_its_suite_is_rolled_back_on_the_eval_score() {
    let h = start("fails").await;
    let evidence = rolled_back_with_a_bad_v2(&h).await;
    assert!(
        evidence.starts_with(
            "eval suite weather-tools scorer tool-call: support@v2 pass rate 0% (0/1) below the \
             suite's min-pass-rate 100% (baseline support@v1 100% (1/1))"
        ),
        "{evidence}"
    );
    // The scores name both versions on the alias's route.
    let scores = h
        .admin_json(
            "/admin/quality/scores?route=only-route&suite=weather-tools",
            "admin-secret",
        )
        .await;
    let versions: Vec<&str> = scores["scores"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["prompt_version"].as_str())
        .collect();
    assert!(versions.contains(&"support@v1"), "{scores}");
    assert!(versions.contains(&"support@v2"), "{scores}");
    // The canary's version failing is the canary's regression, not the
    // route's: its own runs (under v1) pass and it keeps serving.
    let routes = h.admin_json("/admin/routes", "admin-secret").await;
    let route = &routes["routes"][0];
    assert!(route["health"]["quality_regression"].is_null(), "{route}");
}

/// One request of `session` using the registered prompt without naming a
/// version.
async fn ask_prompt(h: &Harness, session: &str) {
    h.chat_with(
        &signalbox_testkit::chat_body("chat", "hi"),
        &[
            ("x-signalbox-session", session),
            ("x-request-id", session),
            ("x-signalbox-prompt", "support"),
            ("x-signalbox-prompt-variables", r#"{"product":"Acme"}"#),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_prompt_version_that_passes_its_suite_is_promoted_to_completion() {
    let h = start("passes").await;
    let mut s = status(&h).await;
    // Two steps, each a 1 s window and an eval run of the canary's version
    // in it: seconds on an idle machine, bounded by a deadline rather than
    // a count of rounds (a loaded machine once ran out of 300 rounds).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for i in 0.. {
        if s["phase"] != "stepping" || tokio::time::Instant::now() > deadline {
            break;
        }
        ask_prompt(&h, &format!("s-{i}")).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        s = status(&h).await;
    }
    assert_eq!(s["phase"], "completed", "{s}");
    let events = s["events"].as_array().unwrap();
    assert!(
        events.iter().all(|e| e["event"] != "rolled_back"),
        "{events:?}"
    );
    // Each step was promoted on an eval of the canary's version in it.
    for e in events.iter().filter(|e| e["event"] != "started") {
        let evidence = e["evidence"].as_str().unwrap_or_default();
        assert!(
            evidence.contains("; eval support@v2: weather-tools tool-call 100% ("),
            "{e}"
        );
    }
}

/// A suite whose floor any version meets (`min-pass-rate` 0) still rolls
/// back a version that scores further below the baseline version than the
/// canary's `eval-drop`.
#[tokio::test]
async fn a_prompt_version_further_below_the_baseline_than_its_eval_drop_is_rolled_back() {
    let config = CONFIG.replace(
        "min-pass-rate: { tool-call: 1.0 }",
        "min-pass-rate: { tool-call: 0.0 }",
    );
    let h = start_with("drop", &config).await;
    let evidence = rolled_back_with_a_bad_v2(&h).await;
    assert!(
        evidence.starts_with(
            "eval suite weather-tools scorer tool-call: support@v2 pass rate 0% (0/1) more than \
             10 points below the baseline support@v1 100% ("
        ) && evidence.contains("(eval-drop 0.1; the suite's min-pass-rate 0%)"),
        "{evidence}"
    );
}
