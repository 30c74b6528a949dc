//! Prompt-token estimates for the context-window constraint.
//!
//! Before a route is tried, the policy checks that the prompt fits the
//! route's context window. That needs a number of prompt tokens per request,
//! computed on the hot path and before any upstream has seen the request, so
//! it is an *estimate*, always recorded together with the method that
//! produced it ([`TokenEstimate::method`]).
//!
//! The real tokenizer is OpenAI's `o200k_base` (the GPT-4o / GPT-4.1 / GPT-5 /
//! o-series encoding), through the pure-Rust `tiktoken` crate ([`O200k`]). If
//! that encoder cannot be loaded, the documented fallback is
//! `ceil(chars / 4)` ([`CharApprox`]).
//!
//! What [`estimate_with`] counts in an OpenAI chat-completions body:
//!
//! * per message: [`TOKENS_PER_MESSAGE`] framing tokens, the role, the text
//!   content (string content, or the `text` / `refusal` of array parts), the
//!   `name` (plus [`TOKENS_PER_NAME`]), the function names and arguments of an
//!   assistant's `tool_calls` (and legacy `function_call`); tool results are
//!   the content of `tool` / `function` messages;
//! * [`IMAGE_PART_TOKENS`] per image part, whatever its size or detail;
//! * [`REPLY_PRIMING_TOKENS`] once, for the assistant reply priming;
//! * the JSON text of `tools` (and legacy `functions`) definitions.
//!
//! The framing constants follow OpenAI's published `num_tokens_from_messages`
//! recipe for the gpt-4o family. Other model families (Claude, Gemini, Llama,
//! ...) tokenize differently; for them the number is an approximation of the
//! same order of magnitude, see `docs/token-estimates.md`.
//!
//! Nothing here panics on any JSON shape: fields of unexpected types count
//! as zero tokens, unknown fields are ignored.
//!
//! The cost is linear with a small constant on any text: text is counted in
//! segments cut where the tokenizer would cut anyway, or every
//! [`segment::RUN_CAP`] bytes in runs without such a place ([`segment`]),
//! and the tokenizer runs for at most [`TIME_BUDGET`] per estimate, the rest
//! being extrapolated ([`METHOD_O200K_PAST_BUDGET`]). See
//! `docs/token-estimates.md` for the accuracy and the throughput.

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};

use budget::Counting;
pub use budget::{METHOD_O200K_PAST_BUDGET, TIME_BUDGET};

mod budget;
mod embeddings;
pub use embeddings::{InputsEstimate, estimate_inputs};
pub mod segment;
#[cfg(test)]
mod tests;

/// Framing tokens of each chat message (`<|im_start|>`, `<|im_sep|>`,
/// `<|im_end|>` in the gpt-4o chat format), per OpenAI's published recipe.
pub const TOKENS_PER_MESSAGE: u64 = 3;

/// Extra token for a message carrying a `name`, per OpenAI's published recipe.
pub const TOKENS_PER_NAME: u64 = 1;

/// Tokens priming the reply (`<|im_start|>assistant<|im_sep|>`), counted once
/// per request, per OpenAI's published recipe.
pub const REPLY_PRIMING_TOKENS: u64 = 3;

/// Tokens charged per image part, whatever its real size: an approximation.
///
/// OpenAI bills a high-detail image as 85 base tokens plus 170 per 512×512
/// tile; 765 = 85 + 4 × 170 is a 2×2 set of 512 px tiles (an image scaled to
/// 1024×1024). Low-detail images really cost 85, larger ones up to 1105;
/// the gateway does not download or decode images to tell.
pub const IMAGE_PART_TOKENS: u64 = 765;

/// [`TokenEstimate::method`] of the real `o200k_base` tokenizer.
pub const METHOD_O200K: &str = "tiktoken o200k_base";

/// [`TokenEstimate::method`] of the character approximation.
pub const METHOD_CHARS: &str = "approx chars/4";

/// Counts tokens of text. The estimator hands it segments of a prompt's
/// texts ([`segment`]), never more than about 16 KiB at once.
pub trait TokenCounter: Send + Sync {
    /// The number of tokens of `text`.
    fn count(&self, text: &str) -> usize;
    /// How the tokens are counted, recorded with every estimate.
    fn method(&self) -> &'static str;
}

/// The documented fallback: one token per four characters, rounded up
/// (`ceil(chars / 4)`, counting Unicode scalar values, not bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CharApprox;

impl TokenCounter for CharApprox {
    fn count(&self, text: &str) -> usize {
        text.chars().count().div_ceil(4)
    }

    fn method(&self) -> &'static str {
        METHOD_CHARS
    }
}

/// The real tokenizer: tiktoken `o200k_base` (OpenAI gpt-4o family).
///
/// The encoder is embedded in the binary and loaded once, on first use
/// (about a hundred milliseconds); call [`warm`] at startup, on every
/// serving thread, so no request pays for it. Should it fail to load, [`O200k::count`] falls back to
/// [`CharApprox`] (and [`estimate_prompt`] then records [`METHOD_CHARS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct O200k;

static O200K: OnceLock<Option<&'static tiktoken::CoreBpe>> = OnceLock::new();

impl O200k {
    /// The loaded encoder, loading it on first call; `None` if it cannot be
    /// loaded (a load that panics is caught and treated the same way).
    fn encoder() -> Option<&'static tiktoken::CoreBpe> {
        *O200K.get_or_init(|| {
            std::panic::catch_unwind(|| tiktoken::get_encoding("o200k_base"))
                .ok()
                .flatten()
        })
    }

    /// Whether the real encoder is loaded (loading it if needed).
    pub fn is_available() -> bool {
        Self::encoder().is_some()
    }
}

impl TokenCounter for O200k {
    fn count(&self, text: &str) -> usize {
        match Self::encoder() {
            Some(encoder) => encoder.count(text),
            None => CharApprox.count(text),
        }
    }

    fn method(&self) -> &'static str {
        if Self::is_available() {
            METHOD_O200K
        } else {
            METHOD_CHARS
        }
    }
}

/// A request that takes every path of the estimator once: ASCII words,
/// digits, punctuation and whitespace runs (the tokenizer's fast scanner),
/// non-ASCII letters, CJK and emoji (its regex), a run long enough to be
/// segmented, a name, a tool call and tool definitions (the JSON scratch
/// buffer).
fn warm_body() -> Map<String, Value> {
    let text = "Warm-up: the gateway's 1,024 routes (東京、café, naïve 😀).\n\n    fn main() {}\t";
    let run = "=".repeat(2 * segment::RUN_CAP);
    let mut body = Map::new();
    body.insert(
        "messages".to_owned(),
        serde_json::json!([
            {"role": "system", "content": run},
            {"role": "user", "name": "warm", "content": [{"type": "text", "text": text}]},
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
        ]),
    );
    body.insert(
        "tools".to_owned(),
        serde_json::json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]),
    );
    body
}

thread_local! {
    /// Whether [`warm`] has run on this thread.
    static WARMED: Cell<bool> = const { Cell::new(false) };
}

/// Loads the `o200k_base` encoder (once per process, about a hundred
/// milliseconds) and primes the calling thread's share of the estimator:
/// the tokenizer's per-thread piece cache (about a megabyte), the regex
/// engine's per-thread cache and the JSON scratch buffer, all otherwise
/// created by the thread's first estimate. Call it at startup on every
/// thread that will estimate, before the gateway reports ready. Returns
/// whether the real tokenizer is available (otherwise estimates use
/// [`CharApprox`]). Cheap after the first call on a thread.
pub fn warm() -> bool {
    let available = O200k::is_available();
    if !WARMED.get() {
        let _ = estimate_prompt(&warm_body());
        WARMED.set(true);
    }
    available
}

/// Whether [`warm`] has run on the calling thread: the encoder is loaded
/// (or known to be unavailable) and this thread's estimator state is primed.
/// Loads nothing.
pub fn is_warm() -> bool {
    O200K.get().is_some() && WARMED.get()
}

/// The counter [`estimate_prompt`] uses: [`O200k`] when it loads, else
/// [`CharApprox`].
pub fn default_counter() -> &'static dyn TokenCounter {
    if O200k::is_available() {
        &O200k
    } else {
        &CharApprox
    }
}

/// A prompt's estimated size, with how it was estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenEstimate {
    /// Estimated prompt tokens, framing, images and tool definitions included.
    pub prompt_tokens: u64,
    /// The counting method: [`METHOD_O200K`], [`METHOD_CHARS`] or
    /// [`METHOD_O200K_PAST_BUDGET`].
    pub method: &'static str,
}

/// Estimates the prompt tokens of an OpenAI chat-completions body with the
/// default counter (tiktoken `o200k_base`, falling back to `ceil(chars/4)`).
/// See the [module docs](self) for what is counted. Never panics.
pub fn estimate_prompt(body: &Map<String, Value>) -> TokenEstimate {
    estimate_with(default_counter(), body)
}

/// Estimates a request's prompt tokens. A request whose OpenAI view lacks
/// part of the client's own body (an Anthropic `document`, `thinking` or
/// `search_result` block, forwarded only to Anthropic routes; a Responses
/// built-in tool's items or a file, only passed through) is estimated
/// from that body too, when it says more: otherwise a prompt put in a
/// `document` would pass the context-window and cost constraints and the
/// tenant's tokens-per-minute limit as if it were not there. Requests
/// without such parts (every OpenAI request) cost one check more.
pub fn estimate_request(req: &signalbox_core::ChatRequest) -> TokenEstimate {
    let view = estimate_prompt(req.body());
    let Some(native) = req.native().filter(|_| req.untranslatable().is_some()) else {
        return view;
    };
    let counter = Counting::new(default_counter(), TIME_BUDGET);
    let mut total = REPLY_PRIMING_TOKENS;
    // Anthropic's `system` and `messages`, or Responses' `instructions`
    // and `input` items.
    if let Some(system) = native
        .body
        .get("system")
        .or(native.body.get("instructions"))
    {
        total = total.saturating_add(leaf_tokens(&counter, system));
    }
    let messages = native.body.get("messages").or(native.body.get("input"));
    if let Some(Value::Array(messages)) = messages {
        for m in messages {
            total = total
                .saturating_add(TOKENS_PER_MESSAGE)
                .saturating_add(leaf_tokens(&counter, m));
        }
    }
    if let Some(tools) = native.body.get("tools") {
        total = total.saturating_add(json_text_tokens(&counter, tools));
    }
    if total <= view.prompt_tokens {
        return view;
    }
    TokenEstimate {
        prompt_tokens: total,
        method: counter.method(),
    }
}

/// Every string inside `value` counted as text; a base64 `source` (an
/// image or a PDF) at the fixed image cost, whatever its size.
fn leaf_tokens(counter: &Counting<'_>, value: &Value) -> u64 {
    match value {
        Value::String(text) => counter.text(text),
        Value::Array(items) => items.iter().fold(0u64, |total, v| {
            total.saturating_add(leaf_tokens(counter, v))
        }),
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("base64") => {
            IMAGE_PART_TOKENS
        }
        Value::Object(map) => map.values().fold(0u64, |total, v| {
            total.saturating_add(leaf_tokens(counter, v))
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// Estimates the prompt tokens of an OpenAI chat-completions body with
/// `counter`, within [`TIME_BUDGET`]. See the [module docs](self) for what
/// is counted. Never panics.
pub fn estimate_with(counter: &dyn TokenCounter, body: &Map<String, Value>) -> TokenEstimate {
    estimate_within(counter, body, TIME_BUDGET)
}

/// As [`estimate_with`], running `counter` for at most `budget`; text left
/// when it runs out is counted as `ceil(chars / 4)`, and the method says so
/// ([`METHOD_O200K_PAST_BUDGET`]).
pub fn estimate_within(
    counter: &dyn TokenCounter,
    body: &Map<String, Value>,
    budget: Duration,
) -> TokenEstimate {
    let counter = Counting::new(counter, budget);
    let mut total = REPLY_PRIMING_TOKENS;
    if let Some(Value::Array(messages)) = body.get("messages") {
        for message in messages {
            total = total.saturating_add(message_tokens(&counter, message));
        }
    }
    for key in ["tools", "functions"] {
        if let Some(definitions) = body.get(key)
            && !definitions.is_null()
        {
            total = total.saturating_add(json_text_tokens(&counter, definitions));
        }
    }
    TokenEstimate {
        prompt_tokens: total,
        method: counter.method(),
    }
}

/// Tokens of a value that should be a string; anything else counts zero.
fn str_tokens(counter: &Counting<'_>, value: Option<&Value>) -> u64 {
    match value {
        Some(Value::String(text)) => counter.text(text),
        _ => 0,
    }
}

/// One message: framing, role, content, name, tool calls. A message that is
/// not an object still costs its framing (the upstream will reject it, but
/// the estimate stays monotonic in the number of messages).
fn message_tokens(counter: &Counting<'_>, message: &Value) -> u64 {
    let mut total = TOKENS_PER_MESSAGE;
    let Value::Object(message) = message else {
        return total;
    };
    total = total.saturating_add(str_tokens(counter, message.get("role")));
    if let Some(content) = message.get("content") {
        total = total.saturating_add(content_tokens(counter, content));
    }
    if let Some(Value::String(name)) = message.get("name") {
        total = total
            .saturating_add(counter.text(name))
            .saturating_add(TOKENS_PER_NAME);
    }
    if let Some(Value::Array(calls)) = message.get("tool_calls") {
        for call in calls {
            total = total.saturating_add(function_tokens(counter, call.get("function")));
        }
    }
    total = total.saturating_add(function_tokens(counter, message.get("function_call")));
    total
}

/// A `{"name": ..., "arguments": ...}` function call: its name and arguments.
fn function_tokens(counter: &Counting<'_>, function: Option<&Value>) -> u64 {
    match function {
        Some(Value::Object(function)) => str_tokens(counter, function.get("name"))
            .saturating_add(str_tokens(counter, function.get("arguments"))),
        _ => 0,
    }
}

/// Message content: a string, an array of parts, or (rarely) null.
fn content_tokens(counter: &Counting<'_>, content: &Value) -> u64 {
    match content {
        Value::String(text) => counter.text(text),
        Value::Array(parts) => parts.iter().fold(0u64, |total, part| {
            total.saturating_add(part_tokens(counter, part))
        }),
        // Not a documented shape; a lone part object is read like one.
        Value::Object(_) => part_tokens(counter, content),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// One content part: `text` / `refusal` text, or a fixed cost per image.
fn part_tokens(counter: &Counting<'_>, part: &Value) -> u64 {
    let part = match part {
        Value::Object(part) => part,
        Value::String(text) => return counter.text(text),
        _ => return 0,
    };
    let kind = part.get("type").and_then(Value::as_str);
    if matches!(kind, Some("image_url" | "image" | "input_image")) || part.contains_key("image_url")
    {
        return IMAGE_PART_TOKENS;
    }
    str_tokens(counter, part.get("text")).saturating_add(str_tokens(counter, part.get("refusal")))
}

thread_local! {
    /// Reused buffer for serializing tool definitions, so the hot path does
    /// not allocate once it has warmed up.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Buffers bigger than this are not kept between requests.
const SCRATCH_KEEP: usize = 256 * 1024;

/// Tokens of the compact JSON text of `value`.
fn json_text_tokens(counter: &Counting<'_>, value: &Value) -> u64 {
    let count_in = |buffer: &mut Vec<u8>| {
        buffer.clear();
        let tokens = match serde_json::to_writer(&mut *buffer, value) {
            Ok(()) => std::str::from_utf8(buffer).map_or(0, |text| counter.text(text)),
            Err(_) => 0,
        };
        if buffer.capacity() > SCRATCH_KEEP {
            *buffer = Vec::new();
        }
        tokens
    };
    SCRATCH
        .try_with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut buffer) => count_in(&mut buffer),
            // Re-entered from a counter: use a fresh buffer.
            Err(_) => count_in(&mut Vec::new()),
        })
        .unwrap_or_else(|_| count_in(&mut Vec::new()))
}
