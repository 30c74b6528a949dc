//! Owns clamping a request's output limit to a route's: with `max-output:
//! clamp` a route whose `max-output-tokens` is below the caller's
//! `max_tokens` still serves, sent at most its own limit (a client
//! default such as 16,384 is usually a ceiling, not a need).

use serde_json::Value;

use super::ChatRequest;

/// The fields that carry the caller's output limit (OpenAI's current and
/// legacy names; Anthropic's `max_tokens` arrives as the latter).
const OUTPUT_KEYS: [&str; 2] = ["max_completion_tokens", "max_tokens"];

/// A request's output limit lowered to a route's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputClamp {
    /// What the caller asked for.
    pub requested: u64,
    /// What the route was sent.
    pub sent: u32,
}

impl std::fmt::Display for OutputClamp {
    /// `16384->8192`, the form of the response header.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}->{}", self.requested, self.sent)
    }
}

impl ChatRequest {
    /// The caller's output limit (`max_completion_tokens`, else `max_tokens`).
    pub fn max_output_tokens(&self) -> Option<u64> {
        OUTPUT_KEYS
            .iter()
            .find_map(|k| self.body.get(*k).and_then(Value::as_u64))
    }

    /// A copy whose output limit is at most `cap`, or `None` when the
    /// request already fits (nothing is cloned then).
    pub fn clamp_max_tokens(&self, cap: u32) -> Option<(ChatRequest, OutputClamp)> {
        let requested = self.max_output_tokens()?;
        if requested <= u64::from(cap) {
            return None;
        }
        let mut body = self.body.clone();
        for k in OUTPUT_KEYS {
            if body.get(k).and_then(Value::as_u64).is_some() {
                body.insert(k.into(), Value::from(cap));
            }
        }
        let req = self.derived(body);
        Some((
            req,
            OutputClamp {
                requested,
                sent: cap,
            },
        ))
    }
}

#[cfg(test)]
mod tests {

    use serde_json::json;

    use super::*;

    fn req(v: serde_json::Value) -> ChatRequest {
        ChatRequest::parse(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn both_output_fields_are_lowered_to_the_cap() {
        let r = req(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 16384, "max_completion_tokens": 20000}),
        );
        let (c, clamp) = r.clamp_max_tokens(8192).unwrap();
        assert_eq!(
            clamp,
            OutputClamp {
                requested: 20000,
                sent: 8192
            }
        );
        assert_eq!(clamp.to_string(), "20000->8192");
        assert_eq!(c.body()["max_tokens"], 8192);
        assert_eq!(c.body()["max_completion_tokens"], 8192);
    }

    #[test]
    fn a_request_within_the_cap_or_without_a_limit_is_left_alone() {
        let r = req(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 100}),
        );
        assert!(r.clamp_max_tokens(100).is_none());
        let r = req(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
        assert!(r.clamp_max_tokens(1).is_none());
    }
}
