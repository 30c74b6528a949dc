//! Legacy completions: prompts read (and refused) naming fields, answers
//! written as `text_completion`.

use serde_json::{Value, json};

use super::*;
use crate::canonical::{ChatResponse, Choice, Part, Role, StopReason, StreamEvent, Usage};

#[test]
fn a_prompt_is_one_user_message_and_what_a_chat_answer_cannot_keep_is_refused() {
    let req = parse_request(
        br#"{"model":"m","prompt":"Say hi","max_tokens":5,"stop":"\n","logit_bias":{}}"#,
    )
    .unwrap();
    assert_eq!(req.messages.len(), 1);
    assert_eq!(req.messages[0].role, Role::User);
    assert_eq!(req.sampling.max_tokens, Some(5));
    assert_eq!(req.sampling.stop, ["\n"]);
    assert_eq!(req.notes[0].field, "logit_bias");
    for (body, field) in [
        (
            json!({"model": "m", "prompt": "x", "suffix": "y"}),
            "suffix",
        ),
        (json!({"model": "m", "prompt": "x", "echo": true}), "echo"),
        (
            json!({"model": "m", "prompt": "x", "logprobs": 2}),
            "logprobs",
        ),
        (json!({"model": "m", "prompt": ["a", "b"]}), "prompt"),
        (json!({"model": "m", "prompt": "x", "n": 2}), "n"),
        (json!({"model": "m"}), "prompt"),
    ] {
        let err = parse_request(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.param(), Some(field), "{body}: {err}");
    }
}

#[test]
fn an_answer_is_a_text_completion_and_a_stream_ends_with_done() {
    let answer = ChatResponse {
        id: "c1".into(),
        model: "m1".into(),
        choices: vec![Choice {
            index: 0,
            content: vec![Part::Text("hi".into())],
            stop_reason: StopReason::Length,
        }],
        usage: Usage {
            input_tokens: 2,
            output_tokens: 1,
        },
        provider_stop_reason: None,
    };
    let v: Value = serde_json::from_slice(&render_response(&answer, 9)).unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "hi");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["total_tokens"], 3);

    let mut enc = SseEncoder::new(9, true);
    let mut out = Vec::new();
    for e in [
        StreamEvent::Start {
            id: "c1".into(),
            model: "m1".into(),
        },
        StreamEvent::TextDelta {
            choice: 0,
            text: "hi".into(),
        },
        StreamEvent::Stop {
            choice: 0,
            reason: StopReason::Stop,
        },
        StreamEvent::Usage(Usage {
            input_tokens: 2,
            output_tokens: 1,
        }),
    ] {
        out.extend(enc.encode(&e));
    }
    out.extend(enc.finish());
    let text = String::from_utf8(out).unwrap();
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["text"], "hi");
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[2]["usage"]["completion_tokens"], 1);
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
}
