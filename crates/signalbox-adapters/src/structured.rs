//! Owns structured output (`response_format: json_schema`) for providers
//! without a native JSON-schema mode (Anthropic, Bedrock): the request
//! forces one tool, [`TOOL`], whose input schema is the response schema,
//! and its call comes back as the answer's text (JSON), with the stop of a
//! finished answer. The tool's name is reserved: a request that offers
//! tools of its own is refused for such routes (forcing one tool would
//! take the others away), so a call of [`TOOL`] is only ever this one.
//! Reading the text of an answer passed on as written (a Response object,
//! an Anthropic message, or their streams), to check it against the
//! schema, is in [`text`].

pub mod text;

use serde_json::Value;

use crate::canonical::{ChatRequest, ChatResponse, Part, ResponseFormat, StopReason, StreamEvent};
use crate::error::TranslateError;

/// The reserved name of the forced tool.
pub const TOOL: &str = "signalbox_structured_output";

/// What a forced tool is made of: its description and input schema.
pub(crate) struct ForcedTool<'a> {
    /// What the model is told the tool is for.
    pub description: String,
    /// The response schema (a JSON object schema).
    pub schema: &'a Value,
}

/// The forced tool for `req`, when it asks for a JSON schema; refused
/// when the request offers tools of its own or the schema's top level is
/// not an object (`target` names the provider in the error).
pub(crate) fn forced_tool<'a>(
    req: &'a ChatRequest,
    target: &'static str,
) -> Result<Option<ForcedTool<'a>>, TranslateError> {
    let Some(ResponseFormat::JsonSchema {
        name,
        description,
        schema,
        ..
    }) = &req.response_format
    else {
        return Ok(None);
    };
    if !req.tools.is_empty() {
        return Err(TranslateError::unsupported(
            target,
            "response_format.json_schema",
            "a JSON schema is enforced through a forced tool, which cannot be combined with the request's own tools",
        ));
    }
    let is_object = schema.get("type").and_then(Value::as_str) == Some("object")
        || schema.get("properties").is_some();
    if !is_object {
        return Err(TranslateError::unsupported(
            target,
            "response_format.json_schema.schema",
            "the forced tool takes an object schema; this schema's top level is not an object",
        ));
    }
    let description = match description {
        Some(d) => format!("Respond with `{name}`: {d}"),
        None => format!("Respond with `{name}` as this tool's input."),
    };
    Ok(Some(ForcedTool {
        description,
        schema,
    }))
}

/// Turns a call of the forced tool into the answer's text.
pub(crate) fn unwrap_answer(resp: &mut ChatResponse) {
    for choice in &mut resp.choices {
        let mut forced = false;
        for part in &mut choice.content {
            if let Part::ToolCall(call) = part
                && call.name == TOOL
            {
                *part = Part::Text(std::mem::take(&mut call.arguments));
                forced = true;
            }
        }
        if forced && choice.stop_reason == StopReason::ToolCalls {
            choice.stop_reason = StopReason::Stop;
        }
    }
}

/// Turns a stream's call of the forced tool into text deltas.
#[derive(Debug, Default)]
pub(crate) struct Unwrap {
    /// The forced call's index, once it started.
    call: Option<u32>,
}

impl Unwrap {
    /// Rewrites `events` in place.
    pub(crate) fn events(&mut self, events: &mut Vec<StreamEvent>) {
        if self.call.is_none()
            && !events
                .iter()
                .any(|e| matches!(e, StreamEvent::ToolCallStart { name, .. } if name == TOOL))
        {
            return;
        }
        events.retain_mut(|event| match event {
            StreamEvent::ToolCallStart { index, name, .. } if name == TOOL => {
                self.call = Some(*index);
                false
            }
            StreamEvent::ToolCallDelta {
                choice,
                index,
                arguments,
            } if Some(*index) == self.call => {
                *event = StreamEvent::TextDelta {
                    choice: *choice,
                    text: std::mem::take(arguments),
                };
                true
            }
            StreamEvent::Stop { reason, .. } if self.call.is_some() => {
                if *reason == StopReason::ToolCalls {
                    *reason = StopReason::Stop;
                }
                true
            }
            _ => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::canonical::{Choice, Dialect, ToolCall, Usage};

    #[test]
    fn a_forced_call_is_the_answers_text_and_its_stop_a_finish() {
        let mut resp = ChatResponse {
            id: "m".into(),
            model: "c".into(),
            choices: vec![Choice {
                index: 0,
                content: vec![Part::ToolCall(ToolCall {
                    id: "t".into(),
                    name: TOOL.into(),
                    arguments: "{\"a\":1}".into(),
                })],
                stop_reason: StopReason::ToolCalls,
            }],
            usage: Usage::default(),
            provider_stop_reason: None,
        };
        unwrap_answer(&mut resp);
        assert_eq!(resp.text(), "{\"a\":1}");
        assert_eq!(resp.choices[0].stop_reason, StopReason::Stop);

        let mut unwrap = Unwrap::default();
        let mut events = vec![
            StreamEvent::ToolCallStart {
                choice: 0,
                index: 0,
                id: "t".into(),
                name: TOOL.into(),
            },
            StreamEvent::ToolCallDelta {
                choice: 0,
                index: 0,
                arguments: "{\"a\"".into(),
            },
        ];
        unwrap.events(&mut events);
        let mut rest = vec![
            StreamEvent::ToolCallDelta {
                choice: 0,
                index: 0,
                arguments: ":1}".into(),
            },
            StreamEvent::Stop {
                choice: 0,
                reason: StopReason::ToolCalls,
            },
        ];
        unwrap.events(&mut rest);
        events.extend(rest);
        assert_eq!(
            events,
            [
                StreamEvent::TextDelta {
                    choice: 0,
                    text: "{\"a\"".into()
                },
                StreamEvent::TextDelta {
                    choice: 0,
                    text: ":1}".into()
                },
                StreamEvent::Stop {
                    choice: 0,
                    reason: StopReason::Stop
                },
            ]
        );
    }

    #[test]
    fn the_forced_tool_is_refused_beside_other_tools_or_for_a_non_object_schema() {
        let mut req = ChatRequest::new("m", Dialect::OpenAi);
        req.response_format = Some(ResponseFormat::JsonSchema {
            name: "out".into(),
            description: None,
            schema: json!({"type": "array"}),
            strict: Some(true),
        });
        assert!(forced_tool(&req, "anthropic").is_err());
        req.response_format = Some(ResponseFormat::JsonSchema {
            name: "out".into(),
            description: None,
            schema: json!({"type": "object", "properties": {}}),
            strict: Some(true),
        });
        assert!(matches!(forced_tool(&req, "anthropic"), Ok(Some(_))));
        req.tools.push(crate::canonical::Tool {
            name: "f".into(),
            description: None,
            parameters: json!({}),
            strict: None,
        });
        assert!(forced_tool(&req, "anthropic").is_err());
    }
}
