//! Owns rendering answers as OpenAI JSON bodies and `chat.completion.chunk` SSE events.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use super::OpenAiRequest;
use crate::mock::{Answer, AnswerBody, TOOL_ARGUMENTS, TOOL_CALL_ID, split_pieces};

/// Fixed `created` timestamp, so answers are byte-for-byte deterministic.
const CREATED: u64 = 1_700_000_000;

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: Usage,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: AssistantMessage<'a>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u32>,
    id: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    arguments: &'static str,
}

#[derive(Serialize, Clone, Copy)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [ChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

fn usage(answer: &Answer) -> Usage {
    Usage {
        prompt_tokens: answer.prompt_tokens,
        completion_tokens: answer.completion_tokens,
        total_tokens: answer.prompt_tokens + answer.completion_tokens,
    }
}

fn tool_call(name: &str, index: Option<u32>) -> [ToolCall<'_>; 1] {
    [ToolCall {
        index,
        id: TOOL_CALL_ID,
        kind: "function",
        function: FunctionCall {
            name,
            arguments: TOOL_ARGUMENTS,
        },
    }]
}

fn finish_reason(answer: &Answer) -> &'static str {
    match answer.body {
        AnswerBody::Text(_) => "stop",
        AnswerBody::ToolCall { .. } => "tool_calls",
    }
}

/// Appends one `data: <json>\n\n` event to `buf` and splits it off as its own `Bytes`.
fn push_event(buf: &mut BytesMut, value: &impl Serialize) -> serde_json::Result<Bytes> {
    buf.put_slice(b"data: ");
    serde_json::to_writer((&mut *buf).writer(), value)?;
    buf.put_slice(b"\n\n");
    Ok(buf.split().freeze())
}

/// The `GET /v1/models` body.
pub(crate) fn models_body(owner: &str) -> serde_json::Result<Bytes> {
    let body = serde_json::json!({
        "object": "list",
        "data": [{"id": "mock-model", "object": "model", "owned_by": owner}],
    });
    serde_json::to_vec(&body).map(Bytes::from)
}

/// The `chat.completion` body answering the `n`-th request.
pub(super) fn body(request: &OpenAiRequest, answer: &Answer, n: u64) -> serde_json::Result<Bytes> {
    let id = format!("chatcmpl-mock-{n}");
    let message = match &answer.body {
        AnswerBody::Text(text) => AssistantMessage {
            role: "assistant",
            content: Some(text),
            tool_calls: None,
        },
        AnswerBody::ToolCall { name } => AssistantMessage {
            role: "assistant",
            content: None,
            tool_calls: Some(tool_call(name, None)),
        },
    };
    let completion = Completion {
        id: &id,
        object: "chat.completion",
        created: CREATED,
        model: &request.model,
        choices: [Choice {
            index: 0,
            message,
            finish_reason: finish_reason(answer),
        }],
        usage: usage(answer),
    };
    serde_json::to_vec(&completion).map(Bytes::from)
}

/// The SSE events of a streamed answer: role, content pieces (or the tool call), finish,
/// optional usage, `[DONE]`.
pub(super) fn events(
    request: &OpenAiRequest,
    answer: &Answer,
    n: u64,
    pieces: u32,
) -> serde_json::Result<Vec<Bytes>> {
    let id = format!("chatcmpl-mock-{n}");
    let mut buf = BytesMut::with_capacity(2048);
    let mut events = Vec::with_capacity(pieces as usize + 4);
    let mut push = |choices: &[ChunkChoice<'_>], usage: Option<Usage>| {
        let chunk = Chunk {
            id: &id,
            object: "chat.completion.chunk",
            created: CREATED,
            model: &request.model,
            choices,
            usage,
        };
        push_event(&mut buf, &chunk).map(|event| events.push(event))
    };
    let delta = |delta| {
        [ChunkChoice {
            index: 0,
            delta,
            finish_reason: None,
        }]
    };

    let role = Delta {
        role: Some("assistant"),
        content: Some(""),
        ..Delta::default()
    };
    push(&delta(role), None)?;
    match &answer.body {
        AnswerBody::Text(text) => {
            for piece in split_pieces(text, pieces) {
                let content = Delta {
                    content: Some(piece),
                    ..Delta::default()
                };
                push(&delta(content), None)?;
            }
        }
        AnswerBody::ToolCall { name } => {
            let call = Delta {
                tool_calls: Some(tool_call(name, Some(0))),
                ..Delta::default()
            };
            push(&delta(call), None)?;
        }
    }
    let finish = [ChunkChoice {
        index: 0,
        delta: Delta::default(),
        finish_reason: Some(finish_reason(answer)),
    }];
    push(&finish, None)?;
    if request.include_usage {
        push(&[], Some(usage(answer)))?;
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Ok(events)
}
