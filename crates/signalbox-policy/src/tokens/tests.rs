use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

fn body(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("test body must be an object, got {other}"),
    }
}

/// The estimate with the real tokenizer and no time budget (a loaded test
/// machine must not turn a count into an extrapolation).
fn o200k(value: Value) -> u64 {
    assert!(warm(), "the o200k_base encoder must load in tests");
    let estimate = estimate_within(default_counter(), &body(value), std::time::Duration::MAX);
    assert_eq!(estimate.method, METHOD_O200K);
    estimate.prompt_tokens
}

/// Tokens of `text` with no time budget.
fn text_tokens(counter: &dyn TokenCounter, text: &str) -> u64 {
    budget::Counting::new(counter, std::time::Duration::MAX).text(text)
}

fn chars(value: Value) -> u64 {
    let estimate = estimate_with(&CharApprox, &body(value));
    assert_eq!(estimate.method, METHOD_CHARS);
    estimate.prompt_tokens
}

// ---- the counters ----

#[test]
fn o200k_known_counts() {
    assert!(warm());
    assert!(O200k::is_available());
    assert_eq!(O200k.method(), "tiktoken o200k_base");
    // Counts of tiktoken's o200k_base (the same in OpenAI's Python tiktoken).
    assert_eq!(O200k.count(""), 0);
    assert_eq!(O200k.count("hello"), 1);
    assert_eq!(O200k.count("hello world"), 2);
    assert_eq!(
        O200k.count("The quick brown fox jumps over the lazy dog."),
        10
    );
    assert_eq!(O200k.count("こんにちは世界"), 2);
    for role in ["system", "user", "assistant", "tool"] {
        assert_eq!(O200k.count(role), 1, "{role}");
    }
    assert_eq!(O200k.count("get_weather"), 2);
    assert_eq!(O200k.count(r#"{"city":"Paris"}"#), 5);
}

#[test]
fn char_approx_is_ceil_chars_over_four() {
    assert_eq!(CharApprox.method(), "approx chars/4");
    assert_eq!(CharApprox.count(""), 0);
    assert_eq!(CharApprox.count("a"), 1);
    assert_eq!(CharApprox.count("abcd"), 1);
    assert_eq!(CharApprox.count("abcde"), 2);
    assert_eq!(CharApprox.count("hello world"), 3); // 11 chars
    // Characters, not bytes: 7 chars (21 bytes) -> 2.
    assert_eq!(CharApprox.count("こんにちは世界"), 2);
    assert_eq!(CharApprox.count(&"x".repeat(4001)), 1001);
}

#[test]
fn default_counter_is_o200k() {
    assert!(warm());
    assert_eq!(default_counter().method(), METHOD_O200K);
    assert_eq!(default_counter().count("hello world"), 2);
}

// ---- framing arithmetic ----

#[test]
fn single_user_message() {
    // OpenAI's num_tokens_from_messages for gpt-4o:
    //   3 (message framing) + 1 ("user") + 1 ("hello") + 3 (reply priming) = 8,
    // which is what the API reports as prompt_tokens for this request.
    let request = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]});
    assert_eq!(o200k(request.clone()), 8);
    // chars/4: 3 + ceil(4/4) + ceil(5/4) + 3 = 3 + 1 + 2 + 3 = 9.
    assert_eq!(chars(request), 9);
}

#[test]
fn system_and_user() {
    // 3 + "system"(1) + "You are a helpful assistant."(6)
    // + 3 + "user"(1) + "hello world"(2) + 3 = 19.
    assert_eq!(O200k.count("You are a helpful assistant."), 6);
    let request = json!({"messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "hello world"},
    ]});
    assert_eq!(o200k(request), 19);
}

#[test]
fn openai_cookbook_example() {
    // The example conversation of OpenAI's "How to count tokens with
    // tiktoken" cookbook, which counts every field value (role, name,
    // content), 3 per message, +1 per name and 3 for the reply priming.
    let messages = json!([
        {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
        {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
        {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
        {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
        {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
        {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
    ]);
    // The same recipe, written out independently of the implementation.
    let mut expected = REPLY_PRIMING_TOKENS;
    for message in messages.as_array().unwrap() {
        expected += TOKENS_PER_MESSAGE;
        for (key, value) in message.as_object().unwrap() {
            expected += O200k.count(value.as_str().unwrap()) as u64;
            if key == "name" {
                expected += TOKENS_PER_NAME;
            }
        }
    }
    let got = o200k(json!({ "messages": messages }));
    assert_eq!(got, expected);
    assert_eq!(got, 124);
}

#[test]
fn name_costs_one_extra_token() {
    let without = o200k(json!({"messages": [{"role": "user", "content": "hi"}]}));
    let with = o200k(json!({"messages": [{"role": "user", "content": "hi", "name": "bob"}]}));
    // "bob" is 1 token, plus TOKENS_PER_NAME.
    assert_eq!(with, without + 2);
}

// ---- content shapes ----

#[test]
fn array_content_text_and_images() {
    // 3 + "user"(1) + "hello world"(2) + "hello"(1) + 2 × 765 + 3 = 1540.
    let request = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "hello world"},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/a.png", "detail": "high"}},
        {"type": "text", "text": "hello"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]}]});
    assert_eq!(
        o200k(request.clone()),
        3 + 1 + 2 + 1 + 2 * IMAGE_PART_TOKENS + 3
    );
    assert_eq!(IMAGE_PART_TOKENS, 765);
    // Images cost the same whatever the counter.
    assert_eq!(chars(request), 3 + 1 + 3 + 2 + 2 * 765 + 3);
}

#[test]
fn odd_parts_are_tolerated() {
    // A bare string part counts as text; null / numbers / unknown parts count
    // zero; a refusal part counts its text; a part with `image_url` but no
    // type is an image.
    let request = json!({"messages": [{"role": "assistant", "content": [
        "hello",
        null,
        42,
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "refusal", "refusal": "hello world"},
        {"image_url": {"url": "x"}},
        {"type": "text", "text": null},
        {"type": "text"},
        [],
    ]}]});
    assert_eq!(o200k(request), 3 + 1 + 1 + 2 + 765 + 3);
}

#[test]
fn bodies_without_messages() {
    // Only the reply priming remains.
    assert_eq!(o200k(json!({})), REPLY_PRIMING_TOKENS);
    assert_eq!(o200k(json!({"messages": null})), 3);
    assert_eq!(o200k(json!({"messages": "hello"})), 3);
    assert_eq!(o200k(json!({"messages": {"role": "user"}})), 3);
    assert_eq!(o200k(json!({"messages": []})), 3);
    assert_eq!(chars(json!({"messages": 17})), 3);
}

#[test]
fn odd_messages_cost_their_framing() {
    // Non-object messages still cost the framing; odd field types count 0.
    let request = json!({"messages": [
        null,
        "hello",
        [1, 2],
        {},
        {"role": 7, "content": null},
        {"role": "user", "content": {"type": "text", "text": "hello"}},
        {"role": "user", "content": true, "name": 3, "tool_calls": "x", "function_call": []},
    ]});
    // 7 × 3 framing; message 6: "user"(1) + "hello"(1); message 7: "user"(1); + 3.
    assert_eq!(o200k(request), 7 * 3 + 2 + 1 + 3);
}

#[test]
fn tool_calls_and_tool_results() {
    let request = json!({"messages": [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function", "function": null},
            "garbage",
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "hello world"},
    ]});
    // user:      3 + 1 + 1                       = 5
    // assistant: 3 + 1 + "get_weather"(2) + args(5) = 11
    // tool:      3 + 1 + "hello world"(2)         = 6
    // priming:   3                                → 25
    assert_eq!(o200k(request), 25);
}

#[test]
fn legacy_function_call_and_function_message() {
    let request = json!({"messages": [
        {"role": "assistant", "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
        {"role": "function", "name": "get_weather", "content": "hello"},
    ]});
    // 3 + 1 + 2 + 5 = 11;  3 + "function"(1) + name 2 + 1 + "hello"(1) = 8;  + 3.
    assert_eq!(O200k.count("function"), 1);
    assert_eq!(o200k(request), 11 + 8 + 3);
}

#[test]
fn tool_definitions_count_their_json_text() {
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }}]);
    let text = serde_json::to_string(&tools).unwrap();
    let base = o200k(json!({"messages": [{"role": "user", "content": "hello"}]}));
    let with_tools =
        o200k(json!({"messages": [{"role": "user", "content": "hello"}], "tools": tools}));
    assert_eq!(with_tools, base + O200k.count(&text) as u64);
    assert!(with_tools > base + 20);
    // Legacy `functions` count the same way; null tools count nothing.
    let functions = json!([{"name": "f", "parameters": {}}]);
    let functions_text = serde_json::to_string(&functions).unwrap();
    assert_eq!(
        o200k(
            json!({"messages": [{"role": "user", "content": "hello"}], "functions": functions, "tools": null})
        ),
        base + O200k.count(&functions_text) as u64
    );
}

#[test]
fn large_prompt_matches_direct_count() {
    let text = "All work and no play makes Jack a dull boy. ".repeat(10_000);
    let request = json!({"messages": [{"role": "user", "content": text}]});
    assert_eq!(o200k(request), 3 + 1 + O200k.count(&text) as u64 + 3);
}

#[test]
fn the_body_is_not_modified() {
    let original = body(json!({"messages": [{"role": "user", "content": "hello"}], "tools": []}));
    let copy = original.clone();
    let _ = estimate_prompt(&original);
    assert_eq!(original, copy);
}

// ---- properties ----

/// Arbitrary JSON, biased towards chat-like shapes.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(vec![
            "user",
            "assistant",
            "text",
            "image_url",
            "function",
            "tool",
            "<|endoftext|>",
            "<|im_start|>",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "role",
                        "content",
                        "name",
                        "type",
                        "text",
                        "image_url",
                        "refusal",
                        "tool_calls",
                        "function",
                        "function_call",
                        "arguments",
                        "x",
                    ]),
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// A chat message with arbitrary text in its string fields.
fn any_message() -> impl Strategy<Value = Value> {
    let text = any::<String>();
    prop_oneof![
        (text, text).prop_map(|(r, c)| json!({"role": r, "content": c})),
        (text, text)
            .prop_map(|(t, u)| json!({"role": "user", "content": [{"type": "text", "text": t}, {"type": "image_url", "image_url": {"url": u}}]})),
        (text, text, text).prop_map(|(n, a, c)| {
            json!({"role": "assistant", "content": c, "name": n,
                   "tool_calls": [{"type": "function", "function": {"name": n, "arguments": a}}]})
        }),
        any_json(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_any_body(
        messages in any_json(),
        tools in any_json(),
        extra in any_json(),
    ) {
        let request = body(json!({"messages": messages, "tools": tools, "extra": extra}));
        for counter in [&O200k as &dyn TokenCounter, &CharApprox] {
            let estimate = estimate_with(counter, &request);
            prop_assert!(estimate.prompt_tokens >= REPLY_PRIMING_TOKENS);
        }
        let _ = estimate_prompt(&request);
    }

    #[test]
    fn appending_a_message_adds_at_least_its_framing(
        messages in prop::collection::vec(any_message(), 0..6),
        next in any_message(),
    ) {
        let before = body(json!({"messages": messages.clone()}));
        let mut longer = messages;
        longer.push(next);
        let after = body(json!({"messages": longer}));
        // Without a time budget: a budget that runs out mid-way makes the
        // estimate an extrapolation, which need not be monotonic.
        let unbounded = std::time::Duration::MAX;
        for counter in [&O200k as &dyn TokenCounter, &CharApprox] {
            let a = estimate_within(counter, &before, unbounded).prompt_tokens;
            let b = estimate_within(counter, &after, unbounded).prompt_tokens;
            prop_assert!(b >= a + TOKENS_PER_MESSAGE, "{a} -> {b}");
        }
    }

    /// Whatever the text, long runs included, the estimate stays between
    /// one token per 256 bytes and one token per byte.
    #[test]
    fn estimate_is_bounded_by_the_input_size(
        unit in prop_oneof![any::<String>(), "[ a\\n😀東.]{1,3}"],
        times in 1usize..3000,
    ) {
        prop_assert!(warm());
        let text = unit.repeat(times);
        let tokens = text_tokens(&O200k, &text);
        prop_assert!(tokens <= text.len() as u64, "{} tokens for {} bytes", tokens, text.len());
        prop_assert!(tokens >= text.len().div_ceil(256) as u64, "{} tokens for {} bytes", tokens, text.len());
    }

    #[test]
    fn char_approx_matches_formula(text in any::<String>()) {
        let n = text.chars().count();
        prop_assert_eq!(CharApprox.count(&text), n.div_ceil(4));
        prop_assert!(CharApprox.count(&text) * 4 >= n);
    }
}

// ---- adversarial inputs: bounded work ----

/// A counter that records what it is asked to count, to measure the work
/// the estimator hands the tokenizer.
#[derive(Default)]
struct Recording {
    longest: std::sync::atomic::AtomicUsize,
    bytes: std::sync::atomic::AtomicUsize,
}

impl TokenCounter for Recording {
    fn count(&self, text: &str) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        self.longest.fetch_max(text.len(), Relaxed);
        self.bytes.fetch_add(text.len(), Relaxed);
        O200k.count(text)
    }

    fn method(&self) -> &'static str {
        METHOD_O200K
    }
}

/// The adversarial texts of the benchmark, `bytes` long (or a little more).
fn adversarial_texts(bytes: usize) -> Vec<(&'static str, String)> {
    let repeat = |unit: &str| unit.repeat(bytes.div_ceil(unit.len()));
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut letters = String::with_capacity(bytes);
    while letters.len() < bytes {
        letters.push(char::from(b'a' + (next() % 26) as u8));
    }
    let mut random = String::with_capacity(bytes + 4);
    while random.len() < bytes {
        random.push(char::from_u32((next() % 0x3000) as u32).unwrap_or('?'));
    }
    vec![
        ("spaces", repeat(" ")),
        ("one_letter", repeat("a")),
        ("no_spaces", letters),
        ("random_chars", random),
        ("cjk_run", repeat("東京データ")),
        ("emoji", repeat("😀🚀")),
        ("pattern", repeat("ab1!")),
        ("newlines", repeat("\n")),
        ("digits", repeat("7")),
    ]
}

#[test]
fn adversarial_4mib_inputs_are_counted_in_bounded_pieces() {
    assert!(warm());
    for (label, text) in adversarial_texts(4 * 1024 * 1024) {
        let recording = Recording::default();
        let request = json!({"messages": [{"role": "user", "content": text}]});
        let estimate = estimate_with(&recording, &body(request));
        let longest = recording.longest.into_inner();
        let bytes = recording.bytes.into_inner();
        // Linear work: every byte is handed to the tokenizer at most once
        // (text left when the time budget runs out is counted by its
        // characters), in texts of bounded length. A text of 4 MiB used to
        // be one call, and a run of spaces or letters one pre-token merged
        // in O(n log n).
        assert!(bytes <= text.len() + "user".len(), "{label}");
        assert!(
            longest <= 16 * 1024 + 100,
            "{label}: a call of {longest} bytes"
        );
        // And the estimate stays of the input's order.
        let tokens = estimate.prompt_tokens;
        assert!(tokens <= text.len() as u64 + 10, "{label}: {tokens}");
        assert!(tokens >= (text.len() / 256) as u64, "{label}: {tokens}");
    }
}

#[test]
fn runs_without_boundaries_reach_the_tokenizer_in_short_pieces() {
    assert!(warm());
    for (label, text) in adversarial_texts(1024 * 1024) {
        if !matches!(
            label,
            "spaces" | "one_letter" | "no_spaces" | "cjk_run" | "emoji"
        ) {
            continue;
        }
        let recording = Recording::default();
        let request = body(json!({"messages": [{"content": text}]}));
        let _ = estimate_within(&recording, &request, std::time::Duration::MAX);
        // No natural boundary: cut every RUN_CAP bytes (plus a character).
        let longest = recording.longest.into_inner();
        assert!(longest <= segment::RUN_CAP + 3, "{label}: {longest}");
    }
}

#[test]
fn prose_estimates_are_unchanged_by_segmenting() {
    assert!(warm());
    // Prose, code, CJK with punctuation: every cut is a natural one, so the
    // estimate equals the tokenizer's count of the whole text.
    let samples = [
        "All work and no play makes Jack a dull boy. ".repeat(5000),
        "fn main() {\n    let x = vec![1, 2, 3];\n    println!(\"{x:?}\");\n}\n".repeat(2000),
        "東京は晴れ、大阪は雨。明日はどうでしょうか？私は知りません！".repeat(2000),
        "{\"id\":12345,\"name\":\"Straße café\",\"tags\":[\"a\",\"b\"]},".repeat(3000),
    ];
    for text in samples {
        assert_eq!(text_tokens(&O200k, &text), O200k.count(&text) as u64);
    }
}

#[test]
fn past_the_budget_the_rest_is_counted_by_characters() {
    assert!(warm());
    let text = "All work and no play makes Jack a dull boy. ".repeat(1000);
    let request = body(json!({"messages": [{"role": "user", "content": text}]}));
    let spent = estimate_within(&O200k, &request, std::time::Duration::ZERO);
    assert_eq!(spent.method, METHOD_O200K_PAST_BUDGET);
    assert_eq!(spent.prompt_tokens, chars(json!(request)));
    // With time to spare, the real count.
    let full = estimate_within(&O200k, &request, std::time::Duration::from_secs(3600));
    assert_eq!(full.method, METHOD_O200K);
    assert_eq!(full.prompt_tokens, 3 + 1 + O200k.count(&text) as u64 + 3);
    // The character count is of the same order for prose.
    assert!(spent.prompt_tokens.abs_diff(full.prompt_tokens) * 5 < full.prompt_tokens);
}
