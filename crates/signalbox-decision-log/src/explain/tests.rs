use signalbox_core::{DecisionRecord, OutcomeClass, RuleRecord, SignalRecord, SignalSource, Usage};

use super::time::rfc3339_utc;
use super::*;
use crate::test_support::{attempt, candidate, verdict};

fn signal(name: &str, value: &str, source: SignalSource, detail: Option<&str>) -> SignalRecord {
    SignalRecord {
        name: name.to_owned().into(),
        value: value.to_owned().into(),
        source,
        detail: detail.map(str::to_owned),
    }
}

fn base() -> DecisionRecord {
    DecisionRecord {
        request_id: "req-42".to_owned(),
        time_ms: 1_700_000_000_123,
        tenant: "acme".to_owned(),
        policy_version: "v7".to_owned(),
        alias: Some("chat".to_owned()),
        signals: vec![
            signal("tenant", "acme", SignalSource::Key, None),
            signal("region", "eu", SignalSource::Tenant, None),
            signal("intent", "chat", SignalSource::Rule, Some("chat-intent")),
        ],
        rules: vec![
            RuleRecord {
                name: "code-heavy".to_owned(),
                matched: false,
                failed: Some("intent == code".to_owned()),
            },
            RuleRecord {
                name: "eu-only".to_owned(),
                matched: true,
                failed: None,
            },
        ],
        failure_mode: "fail_closed".to_owned(),
        ..DecisionRecord::default()
    }
}

fn served_record() -> DecisionRecord {
    DecisionRecord {
        rule: Some("eu-only".to_owned()),
        candidates: vec![
            candidate(
                "eu-large",
                vec![verdict("region", true, "region eu ∈ [eu]")],
                Some(0.91),
            ),
            candidate(
                "eu-small",
                vec![verdict("region", true, "region eu ∈ [eu]")],
                Some(0.5),
            ),
            candidate(
                "us",
                vec![verdict("region", false, "region us ∉ [eu]")],
                None,
            ),
        ],
        ranking: vec!["eu-large".to_owned(), "eu-small".to_owned()],
        chosen: Some("eu-large".to_owned()),
        provider: Some("openai".to_owned()),
        model_version: Some("gpt-x-2024".to_owned()),
        attempts: vec![attempt(
            "eu-large",
            OutcomeClass::Success,
            Some(200),
            410,
            "",
        )],
        outcome: "served".to_owned(),
        status: 200,
        usage: Some(Usage {
            prompt_tokens: 120,
            completion_tokens: 30,
        }),
        cost_usd: Some(0.0012),
        latency_ms: 412,
        ..base()
    }
}

#[test]
fn the_callers_request_id_is_shown_beside_the_gateways() {
    let text = explain(&DecisionRecord {
        caller_request_id: Some("trace-7".to_owned()),
        ..served_record()
    });
    assert!(
        text.contains("  id:             req-42\n  x-request-id:   trace-7 (the caller's)\n"),
        "{text}"
    );
    assert!(!explain(&served_record()).contains("x-request-id"));
}

#[test]
fn served_explains_why_first() {
    let text = explain(&served_record());
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "Why: tenant acme (allowed regions [eu]) asked for chat; rule \"eu-only\" matched; \
         eu-large chosen (ranked 1 of 2 eligible); served in 412 ms after 1 attempt."
    );
    for expected in [
        "Request\n",
        "  id:             req-42\n",
        "  time:           2023-11-14T22:13:20.123Z\n",
        "  policy version: v7\n",
        "Signals\n",
        "  tenant = acme (key)\n",
        "  intent = chat (rule, chat-intent)\n",
        "Rules\n",
        "  ✗ code-heavy — failed: intent == code\n",
        "  ✓ eu-only\n",
        "Candidates\n",
        "  eu-large: eligible, score 0.910, est. cost $0.0021\n",
        "    ✓ region: region eu ∈ [eu]\n",
        "  us: not eligible\n",
        "    ✗ region: region us ∉ [eu]\n",
        "Ranking\n  1. eu-large\n  2. eu-small\n",
        "Attempts\n  1. eu-large (openai): success, status 200, 410 ms\n",
        "  route:   eu-large (provider openai, model gpt-x-2024)\n",
        "  usage:   120 prompt + 30 completion tokens\n",
        "  cost:    $0.0012\n",
        "  latency: 412 ms\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Sections appear in order.
    let order: Vec<usize> = [
        "Request",
        "Signals",
        "Rules",
        "Candidates",
        "Ranking",
        "Attempts",
        "Outcome",
    ]
    .iter()
    .map(|s| text.find(&format!("\n{s}\n")).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn requested_region_comes_from_the_signal_detail() {
    let mut record = served_record();
    record.signals[1] = signal(
        "region",
        "eu",
        SignalSource::Header,
        Some("allowed [eu, us]"),
    );
    let text = explain(&record);
    assert!(
        text.starts_with(
            "Why: tenant acme (region eu requested, allowed [eu, us]) asked for chat;"
        ),
        "{text}"
    );
    assert!(
        text.contains("  region = eu (header, allowed [eu, us])\n"),
        "{text}"
    );
}

#[test]
fn served_after_failover_names_the_failed_attempt() {
    let mut record = served_record();
    record.chosen = Some("eu-small".to_owned());
    record.attempts = vec![
        attempt(
            "eu-large",
            OutcomeClass::ServerError,
            Some(503),
            20,
            "upstream 503",
        ),
        attempt("eu-small", OutcomeClass::Success, Some(200), 300, ""),
    ];
    let first = explain(&record).lines().next().unwrap().to_owned();
    assert!(
        first.ends_with(
            "eu-small chosen (ranked 2 of 2 eligible); served in 412 ms after 2 attempts \
             (eu-large: server_error failed)."
        ),
        "{first}"
    );
}

#[test]
fn refused_lists_every_route_and_why() {
    let record = DecisionRecord {
        candidates: vec![
            candidate(
                "us",
                vec![verdict("region", false, "region us ∉ [eu]")],
                None,
            ),
            candidate(
                "eu",
                vec![
                    verdict("region", true, "region eu ∈ [eu]"),
                    verdict("health", false, "down: server_error"),
                ],
                None,
            ),
        ],
        outcome: "refused".to_owned(),
        status: 503,
        error: Some("no eligible route".to_owned()),
        ..base()
    };
    let text = explain(&record);
    assert_eq!(
        text.lines().next().unwrap(),
        "Why: refused — no route satisfies the hard constraints: us (region us ∉ [eu]); eu (down: server_error)"
    );
    assert!(
        text.contains(
            "  eu: not eligible\n    ✓ region: region eu ∈ [eu]\n    ✗ health: down: server_error\n"
        ),
        "{text}"
    );
    assert!(text.contains("  error:   no eligible route\n"), "{text}");
    assert!(
        !text.contains("Attempts"),
        "no attempts, no section:\n{text}"
    );
    assert!(!text.contains("Ranking"), "no ranking, no section:\n{text}");
}

#[test]
fn refused_without_candidates_uses_the_error() {
    let record = DecisionRecord {
        signals: vec![],
        rules: vec![],
        outcome: "refused".to_owned(),
        status: 429,
        error: Some("tenant budget exhausted".to_owned()),
        ..base()
    };
    let text = explain(&record);
    assert!(
        text.starts_with("Why: refused — tenant budget exhausted\n"),
        "{text}"
    );
    assert!(
        !text.contains("Signals") && !text.contains("Rules") && !text.contains("Candidates"),
        "{text}"
    );
}

#[test]
fn failed_lists_each_attempt() {
    let record = DecisionRecord {
        ranking: vec!["eu-large".to_owned(), "eu-small".to_owned()],
        attempts: vec![
            attempt(
                "eu-large",
                OutcomeClass::ServerError,
                Some(502),
                120,
                "upstream 502",
            ),
            attempt(
                "eu-small",
                OutcomeClass::Timeout,
                None,
                30_000,
                "no response in 30s",
            ),
        ],
        outcome: "failed".to_owned(),
        status: 502,
        error: Some("all upstreams failed".to_owned()),
        latency_ms: 30_130,
        ..base()
    };
    let text = explain(&record);
    assert_eq!(
        text.lines().next().unwrap(),
        "Why: failed — all attempts failed (2 attempts): eu-large (server_error, 502: upstream 502); \
         eu-small (timeout: no response in 30s)"
    );
    assert!(
        text.contains("  1. eu-large (openai): server_error, status 502, 120 ms — upstream 502\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  2. eu-small (openai): timeout, no status, 30000 ms — no response in 30s\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  status:  502\n  error:   all upstreams failed\n"),
        "{text}"
    );
}

#[test]
fn rejected_names_the_upstream_answer() {
    let record = DecisionRecord {
        attempts: vec![attempt(
            "eu-large",
            OutcomeClass::RequestRejected,
            Some(400),
            50,
            "context too long",
        )],
        outcome: "rejected".to_owned(),
        status: 400,
        ..base()
    };
    assert!(explain(&record).starts_with(
        "Why: rejected by the upstream — eu-large (request_rejected, 400: context too long)\n"
    ));
}

#[test]
fn the_providers_own_error_code_is_explained() {
    let mut rejected = attempt(
        "eu-large",
        OutcomeClass::RequestRejected,
        Some(400),
        50,
        "context too long",
    );
    rejected.provider_error = Some(signalbox_core::ProviderErrorCode {
        code: Some("context_length_exceeded".into()),
        kind: Some("invalid_request_error".into()),
        param: None,
    });
    let record = DecisionRecord {
        attempts: vec![rejected],
        outcome: "rejected".to_owned(),
        status: 400,
        ..base()
    };
    let text = explain(&record);
    assert!(
        text.contains(
            "400, 50 ms, provider error context_length_exceeded / invalid_request_error — context too long"
        ),
        "{text}"
    );
}

#[test]
fn rfc3339_from_days() {
    assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(rfc3339_utc(951_868_799_999), "2000-02-29T23:59:59.999Z");
    assert_eq!(rfc3339_utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    assert_eq!(rfc3339_utc(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
}

#[test]
fn usd_is_trimmed() {
    assert_eq!(usd(0.0012), "$0.0012");
    assert_eq!(usd(1.5), "$1.50");
    assert_eq!(usd(0.0), "$0.00");
}

#[test]
fn resilience_section_names_skips_steps_and_stops() {
    let r = DecisionRecord {
        skipped: vec![signalbox_core::SkipRecord::new(
            "us-large",
            signalbox_core::SkipKind::CircuitOpen,
            "circuit open for 12.0s more (5 failures in a row)",
        )],
        degraded: vec!["fallback-route".into(), "tools-disabled".into()],
        sticky_route: Some("eu-large".into()),
        at_most_once: true,
        stopped: Some("retry budget exhausted; no further attempts".into()),
        idempotency: Some("executed".into()),
        ..served_record()
    };
    let text = explain(&r);
    for expected in [
        "Resilience\n",
        "  skipped us-large: circuit open for 12.0s more (5 failures in a row)\n",
        "  degraded: fallback-route, tools-disabled\n",
        "  session sticky to: eu-large\n",
        "  at-most-once: never retried once it may have reached a provider\n",
        "  stopped early: retry budget exhausted; no further attempts\n",
        "  idempotency key: executed\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!explain(&served_record()).contains("Resilience"));
}

#[test]
fn operator_actions_are_named() {
    let r = DecisionRecord {
        operator_actions: vec!["act-1".into(), "act-2".into()],
        ..served_record()
    };
    let text = explain(&r);
    assert!(
        text.contains("Resilience\n") && text.contains("  operator actions: act-1, act-2\n"),
        "{text}"
    );
}

#[test]
fn prompt_and_translation_notes_are_explained() {
    let mut r = served_record();
    r.prompt_version = Some("support-answer@v2".into());
    r.prompt_variant = Some("anthropic".into());
    r.translation = vec![signalbox_core::TranslationRecord {
        field: "sampling.seed".into(),
        action: "dropped".into(),
        reason: "Anthropic has no seed".into(),
    }];
    let text = explain(&r);
    assert!(
        text.contains(
            "Prompt and translation\n  prompt: support-answer@v2 (variant anthropic)\n  \
             sampling.seed dropped: Anthropic has no seed\n"
        ),
        "{text}"
    );
    // Nothing to say: no section.
    assert!(!explain(&served_record()).contains("Prompt and translation"));
}

#[test]
fn the_canary_arm_is_explained() {
    let mut r = served_record();
    r.prompt_version = Some("support@v2".into());
    r.canary =
        Some("support-v2: canary arm (session bucket 12 < 500 of 10000: 5% to support@v2)".into());
    let text = explain(&r);
    assert!(
        text.contains("  canary support-v2: canary arm (session bucket 12 < 500"),
        "{text}"
    );
}

#[test]
fn an_estimated_usage_says_so() {
    let text = explain(&DecisionRecord {
        usage_estimated: true,
        ..served_record()
    });
    assert!(
        text.contains("30 completion tokens (the gateway's estimate: the provider reported none)"),
        "{text}"
    );
    assert!(!explain(&served_record()).contains("estimate"));
}

#[test]
fn a_warned_route_moved_after_the_others_is_named_with_the_order_tried() {
    let mut r = served_record();
    r.reordered = Some(Box::new(signalbox_core::ReorderRecord {
        demoted: vec![signalbox_core::DemotionRecord {
            route: "eu-large".into(),
            kind: signalbox_core::DemotionKind::QualityWarning,
            reason: "quality warning: weather-tools tool-call 0.50 < 0.95".into(),
            share: 0.25,
        }],
        order: vec!["eu-small".into(), "eu-large".into()],
    }));
    let text = explain(&r);
    assert!(
        text.lines()
            .next()
            .is_some_and(|why| why.contains("; eu-large ranked lower (quality_warning);")),
        "{text}"
    );
    assert!(
        text.contains(
            "Resilience\n  eu-large ranked lower (quality_warning): quality warning: \
             weather-tools tool-call 0.50 < 0.95 (it keeps its place for 25% of requests; \
             this one was not among them)\n  tried in order: eu-small, eu-large\n"
        ),
        "{text}"
    );
    assert!(!explain(&served_record()).contains("ranked lower"));
}
