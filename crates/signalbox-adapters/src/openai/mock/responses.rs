//! Owns the mock's OpenAI Responses API (`POST /v1/responses`, also
//! Azure's `/openai/v1/responses`): a Responses body read into the
//! format-neutral prompt, and the answer written as a Response object or
//! as the Responses event stream (`response.created` … `response.completed`
//! with usage). The writing is the Responses writer the gateway's edge
//! uses, fed the mock's deterministic answer, so the ids (`resp_mock-{n}`),
//! timestamps and events are the same for the same request. A request
//! whose `text.format` is a JSON schema is answered with the canned object
//! (`{"location":"Paris"}`), as an API that enforces schemas natively
//! would; the `break_schema` quality fault makes it break the schema.

use bytes::Bytes;

use super::OpenAiRequest;
use crate::canonical::{
    ChatResponse, Choice, Part, ResponseFormat, Role, StopReason, StreamEvent, ToolCall,
    ToolChoice, Usage,
};
use crate::mock::{Answer, AnswerBody, Parsed, Prompt, TOOL_ARGUMENTS, TOOL_CALL_ID, split_pieces};

/// Fixed `created_at`, so answers are byte-for-byte deterministic.
const CREATED: u64 = 1_700_000_000;

/// Parses a Responses body; `Err` carries the message of the 400 answer
/// (the field's path, as the gateway names it).
pub(super) fn parse(body: &[u8]) -> Result<Parsed<OpenAiRequest>, String> {
    // Read as the gateway reads it: built-in tools and files are the
    // provider's to run, left out of the prompt.
    let req = crate::responses::parse_ingress(body)
        .map_err(|e| format!("invalid Responses request: {e}"))?
        .canonical;
    let mut prompt = Prompt {
        first_tool: req.tools.first().map(|t| t.name.clone()),
        forced_tool: matches!(
            req.tool_choice,
            Some(ToolChoice::Required | ToolChoice::Tool(_))
        ),
        // The Responses API enforces a JSON schema natively.
        json_schema: matches!(req.response_format, Some(ResponseFormat::JsonSchema { .. })),
        ..Prompt::default()
    };
    for m in &req.messages {
        let texts = m.content.iter().filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        });
        prompt.add_message(m.role == Role::User, texts);
    }
    Ok(Parsed {
        request: OpenAiRequest {
            model: req.model,
            include_usage: true,
            thinking: false,
            responses: true,
        },
        prompt,
        stream: req.stream,
    })
}

/// The answer as a canonical response.
fn canonical(request: &OpenAiRequest, answer: &Answer, n: u64) -> ChatResponse {
    let (part, reason) = match &answer.body {
        AnswerBody::Text(text) => (Part::Text(text.clone()), StopReason::Stop),
        AnswerBody::ToolCall { name } => (
            Part::ToolCall(ToolCall {
                id: TOOL_CALL_ID.into(),
                name: name.clone(),
                arguments: TOOL_ARGUMENTS.into(),
            }),
            StopReason::ToolCalls,
        ),
    };
    ChatResponse {
        id: format!("resp_mock-{n}"),
        model: request.model.clone(),
        choices: vec![Choice {
            index: 0,
            content: vec![part],
            stop_reason: reason,
        }],
        usage: Usage {
            input_tokens: answer.prompt_tokens,
            output_tokens: answer.completion_tokens,
        },
        provider_stop_reason: None,
    }
}

/// The Response object answering the `n`-th request.
pub(super) fn body(request: &OpenAiRequest, answer: &Answer, n: u64) -> Bytes {
    Bytes::from(crate::responses::render_response(
        &canonical(request, answer, n),
        CREATED,
    ))
}

/// The Responses event stream answering the `n`-th request, text split into
/// at most `pieces` deltas; one `Bytes` per event.
pub(super) fn events(request: &OpenAiRequest, answer: &Answer, n: u64, pieces: u32) -> Vec<Bytes> {
    let resp = canonical(request, answer, n);
    let mut typed = vec![StreamEvent::Start {
        id: resp.id.clone(),
        model: resp.model.clone(),
    }];
    match &answer.body {
        AnswerBody::Text(text) => {
            typed.extend(
                split_pieces(text, pieces)
                    .into_iter()
                    .map(|p| StreamEvent::TextDelta {
                        choice: 0,
                        text: p.to_owned(),
                    }),
            )
        }
        AnswerBody::ToolCall { name } => {
            typed.push(StreamEvent::ToolCallStart {
                choice: 0,
                index: 0,
                id: TOOL_CALL_ID.into(),
                name: name.clone(),
            });
            typed.push(StreamEvent::ToolCallDelta {
                choice: 0,
                index: 0,
                arguments: TOOL_ARGUMENTS.into(),
            });
        }
    }
    let reason = resp
        .choices
        .first()
        .map_or(StopReason::Stop, |c| c.stop_reason);
    typed.push(StreamEvent::Stop { choice: 0, reason });
    typed.push(StreamEvent::Usage(resp.usage));
    let mut encoder = crate::responses::SseEncoder::new(CREATED);
    let mut out = Vec::new();
    for event in &typed {
        out.extend(encoder.encode(event));
    }
    out.extend(encoder.finish());
    split_events(&out)
}

/// SSE bytes cut into one `Bytes` per event (each ending in a blank line).
fn split_events(bytes: &[u8]) -> Vec<Bytes> {
    let text = String::from_utf8_lossy(bytes);
    text.split_inclusive("\n\n")
        .map(|e| Bytes::from(e.to_owned()))
        .collect()
}
