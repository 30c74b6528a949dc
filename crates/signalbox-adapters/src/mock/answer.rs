//! Owns the format-neutral answer: what the mock says to a prompt, and its token counts.
//!
//! Wire formats (each kind's `mock` module) reduce a request to a [`Prompt`]
//! and render the [`Answer`]; the rules below are shared by all of them.

/// Tokens charged per message on top of its words.
const TOKENS_PER_MESSAGE: u64 = 4;

/// Arguments of the canned tool call.
pub const TOOL_ARGUMENTS: &str = r#"{"location":"Paris"}"#;

/// Id of the canned tool call.
pub const TOOL_CALL_ID: &str = "call_mock_1";

/// What the answer depends on, extracted from a request by a wire format.
#[derive(Debug, Default)]
pub struct Prompt {
    /// Whitespace-separated words across all message texts.
    pub words: u64,
    /// Number of messages.
    pub messages: u64,
    /// Text of the last user message (text parts joined by a space).
    pub last_user_text: String,
    /// Name of the first tool offered, if any.
    pub first_tool: Option<String>,
    /// The request forces a call of its first tool.
    pub forced_tool: bool,
    /// The text of the conversation's last message when that is the
    /// assistant's (a prefill the answer continues).
    pub prefill: Option<String>,
    /// The request asks for a JSON-schema answer that this API enforces
    /// natively (the mock's Responses API, `text.format`; its Anthropic
    /// API, `output_config.format`; Gemini's `responseSchema`): the answer
    /// is [`TOOL_ARGUMENTS`], the
    /// canned object, as text. The mock's OpenAI chat API leaves this
    /// unset: it only follows instructions, answering prose.
    pub json_schema: bool,
}

impl Prompt {
    /// Counts one message whose text pieces are `texts`; a user message with text becomes the
    /// echo candidate (messages holding only tool results do not).
    pub fn add_message<'a>(&mut self, user: bool, texts: impl IntoIterator<Item = &'a str>) {
        let texts: Vec<&str> = texts.into_iter().collect();
        self.messages += 1;
        self.words += texts.iter().map(|t| count_words(t)).sum::<u64>();
        if user && !texts.is_empty() {
            self.last_user_text = texts.join(" ");
        }
        self.prefill = (!user && !texts.is_empty()).then(|| texts.concat());
    }
}

/// The mock's deterministic reply.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub body: AnswerBody,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Either text or a single tool call.
#[derive(Debug, PartialEq, Eq)]
pub enum AnswerBody {
    Text(String),
    ToolCall { name: String },
}

impl Answer {
    /// Echoes the last user message, or calls the first tool when asked
    /// about the weather or when the request forces a call.
    pub fn to(prompt: Prompt, mock_name: &str) -> Self {
        let Prompt {
            words,
            messages,
            last_user_text,
            first_tool,
            forced_tool,
            prefill,
            json_schema,
        } = prompt;
        let prompt_tokens = words + TOKENS_PER_MESSAGE * messages;
        let body = match first_tool {
            Some(name) if forced_tool || mentions_weather(&last_user_text) => {
                AnswerBody::ToolCall { name }
            }
            _ if json_schema => AnswerBody::Text(TOOL_ARGUMENTS.to_owned()),
            _ if last_user_text.starts_with(JUDGE_MARK) => AnswerBody::Text(grade(&last_user_text)),
            _ => AnswerBody::Text(continued(prefill.as_deref(), mock_name, &last_user_text)),
        };
        // A tool call has no content; its arguments stand in for it.
        let completion_tokens = match &body {
            AnswerBody::Text(text) => count_words(text),
            AnswerBody::ToolCall { .. } => count_words(TOOL_ARGUMENTS),
        };
        Self {
            body,
            prompt_tokens,
            completion_tokens,
        }
    }
}

/// How a judge request starts (`signalbox_eval::score::judge::MARK`).
const JUDGE_MARK: &str = "[signalbox-judge]";

/// The mock judge's grade of the `<answer>` in a judge request: 0 for an
/// empty answer, a refusal or an answer that found nothing; 1 otherwise.
fn grade(request: &str) -> String {
    let answer = request
        .split_once("<answer>")
        .and_then(|(_, rest)| rest.split_once("</answer>"))
        .map_or("", |(a, _)| a)
        .to_ascii_lowercase();
    let calls = request
        .split_once("<tool_calls>")
        .and_then(|(_, rest)| rest.split_once("</tool_calls>"))
        .map_or("", |(c, _)| c);
    let bad = ["sorry", "can't", "cannot", "could not find"];
    let empty = answer.trim().is_empty() && calls.trim().is_empty();
    if empty || bad.iter().any(|b| answer.contains(b)) {
        r#"{"score": 0.0, "reason": "the answer does not address the question"}"#.to_owned()
    } else {
        r#"{"score": 1.0, "reason": "the answer addresses the question"}"#.to_owned()
    }
}

/// The echo, or (after an assistant prefill that begins some mock's echo
/// of this prompt, as a broken stream's delivered text does) the rest of
/// that echo: a continuation that completes the first mock's answer.
fn continued(prefill: Option<&str>, mock_name: &str, last_user_text: &str) -> String {
    let own = format!("[{mock_name}] echo: {last_user_text}");
    let Some(prefill) = prefill else { return own };
    let Some(end) = prefill.find("] echo:") else {
        return own;
    };
    let whole = format!("{} {last_user_text}", &prefill[..end + "] echo:".len()]);
    match whole.strip_prefix(prefill) {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => own,
    }
}

/// Number of whitespace-separated words.
pub fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Whether `text` contains the word "weather" (any case, any punctuation around it).
fn mentions_weather(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|word| word.eq_ignore_ascii_case("weather"))
}

/// Splits `text` into at most `pieces` non-empty parts of about equal length (in characters),
/// never inside a character; fewer parts when the text has fewer characters.
pub fn split_pieces(text: &str, pieces: u32) -> Vec<&str> {
    let chars = text.chars().count();
    let pieces = (pieces.max(1) as usize).min(chars);
    if pieces == 0 {
        return Vec::new();
    }
    let mut bounds = text.char_indices().map(|(i, _)| i).chain([text.len()]);
    let mut out = Vec::with_capacity(pieces);
    let mut start = 0;
    let mut taken = 0;
    for k in 1..=pieces {
        let end_char = k * chars / pieces;
        let end = bounds.nth(end_char - taken).unwrap_or(text.len());
        // `nth` consumed up to and including `end_char`, so the next call resumes after it.
        taken = end_char + 1;
        out.push(&text[start..end]);
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mock_judge_grades_refusals_and_empty_answers_zero() {
        let ask = |answer: &str| {
            grade(&format!(
                "{JUDGE_MARK} Rubric: x\n<answer>{answer}</answer>\n<tool_calls></tool_calls>"
            ))
        };
        assert!(ask("[m] echo: the capital is Paris").contains("\"score\": 1.0"));
        assert!(ask("I'm sorry, but I can't help with that.").contains("\"score\": 0.0"));
        assert!(ask("").contains("\"score\": 0.0"));
    }

    #[test]
    fn a_prefill_of_an_echo_is_continued_to_its_end() {
        let rest = continued(Some("[primary] echo: hello th"), "secondary", "hello there");
        assert_eq!(rest, "ere");
        // Not an echo of this prompt, or already whole: the mock's own echo.
        let own = "[secondary] echo: hello there";
        assert_eq!(continued(Some("Sure."), "secondary", "hello there"), own);
        assert_eq!(
            continued(
                Some("[primary] echo: hello there"),
                "secondary",
                "hello there"
            ),
            own
        );
        assert_eq!(continued(None, "secondary", "hello there"), own);
    }

    #[test]
    fn counts_words_across_whitespace() {
        assert_eq!(count_words(""), 0);
        assert_eq!(count_words("   "), 0);
        assert_eq!(count_words("hello"), 1);
        assert_eq!(count_words(" hello \t big\n world "), 3);
        assert_eq!(count_words("[mock] echo: hi there"), 4);
    }

    #[test]
    fn echo_answer_and_usage() {
        let prompt = Prompt {
            words: 5,
            messages: 2,
            last_user_text: "hi there".into(),
            first_tool: None,
            forced_tool: false,
            prefill: None,
            json_schema: false,
        };
        let answer = Answer::to(prompt, "a");
        assert_eq!(answer.body, AnswerBody::Text("[a] echo: hi there".into()));
        assert_eq!(answer.prompt_tokens, 13);
        assert_eq!(answer.completion_tokens, 4);
    }

    #[test]
    fn a_schema_enforced_natively_is_answered_with_the_canned_object() {
        let prompt = Prompt {
            last_user_text: "where?".into(),
            json_schema: true,
            ..Prompt::default()
        };
        let answer = Answer::to(prompt, "a");
        assert_eq!(answer.body, AnswerBody::Text(TOOL_ARGUMENTS.into()));
    }

    #[test]
    fn tool_call_only_for_weather_with_tools() {
        let ask = |text: &str, tool: Option<&str>| {
            Answer::to(
                Prompt {
                    last_user_text: text.into(),
                    first_tool: tool.map(str::to_owned),
                    ..Prompt::default()
                },
                "m",
            )
            .body
        };
        let call = AnswerBody::ToolCall {
            name: "get_weather".into(),
        };
        assert_eq!(
            ask("What's the Weather in Paris?", Some("get_weather")),
            call
        );
        assert!(matches!(ask("weather?", None), AnswerBody::Text(_)));
        assert!(matches!(ask("weatherman", Some("f")), AnswerBody::Text(_)));
    }

    #[test]
    fn splits_into_equal_pieces_that_rejoin() {
        for (text, n) in [
            ("[mock] echo: hello world", 5),
            ("abc", 5),
            ("héllo wörld ünïcode", 4),
            ("abcdefghij", 3),
            ("x", 0),
            ("", 5),
        ] {
            let parts = split_pieces(text, n);
            assert_eq!(parts.concat(), text);
            assert_eq!(parts.len(), (n.max(1) as usize).min(text.chars().count()));
            assert!(parts.iter().all(|p| !p.is_empty()));
        }
        assert_eq!(split_pieces("abcdefghij", 3), vec!["abc", "def", "ghij"]);
    }
}
