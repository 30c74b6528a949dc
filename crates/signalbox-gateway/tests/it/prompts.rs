//! Prompt registry and posture, end to end: a request names a registered
//! prompt; each route gets its provider family's variant; the answer and
//! the record name the version. Failover never moves a request to a route
//! with a weaker declared posture.

use serde_json::{Value, json};
use signalbox_mock::{Faults, MockFormat};
use signalbox_testkit::{Harness, chat_body};

use crate::header;
use crate::translation::{record, start};

const CONFIG: &str = r#"
providers:
  - { name: claude, kind: anthropic, base-url: "${CLAUDE_URL}", timeouts: { connect: 500ms, first-byte: 5s, total: 10s } }
  - { name: gpt, kind: openai-compatible, base-url: "${GPT_URL}", timeouts: { connect: 500ms, first-byte: 5s, total: 10s } }
  - { name: weak, kind: openai-compatible, base-url: "${WEAK_URL}", timeouts: { connect: 500ms, first-byte: 5s, total: 10s } }
routes:
  - { id: claude-route, provider: claude, model: claude-test, region: us, retention: zero }
  - { id: gpt-route, provider: gpt, model: gpt-test, region: us, retention: zero }
  - { id: weak-route, provider: weak, model: weak-test, region: us, retention: standard }
aliases:
  - { name: mixed, routes: [claude-route, gpt-route] }
  - { name: gpt, routes: [gpt-route] }
  - { name: strong-first, routes: [gpt-route, weak-route] }
  - { name: weak-first, routes: [weak-route, gpt-route] }
prompts:
  - id: support
    versions:
      - { version: v1, template: "Support for {{product}}." }
      - version: v2
        template: "Support for {{product}} in {{lang}}."
        variants: { anthropic: "<role>{{product}} support</role><lang>{{lang}}</lang>" }
"#;

async fn harness() -> Harness {
    start(
        CONFIG,
        &[
            ("claude", MockFormat::Anthropic),
            ("gpt", MockFormat::OpenAi),
            ("weak", MockFormat::OpenAi),
        ],
        &[],
    )
    .await
}

fn failing() -> Faults {
    Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    }
}

const VARS: &str = r#"{"product":"Acme","lang":"French"}"#;

#[tokio::test]
async fn each_family_gets_its_variant_and_the_version_is_named() {
    let h = harness().await;
    let resp = h
        .chat_with(
            &chat_body("mixed", "hello"),
            &[
                ("x-signalbox-prompt", "support"),
                ("x-signalbox-prompt-variables", VARS),
                ("x-request-id", "p-1"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-prompt-version"), "support@v2");
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert_eq!(
        sent["system"],
        "<role>Acme support</role><lang>French</lang>"
    );
    assert_eq!(sent["messages"][0]["content"], "hello");
    let rec = record(&h, "p-1").await;
    assert_eq!(rec.prompt_version.as_deref(), Some("support@v2"));
    assert_eq!(rec.prompt_variant.as_deref(), Some("anthropic"));

    // The claude route fails: the OpenAI route gets the default template.
    h.mock("claude").set_faults(failing());
    let resp = h
        .chat_with(
            &chat_body("mixed", "hello"),
            &[
                ("x-signalbox-prompt", "support@v2"),
                ("x-signalbox-prompt-variables", VARS),
                ("x-request-id", "p-2"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    let sent = h.mock("gpt").stats().last_request.unwrap();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Support for Acme in French."})
    );
    assert_eq!(sent["messages"][1]["content"], "hello");
    let rec = record(&h, "p-2").await;
    assert_eq!(rec.prompt_variant.as_deref(), Some("default"));
    h.stop().await;
}

#[tokio::test]
async fn body_reference_is_removed_before_the_upstream() {
    let h = harness().await;
    let mut body = chat_body("gpt", "hi");
    body["signalbox_prompt"] =
        json!({"id": "support", "version": "v1", "variables": {"product": "Acme"}});
    let resp = h.chat(&body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-prompt-version"), "support@v1");
    let sent = h.mock("gpt").stats().last_request.unwrap();
    assert!(sent.get("signalbox_prompt").is_none(), "{sent}");
    assert_eq!(sent["messages"][0]["content"], "Support for Acme.");
    h.stop().await;
}

#[tokio::test]
async fn bad_references_are_400s_naming_the_problem() {
    let h = harness().await;
    // (headers, error param, message)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 4] = [
        (
            &[("x-signalbox-prompt", "nope")],
            "x-signalbox-prompt",
            "unknown prompt `nope` (registered: support)",
        ),
        (
            &[("x-signalbox-prompt", "support@v9")],
            "x-signalbox-prompt",
            "prompt `support` has no version `v9` (versions: v1, v2)",
        ),
        (
            &[
                ("x-signalbox-prompt", "support"),
                ("x-signalbox-prompt-variables", r#"{"product":"Acme"}"#),
            ],
            "x-signalbox-prompt-variables",
            "prompt `support@v2` needs variable `lang`",
        ),
        (
            &[
                ("x-signalbox-prompt", "support@v1"),
                ("x-signalbox-prompt-variables", r#"{"product":"A","x":"y"}"#),
            ],
            "x-signalbox-prompt-variables",
            "prompt `support@v1` has no variable `x` (it uses: product)",
        ),
    ];
    for (headers, param, message) in cases {
        let resp = h.chat_with(&chat_body("gpt", "hi"), headers).await;
        assert_eq!(resp.status(), 400, "{headers:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["param"], param, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(message),
            "{v}"
        );
    }
    assert_eq!(h.mock("gpt").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn failover_never_moves_to_a_weaker_posture() {
    let h = harness().await;
    h.mock("gpt").set_faults(failing());
    // Zero retention first: the standard-retention fallback is not tried.
    let resp = h
        .chat_with(
            &chat_body("strong-first", "hi"),
            &[("x-request-id", "post-1")],
        )
        .await;
    // The only permitted route failed with a 5xx: a 502, not a quiet downgrade.
    assert_eq!(resp.status(), 502);
    assert_eq!(h.mock("weak").stats().requests, 0);
    let rec = record(&h, "post-1").await;
    let skip = rec
        .skipped
        .iter()
        .find(|s| s.route == "weak-route")
        .unwrap();
    assert!(skip.reason.contains("weaker posture"), "{skip:?}");
    assert!(skip.reason.contains("first choice gpt-route"), "{skip:?}");

    // Standard first: moving to a stronger route is fine.
    h.mock("gpt").set_faults(Faults::default());
    h.mock("weak").set_faults(failing());
    let resp = h.chat(&chat_body("weak-first", "hi")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    h.stop().await;
}

/// The record names the prompt whenever the answer's header does, also
/// for a request refused after its prompt was read (both come from the
/// request's context).
#[tokio::test]
async fn a_refused_request_names_its_prompt_in_the_header_and_the_record() {
    let h = harness().await;
    let resp = h
        .chat_with(
            &chat_body("no-such-alias", "hello"),
            &[
                ("x-signalbox-prompt", "support@v1"),
                ("x-signalbox-prompt-variables", r#"{"product":"Acme"}"#),
                ("x-request-id", "p-refused"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(header(&resp, "x-signalbox-prompt-version"), "support@v1");
    let rec = record(&h, "p-refused").await;
    assert_eq!(rec.prompt_version.as_deref(), Some("support@v1"));
    assert_eq!(rec.prompt_variant, None, "no route served it");
    assert_eq!((rec.status, rec.outcome.as_str()), (404, "refused"));
}
