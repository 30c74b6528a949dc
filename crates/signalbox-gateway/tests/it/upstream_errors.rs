//! What callers learn from upstream failures: the provider's own error
//! code and type (kept in the body and the record), a `retry-after` bound
//! to what the gateway itself waits, and a `retry-after` on a 503 made only
//! of routes that are cooling down or open.

use serde_json::Value;
use signalbox_mock::Faults;
use signalbox_testkit::echo::{ECHOING_ALIASES, EchoMode, echoing_gateway, expected_ids};
use signalbox_testkit::{Harness, chat_body};

use crate::header;
use crate::translation::record;

#[tokio::test]
async fn a_providers_error_code_and_type_reach_the_caller_and_the_record() {
    let (h, upstreams) = echoing_gateway(EchoMode::Status(400)).await;
    for (format, alias) in ECHOING_ALIASES {
        let (code, kind) = expected_ids(format);
        let id = format!("codes-{alias}");
        let resp = h
            .chat_with(&chat_body(alias, "hi"), &[("x-request-id", &id)])
            .await;
        assert_eq!(resp.status(), 400, "{alias}");
        let v: Value = resp.json().await.unwrap();
        let e = &v["error"];
        // Where an OpenAI SDK reads them: `code`, `type`, `param`.
        assert_eq!(
            e["code"],
            code.unwrap_or("upstream_rejected"),
            "{alias}: {v}"
        );
        assert_eq!(
            e["type"],
            kind.unwrap_or("invalid_request_error"),
            "{alias}: {v}"
        );
        assert_eq!(e["provider_code"], serde_json::json!(code), "{alias}: {v}");
        assert_eq!(e["provider_type"], serde_json::json!(kind), "{alias}: {v}");
        assert_eq!(v["signalbox"]["code"], "upstream_rejected", "{alias}: {v}");
        if alias == "oa" {
            assert_eq!(e["param"], "messages", "{v}");
        }
        let attempt = &v["signalbox"]["attempts"][0];
        assert_eq!(
            attempt["provider_error"]["code"],
            serde_json::json!(code),
            "{v}"
        );
        let rec = record(&h, &id).await;
        let ids = rec.attempts[0].provider_error.as_ref().expect("recorded");
        assert_eq!(ids.code.as_deref(), code, "{alias}");
        assert_eq!(ids.kind.as_deref(), kind, "{alias}");
    }
    h.stop().await;
    upstreams.into_iter().for_each(|u| u.stop());
}

const SOLO: &str = r#"
resilience:
  breaker: { consecutive-failures: 1, open-for: 40s }
  health-check: { mode: off }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
routes:
  - { id: primary, provider: primary, model: m, region: us }
aliases:
  - { name: chat, routes: [primary] }
"#;

fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    header(resp, "retry-after").parse().ok()
}

#[tokio::test]
async fn a_huge_upstream_retry_after_reaches_callers_clamped_and_cools_the_route() {
    let h = Harness::start(SOLO, &["primary"], &[]).await;
    h.mock("primary").set_faults(Faults {
        rate_limit_retry_after_secs: Some(u64::MAX),
        ..Faults::default()
    });
    let resp = h.chat(&chat_body("chat", "hi")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(retry_after(&resp), Some(600), "the gateway's own bound");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["signalbox"]["attempts"][0]["retry_after_secs"], 600,
        "{v}"
    );
    // The route now cools down: nothing is sent, and the 503 says when the
    // route is back (item 12).
    let resp = h.chat(&chat_body("chat", "hi")).await;
    assert_eq!(resp.status(), 503);
    let wait = retry_after(&resp).expect("retry-after on a cooldown-only 503");
    assert!((590..=600).contains(&wait), "{wait}");
    assert_eq!(h.mock("primary").stats().requests, 1);
    h.stop().await;
}

#[tokio::test]
async fn a_503_of_open_circuits_only_says_when_the_first_one_closes() {
    let h = Harness::start(SOLO, &["primary"], &[]).await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 500,
        ..Faults::default()
    });
    let resp = h.chat(&chat_body("chat", "hi")).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(retry_after(&resp), None, "a provider failure is not a wait");
    let resp = h.chat(&chat_body("chat", "hi")).await;
    assert_eq!(resp.status(), 503);
    let wait = retry_after(&resp).expect("retry-after on an open-circuit-only 503");
    assert!((30..=40).contains(&wait), "open for 40s: {wait}");
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("circuit open"),
        "{v}"
    );
    h.stop().await;
}
