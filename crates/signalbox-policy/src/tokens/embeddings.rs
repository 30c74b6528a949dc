//! Owns the token estimate of an embeddings request's `input`: a string,
//! an array of strings, one token array, or an array of token arrays. A
//! string is counted like chat text (no message framing: embeddings have
//! none); a token array is its own length. The longest single input is
//! kept too: it is what an embedding route's `max-input-tokens` bounds.

use serde_json::{Map, Value};

use super::budget::Counting;
use super::{TIME_BUDGET, TokenEstimate, default_counter};

/// The size of an embeddings request's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputsEstimate {
    /// Every input's tokens, summed (what is charged and rate-limited).
    pub total: TokenEstimate,
    /// The largest single input, in tokens.
    pub longest: u64,
    /// How many inputs there are.
    pub count: usize,
}

/// Estimates the `input` of an OpenAI embeddings body. Never panics; a
/// value of an unexpected shape counts as nothing.
pub fn estimate_inputs(body: &Map<String, Value>) -> InputsEstimate {
    let counter = Counting::new(default_counter(), TIME_BUDGET);
    let mut out = Sizes::default();
    match body.get("input") {
        Some(Value::String(text)) => out.add(counter.text(text)),
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => {
            out.add(items.len() as u64);
        }
        Some(Value::Array(items)) => {
            for item in items {
                out.add(match item {
                    Value::String(text) => counter.text(text),
                    Value::Array(tokens) => tokens.len() as u64,
                    _ => 0,
                });
            }
        }
        _ => {}
    }
    InputsEstimate {
        total: TokenEstimate {
            prompt_tokens: out.total,
            method: counter.method(),
        },
        longest: out.longest,
        count: out.count,
    }
}

#[derive(Default)]
struct Sizes {
    total: u64,
    longest: u64,
    count: usize,
}

impl Sizes {
    fn add(&mut self, tokens: u64) {
        self.total = self.total.saturating_add(tokens);
        self.longest = self.longest.max(tokens);
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn of(v: Value) -> InputsEstimate {
        estimate_inputs(v.as_object().unwrap_or(&Map::new()))
    }

    #[test]
    fn every_input_shape_is_counted_and_the_longest_kept() {
        let one = of(json!({"input": "hello world"}));
        assert_eq!(one.count, 1);
        assert!(one.total.prompt_tokens >= 2, "{one:?}");
        assert_eq!(one.longest, one.total.prompt_tokens);
        let many = of(json!({"input": ["a", "hello there world, again"]}));
        assert_eq!(many.count, 2);
        assert!(
            many.longest > 1 && many.longest < many.total.prompt_tokens,
            "{many:?}"
        );
        let tokens = of(json!({"input": [1, 2, 3]}));
        assert_eq!((tokens.count, tokens.longest), (1, 3));
        let token_lists = of(json!({"input": [[1, 2], [3, 4, 5, 6]]}));
        assert_eq!(
            (
                token_lists.count,
                token_lists.longest,
                token_lists.total.prompt_tokens
            ),
            (2, 4, 6)
        );
        assert_eq!(of(json!({"input": {"odd": 1}})).count, 0);
    }
}
