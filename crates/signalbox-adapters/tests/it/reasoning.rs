//! A reasoning effort on every target: `reasoning_effort` on the OpenAI
//! format, a thinking budget (low/medium/high: 1024/4096/16384) on
//! Anthropic, Gemini and Bedrock's Anthropic models where the route
//! declares `supports.reasoning`, dropped with a note everywhere else.

use serde_json::{Value, json};
use signalbox_adapters::anthropic::AnthropicAdapter;
use signalbox_adapters::bedrock::{AwsCredentials, BedrockAdapter};
use signalbox_adapters::cohere::CohereAdapter;
use signalbox_adapters::gemini::GeminiAdapter;
use signalbox_adapters::openai::{OpenAiAdapter, OpenAiQuirks};
use signalbox_adapters::{
    Adapter, ChatRequest, NoteAction, ReasoningEffort, RouteSettings, Secret, openai, responses,
};

use crate::{body, noted, render, route};

/// A chat request asking for `effort`, as an OpenAI client writes it.
fn chat(extra: Value) -> ChatRequest {
    let mut v = json!({"model": "m", "max_tokens": 500, "temperature": 0.2,
        "messages": [{"role": "user", "content": "think"}]});
    if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
        v.extend(extra);
    }
    openai::parse_request(v.to_string().as_bytes()).unwrap()
}

fn thinking_route(model: &str) -> RouteSettings {
    RouteSettings {
        reasoning: true,
        max_output_tokens: Some(32_000),
        ..route(model)
    }
}

fn anthropic() -> Adapter {
    Adapter::new(AnthropicAdapter {
        base_url: "http://127.0.0.1:9/".into(),
        api_key: Some(Secret::new("ak")),
    })
}

fn bedrock() -> Adapter {
    Adapter::new(BedrockAdapter {
        region: "us-east-1".into(),
        endpoint: None,
        credentials: AwsCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: Secret::new("secret"),
            session_token: None,
        },
    })
}

#[test]
fn the_openai_format_sends_reasoning_effort_as_written() {
    let req = chat(json!({"reasoning_effort": "high"}));
    assert_eq!(req.reasoning, Some(ReasoningEffort::High));
    assert!(!req.extra.contains_key("reasoning_effort"));
    let openai = Adapter::new(OpenAiAdapter {
        base_url: "http://127.0.0.1:9/v1".into(),
        api_key: None,
        quirks: OpenAiQuirks::default(),
    });
    let r = render(&openai, &req, &route("o3"));
    assert_eq!(body(&r)["reasoning_effort"], "high");
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    // Azure renders OpenAI's body.
    let azure = Adapter::new(signalbox_adapters::azure::AzureAdapter {
        endpoint: "https://res.openai.azure.com".into(),
        api_version: "2024-10-21".into(),
        api_key: None,
        quirks: OpenAiQuirks::default(),
    });
    assert_eq!(
        body(&render(&azure, &req, &route("o3")))["reasoning_effort"],
        "high"
    );
    // A value only OpenAI knows stays the client's own field.
    let req = chat(json!({"reasoning_effort": "minimal"}));
    assert_eq!(req.reasoning, None);
    assert_eq!(
        body(&render(&openai, &req, &route("o3")))["reasoning_effort"],
        "minimal"
    );
}

#[test]
fn a_responses_effort_reaches_anthropic_as_a_thinking_budget() {
    let mut req = responses::parse_request(
        br#"{"model":"m","input":"think","max_output_tokens":500,"temperature":0.2,
             "reasoning":{"effort":"medium"}}"#,
    )
    .unwrap();
    req.notes.clear();
    let r = render(&anthropic(), &req, &thinking_route("claude-sonnet-4-5"));
    let b = body(&r);
    assert_eq!(
        b["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    // Thinking counts within max_tokens: raised so the answer keeps 500.
    assert_eq!(b["max_tokens"], 4596);
    // Anthropic refuses a temperature alongside thinking.
    assert!(b.get("temperature").is_none(), "{b}");
    assert!(noted(&r.notes, "reasoning_effort", NoteAction::Translated));
    assert!(noted(
        &r.notes,
        "sampling.max_tokens",
        NoteAction::Translated
    ));
    assert!(noted(&r.notes, "sampling.temperature", NoteAction::Dropped));
}

#[test]
fn anthropic_drops_the_effort_without_the_capability_or_with_a_forced_tool() {
    let req = chat(json!({"reasoning_effort": "low"}));
    let r = render(&anthropic(), &req, &route("claude-3-haiku"));
    assert!(body(&r).get("thinking").is_none());
    assert_eq!(body(&r)["temperature"], 0.2);
    assert!(noted(&r.notes, "reasoning_effort", NoteAction::Dropped));
    let req = chat(json!({"reasoning_effort": "low",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "required"}));
    let r = render(&anthropic(), &req, &thinking_route("claude-sonnet-4-5"));
    assert!(body(&r).get("thinking").is_none());
    assert!(noted(&r.notes, "reasoning_effort", NoteAction::Dropped));
}

#[test]
fn gemini_takes_a_thinking_budget_where_declared() {
    let gemini = Adapter::new(GeminiAdapter {
        base_url: "http://127.0.0.1:9".into(),
        api_version: "v1beta".into(),
        api_key: Some(Secret::new("g")),
    });
    let req = chat(json!({"reasoning_effort": "high"}));
    let r = render(&gemini, &req, &thinking_route("gemini-2.5-pro"));
    assert_eq!(
        body(&r)["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 16384})
    );
    assert!(noted(&r.notes, "reasoning_effort", NoteAction::Translated));
    let r = render(&gemini, &req, &route("gemini-1.5-pro"));
    assert!(body(&r)["generationConfig"].get("thinkingConfig").is_none());
    assert!(noted(&r.notes, "reasoning_effort", NoteAction::Dropped));
}

#[test]
fn bedrock_carries_thinking_for_anthropic_models_only() {
    let req = chat(json!({"reasoning_effort": "low"}));
    let r = render(
        &bedrock(),
        &req,
        &thinking_route("anthropic.claude-sonnet-4-5-v1:0"),
    );
    let b = body(&r);
    assert_eq!(
        b["additionalModelRequestFields"]["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert_eq!(b["inferenceConfig"]["maxTokens"], 1524);
    assert!(b["inferenceConfig"].get("temperature").is_none(), "{b}");
    assert!(noted(&r.notes, "reasoning_effort", NoteAction::Translated));
    let r = render(&bedrock(), &req, &thinking_route("amazon.nova-pro-v1:0"));
    assert!(body(&r).get("additionalModelRequestFields").is_none());
    assert!(noted(&r.notes, "reasoning_effort", NoteAction::Dropped));
}

#[test]
fn cohere_drops_the_effort_with_a_note() {
    let cohere = Adapter::new(CohereAdapter {
        base_url: "http://127.0.0.1:9".into(),
        api_key: None,
    });
    let req = chat(json!({"reasoning_effort": "medium"}));
    let r = render(&cohere, &req, &thinking_route("command-a-03-2025"));
    assert!(noted(&r.notes, "reasoning_effort", NoteAction::Dropped));
}

#[test]
fn an_anthropic_clients_thinking_is_its_own_on_anthropic_and_an_effort_elsewhere() {
    let mut req = signalbox_adapters::anthropic::parse_request(
        br#"{"model":"m","max_tokens":8000,"messages":[{"role":"user","content":"think"}],
             "thinking":{"type":"enabled","budget_tokens":2048}}"#,
    )
    .unwrap();
    assert_eq!(req.reasoning, Some(ReasoningEffort::Medium));
    assert!(noted(&req.notes, "thinking", NoteAction::Translated));
    req.notes.clear();
    // Anthropic: the client's own thinking, as written.
    let r = render(&anthropic(), &req, &thinking_route("claude-sonnet-4-5"));
    let b = body(&r);
    assert_eq!(
        b["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(b["max_tokens"], 8000);
    // The OpenAI view (what every other route is reached from).
    let view = openai::view(&mut req).unwrap();
    assert_eq!(view["reasoning_effort"], "medium");
    assert!(noted(&req.notes, "extra.thinking", NoteAction::Dropped));
    // Disabled thinking asks for no effort.
    let req = signalbox_adapters::anthropic::parse_request(
        br#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],
             "thinking":{"type":"disabled"}}"#,
    )
    .unwrap();
    assert_eq!(req.reasoning, None);
}
