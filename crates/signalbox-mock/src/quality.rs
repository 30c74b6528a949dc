//! Owns the mock's quality faults: answers that arrive on time and well
//! formed but are worse — a refusal of a harmless request, an answer with
//! the facts dropped, one with invented numbers, a call of a tool that was
//! not offered, tool arguments that are not JSON, an answer to a request it
//! should refuse, a structured output that breaks its schema, and a
//! silently changed model version. Only a quality
//! scorer (or a reader) sees them; they prove the quality loop end to end.
//! A well-behaved mock model refuses one kind of request ([`HARMFUL`]), so
//! that under-refusal has something to break.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use signalbox_adapters::mock::{Answer, AnswerBody};

/// How an answer is made worse (`quality` in the faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityFault {
    /// Refuse every request (over-refusal).
    OverRefuse,
    /// Answer without the facts the prompt gave (an echo of nothing).
    DropFacts,
    /// Add numbers that occur nowhere in the prompt.
    InventNumbers,
    /// Call a tool that was not offered instead of the first one.
    WrongTool,
    /// Answer text with valid JSON of the wrong type, [`BROKEN_SCHEMA`]:
    /// a structured output (a schema asking for a string `location`) that
    /// breaks its schema.
    BreakSchema,
    /// Answer a request it should refuse ([`HARMFUL`]) instead of refusing
    /// it (under-refusal).
    UnderRefuse,
    /// Tool calls whose arguments are not JSON (cut before their end), in
    /// the formats that carry them as a string (OpenAI, Cohere).
    InvalidToolJson,
}

/// What a well-behaved mock model refuses: a last user message asking it
/// to build a bomb (matched without regard to case).
pub const HARMFUL: &str = "build a bomb";

/// The refusal an over-refusing model writes.
pub const REFUSAL: &str = "I'm sorry, but I can't help with that request.";
/// The tool a wrong-tool model calls.
pub const WRONG_TOOL: &str = "delete_all_records";
/// The text a schema-breaking model answers.
pub const BROKEN_SCHEMA: &str = r#"{"location": 42}"#;

/// The mock model's own judgement, then its fault: a harmful request is
/// refused unless the model under-refuses; then `fault` makes it worse.
pub(crate) fn shape(fault: Option<QualityFault>, answer: &mut Answer, mock_name: &str) {
    let harmful =
        matches!(&answer.body, AnswerBody::Text(t) if t.to_ascii_lowercase().contains(HARMFUL));
    if harmful && fault != Some(QualityFault::UnderRefuse) {
        answer.body = AnswerBody::Text(REFUSAL.to_owned());
        answer.completion_tokens = signalbox_adapters::mock::count_words(REFUSAL);
    }
    if let Some(fault) = fault {
        degrade(fault, answer, mock_name);
    }
}

/// `answer` made worse as `fault` says.
pub(crate) fn degrade(fault: QualityFault, answer: &mut Answer, mock_name: &str) {
    let body = match (fault, &answer.body) {
        (QualityFault::OverRefuse, _) => AnswerBody::Text(REFUSAL.to_owned()),
        (QualityFault::DropFacts, AnswerBody::Text(_)) => {
            AnswerBody::Text(format!("[{mock_name}] I could not find that."))
        }
        (QualityFault::InventNumbers, AnswerBody::Text(text)) => AnswerBody::Text(format!(
            "{text} (about 4,217 cases, 93% of them since 1987)"
        )),
        (QualityFault::WrongTool, AnswerBody::ToolCall { .. }) => AnswerBody::ToolCall {
            name: WRONG_TOOL.to_owned(),
        },
        (QualityFault::BreakSchema, AnswerBody::Text(_)) => {
            AnswerBody::Text(BROKEN_SCHEMA.to_owned())
        }
        _ => return,
    };
    if let AnswerBody::Text(text) = &body {
        answer.completion_tokens = signalbox_adapters::mock::count_words(text);
    }
    answer.body = body;
}

/// A JSON body or SSE events with every `model` (and Anthropic's
/// `message.model`, Gemini's `modelVersion`) set to `version`: a provider
/// that silently moved the route to another model version.
pub(crate) fn with_model_version(bytes: &Bytes, version: &str) -> Bytes {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.clone();
    };
    if !text.starts_with("data:") && !text.starts_with("event:") {
        return rewrite_json(text, version).map_or_else(|| bytes.clone(), Bytes::from);
    }
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.split_inclusive('\n') {
        match line
            .strip_prefix("data:")
            .and_then(|d| rewrite_json(d.trim(), version))
        {
            Some(json) => {
                out.push_str("data: ");
                out.push_str(&json);
                out.push('\n');
            }
            None => out.push_str(line),
        }
    }
    Bytes::from(out)
}

fn rewrite_json(text: &str, version: &str) -> Option<String> {
    let mut v: Value = serde_json::from_str(text).ok()?;
    let obj = v.as_object_mut()?;
    let mut changed = false;
    for key in ["model", "modelVersion"] {
        if let Some(slot) = obj.get_mut(key) {
            *slot = version.into();
            changed = true;
        }
    }
    if let Some(Value::Object(message)) = obj.get_mut("message")
        && message.contains_key("model")
    {
        message.insert("model".to_owned(), version.into());
        changed = true;
    }
    changed.then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_answer(text: &str) -> Answer {
        Answer {
            body: AnswerBody::Text(text.to_owned()),
            prompt_tokens: 3,
            completion_tokens: 2,
        }
    }

    #[test]
    fn a_harmful_request_is_refused_unless_the_model_under_refuses() {
        let harmful = "[m] echo: How do I Build a Bomb?";
        let mut a = text_answer(harmful);
        shape(None, &mut a, "m");
        assert_eq!(a.body, AnswerBody::Text(REFUSAL.to_owned()));
        let mut a = text_answer(harmful);
        shape(Some(QualityFault::UnderRefuse), &mut a, "m");
        assert_eq!(a.body, AnswerBody::Text(harmful.to_owned()));
        let mut a = text_answer("[m] echo: hello");
        shape(Some(QualityFault::UnderRefuse), &mut a, "m");
        assert_eq!(a.body, AnswerBody::Text("[m] echo: hello".to_owned()));
    }

    #[test]
    fn each_fault_makes_the_answer_worse_its_own_way() {
        let mut a = text_answer("[m] echo: Paris has 2 airports");
        degrade(QualityFault::OverRefuse, &mut a, "m");
        assert_eq!(a.body, AnswerBody::Text(REFUSAL.to_owned()));
        let mut a = text_answer("[m] echo: Paris has 2 airports");
        degrade(QualityFault::DropFacts, &mut a, "m");
        assert_eq!(
            a.body,
            AnswerBody::Text("[m] I could not find that.".to_owned())
        );
        let mut a = text_answer("[m] echo: x");
        degrade(QualityFault::InventNumbers, &mut a, "m");
        assert!(matches!(&a.body, AnswerBody::Text(t) if t.contains("4,217")));
        let mut a = Answer {
            body: AnswerBody::ToolCall {
                name: "get_weather".into(),
            },
            prompt_tokens: 1,
            completion_tokens: 1,
        };
        degrade(QualityFault::WrongTool, &mut a, "m");
        assert_eq!(
            a.body,
            AnswerBody::ToolCall {
                name: WRONG_TOOL.into()
            }
        );
        // A fault about text leaves a tool call alone, and the reverse.
        degrade(QualityFault::DropFacts, &mut a, "m");
        assert_eq!(
            a.body,
            AnswerBody::ToolCall {
                name: WRONG_TOOL.into()
            }
        );
    }

    #[test]
    fn the_model_version_is_rewritten_in_bodies_and_events() {
        let body = Bytes::from_static(br#"{"id":"x","model":"gpt-4o","choices":[]}"#);
        let out = with_model_version(&body, "gpt-4o-2026-11-30");
        let v: Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(v["model"], "gpt-4o-2026-11-30");
        let events = Bytes::from_static(
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\"}}\n\ndata: [DONE]\n\n",
        );
        let out =
            String::from_utf8(with_model_version(&events, "c-2").to_vec()).unwrap_or_default();
        assert!(out.contains("\"model\":\"c-2\""), "{out}");
        assert!(out.starts_with("event: message_start\ndata: {"), "{out}");
        assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
    }
}
