//! Sticky sessions under the quality loop, against the mocks: a route
//! warned for an intent keeps only its warn-weight share of that intent's
//! sessions (the same route for a session on every request, the move named
//! in the record and `explain`), and a route closed for an intent is never
//! kept by a session for that intent, while its other intents stay put.

use signalbox_core::DemotionKind;
use signalbox_mock::Faults;
use signalbox_testkit::Harness;

use crate::header;
use crate::quality::{CONFIG, SUITE, audit_event, explained, start_with};

/// The route serving a question of `intent` in `session`, as request `id`.
async fn served(h: &Harness, session: &str, intent: &str, id: &str) -> String {
    let resp = h
        .chat_with(
            &signalbox_testkit::chat_body("chat", "hi"),
            &[
                ("x-request-id", id),
                ("x-signalbox-session", session),
                ("x-signalbox-intent", intent),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200, "{id}");
    header(&resp, "x-signalbox-route").to_owned()
}

/// Ranks the alias's two routes equal, so sessions spread over both.
const SPREAD: &str = r#"
policy:
  rules:
    - name: spread-evenly
      when: { aliases: [chat] }
      objectives: { weights: { preference: 0, cost: 1 } }
"#;

/// A gateway judging primary-route for `weather` only with `bars`, whose
/// primary mock answers tool calls with arguments of the wrong type.
async fn start_scoped(bars: &str) -> Harness {
    let config = CONFIG.replace(
        "min-pass-rate: { tool-call: 1.0 }",
        &format!("{bars}\n      intents: [weather]"),
    ) + SPREAD;
    let h = start_with(SUITE, &config).await;
    h.mock("primary").set_faults(Faults {
        corrupt_tool_arguments: true,
        ..Faults::default()
    });
    h
}

#[tokio::test]
async fn a_route_warned_for_an_intent_keeps_only_its_share_of_that_intents_sessions() {
    let h =
        start_scoped("min-pass-rate: { tool-call: 0.0 }\n      warn-pass-rate: { tool-call: 1.0 }")
            .await;
    audit_event(&h, "route primary-route warned for intent weather").await;
    // Sessions whose own route is primary-route (their general requests).
    let mut homed = Vec::new();
    for i in 0..40 {
        let session = format!("sticky-warn-{i}");
        if served(&h, &session, "general", &format!("{session}-g")).await == "primary-route" {
            homed.push(session);
        }
    }
    assert!(
        homed.len() >= 10,
        "{} of 40 sessions on primary-route",
        homed.len()
    );
    let (mut moved, mut kept) = (Vec::new(), 0);
    for session in &homed {
        let first = served(&h, session, "weather", &format!("{session}-w1")).await;
        // The same session, another request: the same route (no flip-flop).
        let again = served(&h, session, "weather", &format!("{session}-w2")).await;
        assert_eq!(first, again, "{session}");
        match first.as_str() {
            "secondary-route" => moved.push(session.clone()),
            _ => kept += 1,
        }
        // Its general requests never left primary-route.
        let general = served(&h, session, "general", &format!("{session}-g2")).await;
        assert_eq!(general, "primary-route", "{session}");
    }
    // Two equal routes, weights 0.25 and 1: about 40% of primary's
    // sessions keep it (a fifth of all sessions instead of half).
    assert!(
        !moved.is_empty() && kept > 0,
        "moved {moved:?}, kept {kept}"
    );
    let id = format!("{}-w1", moved[0]);
    let record = h.record(&id).await;
    assert_eq!(record.sticky_route.as_deref(), Some("secondary-route"));
    assert!(
        record.skipped.is_empty(),
        "a warning never skips: {record:?}"
    );
    let reordered = record
        .reordered
        .unwrap_or_else(|| panic!("{id}: the session's move is not named"));
    let d = &reordered.demoted[0];
    assert_eq!(
        (d.route.as_str(), d.kind, d.share),
        ("primary-route", DemotionKind::SessionQualityWarning, 0.25)
    );
    assert!(
        d.reason.contains("weather-tools tool-call 0.00 < 1.00")
            && d.reason.ends_with("(for intent weather)"),
        "{}",
        d.reason
    );
    let text = explained(&h, &id).await;
    assert!(
        text.contains("secondary-route chosen")
            && text.contains("; primary-route lost this session (session_quality_warning)"),
        "{text}"
    );
    assert!(
        text.contains(
            "  primary-route lost this session (session_quality_warning): quality warning: \
             weather-tools tool-call 0.00 < 1.00 (warn bar; intent weather) (for intent weather) \
             (it keeps 25% of its weight for sessions; this session moved to another route)\n  \
             tried in order: secondary-route, primary-route\n  session sticky to: secondary-route\n"
        ),
        "{text}"
    );
    let json = h
        .admin_json(&format!("/admin/decisions/{id}"), "admin-secret")
        .await;
    assert_eq!(
        json["reordered"]["demoted"][0]["kind"], "session_quality_warning",
        "{json}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_route_closed_for_an_intent_is_never_kept_by_that_intents_sessions() {
    let h = start_scoped("min-pass-rate: { tool-call: 1.0 }").await;
    audit_event(&h, "route primary-route disabled for intent weather").await;
    let mut homed = 0;
    for i in 0..20 {
        let session = format!("sticky-closed-{i}");
        let general = served(&h, &session, "general", &format!("{session}-g1")).await;
        let id = format!("{session}-w");
        assert_eq!(
            served(&h, &session, "weather", &id).await,
            "secondary-route",
            "{session}"
        );
        if general != "primary-route" {
            continue;
        }
        homed += 1;
        let record = h.record(&id).await;
        assert_eq!(
            record.sticky_route.as_deref(),
            Some("secondary-route"),
            "{id}"
        );
        assert!(
            record
                .skipped
                .iter()
                .any(|s| s.route == "primary-route" && s.reason.ends_with("(for intent weather)")),
            "{record:?}"
        );
        // Leaving primary-route for weather did not move the session's
        // other requests off it.
        let after = served(&h, &session, "general", &format!("{session}-g2")).await;
        assert_eq!(after, "primary-route", "{session}");
    }
    assert!(homed > 0, "no session on primary-route");
    h.stop().await;
}

/// `x-signalbox-pin-route` is not stickiness: a request pinned to a route
/// closed for its intent is not served elsewhere, nor by that route; it
/// fails naming the quality skip, and the route's other intents keep it.
#[tokio::test]
async fn a_request_pinned_to_a_route_closed_for_its_intent_fails_naming_the_skip() {
    let h = start_scoped("min-pass-rate: { tool-call: 1.0 }").await;
    audit_event(&h, "route primary-route disabled for intent weather").await;
    let resp = pinned(&h, "weather").await;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    assert!(status.is_server_error(), "{status}: {body}");
    assert!(
        body.contains("primary-route") && body.contains("(for intent weather)"),
        "{body}"
    );
    let resp = pinned(&h, "general").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
    h.stop().await;
}

/// A question of `intent` pinned to primary-route.
async fn pinned(h: &Harness, intent: &str) -> reqwest::Response {
    h.chat_with(
        &signalbox_testkit::chat_body("chat", "hi"),
        &[
            ("x-signalbox-pin-route", "primary-route"),
            ("x-signalbox-intent", intent),
        ],
    )
    .await
}
