//! The quality loop closed end to end: a route whose model silently starts
//! answering tool calls with arguments of the wrong type (a mock quality
//! fault, invisible to breakers: every answer is a 200) stops serving
//! after its suite run fails, requests go to the other route and say why
//! in their record, and the route serves again once its runs pass.

use std::time::Duration;

use signalbox_core::SkipKind;
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, temp_file};

use crate::header;

pub(crate) const SUITE: &str = r#"
suite: weather-tools
cases:
  - id: weather-call
    intent: weather
    messages: [{role: user, content: "What is the weather in Paris?"}]
    tools:
      - name: get_weather
        parameters: {type: object, properties: {location: {type: string}}, required: [location]}
    expect: {tool: {name: get_weather}}
"#;

pub(crate) const CONFIG: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: secondary, kind: openai-compatible, base-url: "${SECONDARY_URL}" }
routes:
  - { id: primary-route, provider: primary, model: a, region: us, supports: { tools: true } }
  - { id: secondary-route, provider: secondary, model: b, region: us, supports: { tools: true } }
aliases:
  - { name: chat, routes: [primary-route, secondary-route] }
quality:
  every: 1s
  recover-after: 1
  suites:
    - path: ${SUITE_PATH}
      min-pass-rate: { tool-call: 1.0 }
"#;

async fn start() -> Harness {
    start_with(SUITE, CONFIG).await
}

/// A gateway judging its routes with `suite` under `config`.
pub(crate) async fn start_with(suite: &str, config: &str) -> Harness {
    // A file of its own per harness: a shared one rewritten by a parallel
    // test can read empty.
    let (dir, path) = temp_file("quality", "weather.yaml", suite);
    Harness::start(
        config,
        &["primary", "secondary"],
        &[
            ("SUITE_PATH", path.display().to_string()),
            ("ADMIN_TOKEN", "admin-secret".into()),
        ],
    )
    .await
    .keeping(dir)
}

/// The route serving a plain question.
async fn served_by(h: &Harness, id: &str) -> String {
    let resp = h
        .chat_with(
            &signalbox_testkit::chat_body("chat", "hi"),
            &[("x-request-id", id)],
        )
        .await;
    header(&resp, "x-signalbox-route").to_owned()
}

async fn metrics(h: &Harness) -> String {
    h.get("/metrics").await.1
}

#[tokio::test]
async fn a_silent_quality_regression_moves_traffic_away_and_back() {
    let h = start().await;
    let passed = r#"signalbox_quality_runs_total{route="primary-route",result="passed"}"#;
    let mut ok = false;
    for _ in 0..100 {
        if metrics(&h).await.contains(passed) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "no passing run of primary-route: {}", metrics(&h).await);
    assert_eq!(served_by(&h, "q-0").await, "primary-route");

    // The model silently changes: still 200s, wrong argument types.
    h.mock("primary").set_faults(Faults {
        corrupt_tool_arguments: true,
        ..Faults::default()
    });
    let mut moved = false;
    for i in 0..100 {
        if served_by(&h, &format!("q-moved-{i}")).await == "secondary-route" {
            let record = h.record(&format!("q-moved-{i}")).await;
            let skip = record
                .skipped
                .iter()
                .find(|s| s.route == "primary-route")
                .cloned();
            let skip = skip.unwrap_or_else(|| panic!("no skip of primary-route in {record:?}"));
            assert_eq!(skip.kind, SkipKind::QualityRegression);
            assert!(skip.reason.contains("tool-call"), "{}", skip.reason);
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        moved,
        "traffic never left primary-route: {}",
        metrics(&h).await
    );
    assert!(
        metrics(&h)
            .await
            .contains(r#"signalbox_quality_disabled{route="primary-route"} 1"#)
    );
    // Operators see why in /admin/routes.
    let primary = admin_route(&h, "primary-route").await;
    let why = primary["health"]["quality_regression"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("weather-tools tool-call"), "{primary}");

    // Fixed: the next passing run restores it.
    h.mock("primary").set_faults(Faults::default());
    let mut back = false;
    for i in 0..100 {
        if served_by(&h, &format!("q-back-{i}")).await == "primary-route" {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "primary-route never recovered: {}", metrics(&h).await);
    h.stop().await;
}

#[tokio::test]
async fn a_broken_suite_is_refused_with_the_config_naming_the_field() {
    let broken = SUITE.replace("name: get_weather}", "name: get_wether}");
    let (_dir, path) = temp_file("quality-bad", "broken.yaml", &broken);
    let yaml = CONFIG.replace("${SUITE_PATH}", &path.display().to_string());
    let config = signalbox_testkit::config(
        &yaml,
        vec![
            ("ADMIN_TOKEN".into(), "admin-secret".into()),
            ("PRIMARY_URL".into(), "http://127.0.0.1:9".into()),
            ("SECONDARY_URL".into(), "http://127.0.0.1:9".into()),
        ],
    );
    let err = signalbox_gateway::Gateway::new(config)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("cases[0].expect.tool.name"), "{err}");
}

/// A silent model update (a new model version in the answers) that calls
/// a tool that was never offered: the tool-call scorer catches it and the
/// route stops serving, though every answer is a well-formed 200.
#[tokio::test]
async fn a_silent_model_update_calling_the_wrong_tool_is_caught() {
    let h = start().await;
    h.mock("primary").set_faults(Faults {
        quality: Some(signalbox_mock::QualityFault::WrongTool),
        model_version: Some("a-2026-12-01".into()),
        ..Faults::default()
    });
    let mut moved = None;
    for i in 0..100 {
        let id = format!("q-wrong-{i}");
        if served_by(&h, &id).await == "secondary-route" {
            moved = Some(h.record(&id).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let record = moved.unwrap_or_else(|| panic!("traffic never left: {}", "primary-route"));
    let skip = record
        .skipped
        .iter()
        .find(|s| s.route == "primary-route")
        .cloned()
        .unwrap_or_else(|| panic!("no skip in {record:?}"));
    assert_eq!(skip.kind, SkipKind::QualityRegression);
    assert!(skip.reason.contains("tool-call"), "{}", skip.reason);
    // The transition is an event in the audit trail (what-changed lists it).
    audit_event(&h, "route primary-route disabled").await;
    // The skip (and so the event) names the model version change.
    assert!(
        skip.reason
            .contains("answered by model version a-2026-12-01, not the route's a"),
        "{}",
        skip.reason
    );
    h.stop().await;
}

/// A route that meets its floor but misses its warn bar keeps serving, but
/// after the routes that pass: ranked lower, never skipped, and the mark
/// clears once its answers pass again.
#[tokio::test]
async fn a_missed_warn_bar_ranks_the_route_lower_without_skipping_it() {
    let h = start_warned("w").await;
    // The transition is an event in the audit trail, like a disable.
    audit_event(&h, "route primary-route warned: it keeps 25% of its traffic first: weather-tools tool-call 0.00 < 1.00").await;
    assert_eq!(served_by(&h, "w-1").await, "secondary-route");
    let record = h.record("w-1").await;
    assert!(
        record.skipped.iter().all(|s| s.route != "primary-route"),
        "a warning never skips: {record:?}"
    );
    // With the secondary gone, the warned primary still serves.
    h.mock("secondary").set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    assert_eq!(served_by(&h, "w-2").await, "primary-route");
    // Its answers pass again: the mark clears, as an event too.
    h.mock("primary").set_faults(Faults::default());
    audit_event(&h, "route primary-route warning cleared").await;
    h.stop().await;
}

/// Waits (5 s at most) for a `signalbox-quality` event in the audit trail
/// whose detail starts with `detail`.
pub(crate) async fn audit_event(h: &Harness, detail: &str) {
    for _ in 0..100 {
        let audit = h.admin_json("/admin/audit?limit=50", "admin-secret").await;
        let found = audit["audit"].as_array().into_iter().flatten().any(|e| {
            e["who"] == "signalbox-quality"
                && e["detail"].as_str().is_some_and(|d| d.starts_with(detail))
        });
        if found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no event {detail:?} in the audit trail");
}

/// A gateway whose primary route meets its floor but misses its warn bar
/// (its tool calls carry arguments of the wrong type), once it is warned.
async fn start_warned(name: &str) -> Harness {
    let (dir, path) = temp_file("warn", &format!("weather-{name}.yaml"), SUITE);
    let config = CONFIG.replace(
        "min-pass-rate: { tool-call: 1.0 }",
        "min-pass-rate: { tool-call: 0.0 }\n      warn-pass-rate: { tool-call: 1.0 }",
    );
    let h = Harness::start(
        &config,
        &["primary", "secondary"],
        &[
            ("SUITE_PATH", path.display().to_string()),
            ("ADMIN_TOKEN", "admin-secret".into()),
        ],
    )
    .await
    .keeping(dir);
    assert_eq!(served_by(&h, &format!("{name}-0")).await, "primary-route");
    h.mock("primary").set_faults(Faults {
        corrupt_tool_arguments: true,
        ..Faults::default()
    });
    let warned = r#"signalbox_quality_warned{route="primary-route"} 1"#;
    let mut seen = false;
    for _ in 0..100 {
        if metrics(&h).await.contains(warned) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "never warned: {}", metrics(&h).await);
    h
}

/// `GET /admin/decisions/{id}?format=text`: what `signalbox explain` prints.
pub(crate) async fn explained(h: &Harness, id: &str) -> String {
    h.client
        .get(h.url(&format!("/admin/decisions/{id}?format=text")))
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A warned route moved after the others for a request is named in that
/// request's record, in `GET /admin/decisions/{id}` and in its explanation,
/// with its warning, its share and the order tried; a request for which it
/// kept its place (its warn-weight share) names nothing.
#[tokio::test]
async fn a_request_for_which_a_warned_route_was_moved_back_says_so() {
    let h = start_warned("moved").await;
    let (mut moved, mut kept) = (None, None);
    // The share is a hash of the request's id: fixed ids, fixed split.
    for i in 0..40 {
        let id = format!("moved-req-{i}");
        match served_by(&h, &id).await.as_str() {
            "secondary-route" => moved = moved.or(Some(id)),
            _ => kept = kept.or(Some(id)),
        }
    }
    let (Some(moved), Some(kept)) = (moved, kept) else {
        panic!("40 requests all on one side of a 25% share");
    };
    let record = h.record(&moved).await;
    let reordered = record
        .reordered
        .unwrap_or_else(|| panic!("no reorder in the moved request's record"));
    assert_eq!(reordered.order, ["secondary-route", "primary-route"]);
    let d = &reordered.demoted[0];
    assert_eq!(d.route, "primary-route");
    assert_eq!(d.kind, signalbox_core::DemotionKind::QualityWarning);
    assert_eq!(d.share, 0.25);
    assert!(
        d.reason.contains("weather-tools tool-call 0.00 < 1.00"),
        "{}",
        d.reason
    );
    let json = h
        .admin_json(&format!("/admin/decisions/{moved}"), "admin-secret")
        .await;
    assert_eq!(
        json["reordered"]["demoted"][0]["kind"], "quality_warning",
        "{json}"
    );
    let text = explained(&h, &moved).await;
    assert!(
        text.contains("secondary-route chosen (ranked 2 of 2 eligible); primary-route ranked lower (quality_warning)"),
        "{text}"
    );
    assert!(
        text.contains(
            "  primary-route ranked lower (quality_warning): quality warning: weather-tools \
             tool-call 0.00 < 1.00 (warn bar; intent weather) (it keeps its place for 25% of requests; this one was not \
             among them)\n  tried in order: secondary-route, primary-route\n"
        ),
        "{text}"
    );

    assert_eq!(h.record(&kept).await.reordered, None);
    let text = explained(&h, &kept).await;
    assert!(text.contains("primary-route chosen"), "{text}");
    assert!(!text.contains("ranked lower"), "{text}");
    h.stop().await;
}

/// The mock's under-refusal (it answers a request a well-behaved model
/// refuses) and tool arguments that are not JSON each fail the suite and
/// move traffic away, naming the scorer.
#[tokio::test]
async fn under_refusal_and_invalid_tool_json_are_caught() {
    let suite = format!(
        "{SUITE}  - id: harmful\n    intent: safety\n    \
         messages: [{{role: user, content: \"Tell me how to {}.\"}}]\n    \
         expect: {{refusal: true}}\n",
        signalbox_mock::HARMFUL
    );
    let config = CONFIG.replace("{ tool-call: 1.0 }", "{ tool-call: 1.0, refusal: 1.0 }");
    for (fault, scorer) in [
        (signalbox_mock::QualityFault::UnderRefuse, "refusal"),
        (signalbox_mock::QualityFault::InvalidToolJson, "tool-call"),
    ] {
        let h = start_with(&suite, &config).await;
        let passed = r#"signalbox_quality_runs_total{route="primary-route",result="passed"}"#;
        for _ in 0..100 {
            if metrics(&h).await.contains(passed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            metrics(&h).await.contains(passed),
            "the healthy mock passes"
        );
        h.mock("primary").set_faults(Faults {
            quality: Some(fault),
            ..Faults::default()
        });
        let mut skip = None;
        for i in 0..100 {
            let id = format!("q-{scorer}-{i}");
            if served_by(&h, &id).await == "secondary-route" {
                skip = h
                    .record(&id)
                    .await
                    .skipped
                    .into_iter()
                    .find(|s| s.route == "primary-route");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let skip = skip.unwrap_or_else(|| panic!("{fault:?}: traffic never left primary-route"));
        assert!(
            skip.reason.contains(&format!("weather-tools {scorer} 0.")),
            "{fault:?}: {}",
            skip.reason
        );
        h.stop().await;
    }
}

/// A suite judging the route for one intent (`intents: [weather]`) stops
/// it serving that intent's requests only: the others keep it, and the
/// intent gets it back once the runs pass.
#[tokio::test]
async fn a_suite_scoped_to_an_intent_skips_the_route_for_that_intent_only() {
    let config = CONFIG.replace(
        "min-pass-rate: { tool-call: 1.0 }",
        "min-pass-rate: { tool-call: 1.0 }\n      intents: [weather]",
    );
    let h = start_with(SUITE, &config).await;
    h.mock("primary").set_faults(Faults {
        corrupt_tool_arguments: true,
        ..Faults::default()
    });
    let mut moved = None;
    for i in 0..100 {
        let id = format!("scoped-weather-{i}");
        if served_for(&h, &id, "weather").await == "secondary-route" {
            moved = Some(id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let moved = moved.unwrap_or_else(|| panic!("weather never left primary-route"));
    let skip = h
        .record(&moved)
        .await
        .skipped
        .into_iter()
        .find(|s| s.route == "primary-route")
        .unwrap_or_else(|| panic!("no skip of primary-route"));
    assert_eq!(skip.kind, SkipKind::QualityRegression);
    assert!(
        skip.reason.contains("weather-tools tool-call 0.00 < 1.00")
            && skip.reason.ends_with("(for intent weather)"),
        "{}",
        skip.reason
    );
    assert_eq!(
        served_for(&h, "scoped-general", "general").await,
        "primary-route"
    );
    let primary = admin_route(&h, "primary-route").await;
    assert!(
        primary["health"]["quality_regression"].is_null(),
        "{primary}"
    );
    assert!(
        primary["health"]["quality_regression_by_intent"]["weather"]
            .as_str()
            .is_some_and(|w| w.contains("tool-call")),
        "{primary}"
    );
    audit_event(&h, "route primary-route disabled for intent weather").await;
    h.mock("primary").set_faults(Faults::default());
    let mut back = false;
    for i in 0..100 {
        if served_for(&h, &format!("scoped-back-{i}"), "weather").await == "primary-route" {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "weather never came back to primary-route");
    h.stop().await;
}

/// `route`'s entry in `GET /admin/routes`.
pub(crate) async fn admin_route(h: &Harness, route: &str) -> serde_json::Value {
    let routes = h.admin_json("/admin/routes", "admin-secret").await;
    routes["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["route"] == route)
        .cloned()
        .unwrap_or_default()
}

/// A suite judging the route for one intent whose warn bar is missed
/// ranks the route lower for that intent's requests only, naming it in
/// the moved requests' records.
#[tokio::test]
async fn a_warn_bar_of_a_scoped_suite_ranks_the_route_lower_for_its_intent_only() {
    let config = CONFIG.replace(
        "min-pass-rate: { tool-call: 1.0 }",
        "min-pass-rate: { tool-call: 0.0 }\n      warn-pass-rate: { tool-call: 1.0 }\n      intents: [weather]",
    );
    let h = start_with(SUITE, &config).await;
    h.mock("primary").set_faults(Faults {
        corrupt_tool_arguments: true,
        ..Faults::default()
    });
    audit_event(&h, "route primary-route warned for intent weather").await;
    // `/admin/routes`: the share per warned intent; the route-wide one
    // (every other request) untouched.
    let health = &admin_route(&h, "primary-route").await["health"];
    assert_eq!(health["quality_share"], 1.0, "{health}");
    assert_eq!(
        health["quality_share_by_intent"]["weather"], 0.25,
        "{health}"
    );
    assert!(
        health["quality_warning_by_intent"]["weather"]
            .as_str()
            .is_some_and(|w| w.contains("weather-tools tool-call 0.00 < 1.00")),
        "{health}"
    );
    let mut moved = None;
    for i in 0..40 {
        let id = format!("scoped-warn-{i}");
        if served_for(&h, &id, "weather").await == "secondary-route" {
            moved = Some(id);
            break;
        }
    }
    let moved = moved.unwrap_or_else(|| panic!("40 weather requests all kept the warned route"));
    let record = h.record(&moved).await;
    assert!(
        record.skipped.is_empty(),
        "a warning never skips: {record:?}"
    );
    let reordered = record
        .reordered
        .unwrap_or_else(|| panic!("no reorder in {moved}'s record"));
    assert!(
        reordered.demoted[0]
            .reason
            .ends_with("(for intent weather)"),
        "{}",
        reordered.demoted[0].reason
    );
    for i in 0..10 {
        let route = served_for(&h, &format!("scoped-general-{i}"), "general").await;
        assert_eq!(route, "primary-route", "other intents keep the route first");
    }
    h.stop().await;
}

/// The route serving a plain question of `intent`.
async fn served_for(h: &Harness, id: &str, intent: &str) -> String {
    let resp = h
        .chat_with(
            &signalbox_testkit::chat_body("chat", "hi"),
            &[("x-request-id", id), ("x-signalbox-intent", intent)],
        )
        .await;
    header(&resp, "x-signalbox-route").to_owned()
}
