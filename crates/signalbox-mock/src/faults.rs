//! Owns the runtime fault settings and the decision of which fault hits a request.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Fault settings, replaced as a whole at runtime (`POST /_mock/faults` or `MockHandle::set_faults`).
///
/// Faults apply only to chat completion requests. `fail_when_body_contains`
/// is decided first (it reads the body); then precedence: `hang` > `reset_before_headers` >
/// rate limit (`retry-after`, then the reset header) > `fail_first` > `error_rate` >
/// `latency_ms`, then a normal (or `malformed_json`) answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of chat requests (0.0–1.0) answered with `error_status`, on a deterministic schedule.
    pub error_rate: f64,
    /// Status of the errors injected by `error_rate` (default 503).
    pub error_status: u16,
    /// When set, every chat request gets 429 with `retry-after: <secs>`.
    pub rate_limit_retry_after_secs: Option<u64>,
    /// When set, every chat request gets 429 without `retry-after`, with
    /// OpenAI's reset header instead: `x-ratelimit-reset-requests: <secs>s`.
    pub rate_limit_reset_secs: Option<u64>,
    /// Delay before the response head.
    pub latency_ms: u64,
    /// Accept chat requests and never answer them.
    pub hang: bool,
    /// Streams send this many SSE events, then abort the connection without `[DONE]`.
    pub cut_stream_after: Option<u32>,
    /// Streams send this many SSE events, then end the body cleanly (an
    /// answer stopped short of its finish reason, without `[DONE]`).
    pub end_stream_after: Option<u32>,
    /// 200 responses carry invalid JSON (bodies and SSE events).
    pub malformed_json: bool,
    /// Streams end cleanly after their last chunk (finish reason and
    /// usage) without the `data: [DONE]` marker, as several self-hosted
    /// servers do. Only the OpenAI format has that marker.
    pub omit_done: bool,
    /// JSON answers (bodies and SSE events) escape every non-ASCII
    /// character as `\uXXXX`, as Python's `json.dumps` does by default.
    pub escape_non_ascii: bool,
    /// JSON answers' tool calls carry `{"location": 42}` instead of the
    /// canned arguments: valid JSON of the wrong type, a quality fault
    /// only a tool-call scorer sees (a silently degraded model).
    pub corrupt_tool_arguments: bool,
    /// Overrides the server's number of content chunks per stream.
    pub stream_chunks: Option<u32>,
    /// Overrides the server's delay between SSE events.
    pub chunk_delay_ms: Option<u64>,
    /// The first N chat requests after these faults were set answer
    /// `error_status` (e.g. one 500, then healthy).
    pub fail_first: Option<u32>,
    /// Drop the connection before the response head is written, as a
    /// crashing or overloaded upstream does (the caller sees a reset, no status).
    pub reset_before_headers: bool,
    /// Streams send their head at once and their first event after this
    /// delay (a slow first token behind an instant 200).
    pub first_event_delay_ms: Option<u64>,
    /// Streams send this many SSE events, then stay silent, connection open,
    /// until the client goes away (a stall mid-answer).
    pub stall_stream_after: Option<u32>,
    /// Streams send this many SSE events, then one that is not valid JSON,
    /// then the rest of the answer.
    pub malformed_event_after: Option<u32>,
    /// Injected errors (`error_rate`, `fail_first`) carry this `error.code`
    /// (e.g. `context_length_exceeded`, `content_filter`).
    pub error_code: Option<String>,
    /// Injected errors carry this `error.type` (e.g. `invalid_request_error`).
    pub error_type: Option<String>,
    /// Chat requests whose body contains this text answer `error_status`
    /// (a fault that follows the request's content, e.g. one system
    /// prompt version the model cannot cope with).
    pub fail_when_body_contains: Option<Box<str>>,
    /// Answers arrive well formed but worse (`over_refuse`, `drop_facts`,
    /// `invent_numbers`, `wrong_tool`, `under_refuse`, `invalid_tool_json`,
    /// `break_schema`): a quality fault only a scorer (or, for
    /// `break_schema`, the gateway's schema check) sees.
    pub quality: Option<crate::quality::QualityFault>,
    /// When set, `quality` shapes only the answers to chat requests whose
    /// body contains this text (a quality fault that follows the request's
    /// content, e.g. one system prompt version that makes the model pick
    /// the wrong tool).
    pub quality_when_body_contains: Option<Box<str>>,
    /// Answers name this model version (a provider that silently updated
    /// the model behind the route).
    pub model_version: Option<Box<str>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            error_status: 503,
            rate_limit_retry_after_secs: None,
            rate_limit_reset_secs: None,
            latency_ms: 0,
            hang: false,
            cut_stream_after: None,
            end_stream_after: None,
            malformed_json: false,
            omit_done: false,
            escape_non_ascii: false,
            corrupt_tool_arguments: false,
            stream_chunks: None,
            chunk_delay_ms: None,
            fail_first: None,
            reset_before_headers: false,
            first_event_delay_ms: None,
            stall_stream_after: None,
            malformed_event_after: None,
            error_code: None,
            error_type: None,
            fail_when_body_contains: None,
            quality: None,
            quality_when_body_contains: None,
            model_version: None,
        }
    }
}

/// What the server does with one chat request before looking at its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Never answer.
    Hang,
    /// Drop the connection before the head.
    Reset,
    /// 429 with this `retry-after`.
    RateLimit { retry_after_secs: u64 },
    /// 429 with a reset header (no `retry-after`).
    RateLimitReset { reset_secs: u64 },
    /// Injected error with this status.
    Error { status: u16 },
    /// Answer after `latency` (zero when no latency is configured).
    Answer { latency: Duration },
}

impl Faults {
    /// Decides the fate of the `n`-th chat request (1-based), the
    /// `since_set`-th since these faults were set (1-based).
    pub(crate) fn decide(&self, n: u64, since_set: u64) -> Decision {
        if self.hang {
            return Decision::Hang;
        }
        if self.reset_before_headers {
            return Decision::Reset;
        }
        if let Some(retry_after_secs) = self.rate_limit_retry_after_secs {
            return Decision::RateLimit { retry_after_secs };
        }
        if let Some(reset_secs) = self.rate_limit_reset_secs {
            return Decision::RateLimitReset { reset_secs };
        }
        let first = self.fail_first.is_some_and(|k| since_set <= u64::from(k));
        if first || fails_on_schedule(n, self.error_rate) {
            return Decision::Error {
                status: self.error_status,
            };
        }
        Decision::Answer {
            latency: Duration::from_millis(self.latency_ms),
        }
    }
}

/// The deterministic error schedule: request `n` (1-based) fails iff
/// `floor(n * rate) > floor((n - 1) * rate)`, so any window of `k` requests holds
/// `k * rate` failures give or take one.
pub(crate) fn fails_on_schedule(n: u64, rate: f64) -> bool {
    // NaN and non-positive rates never fail; rates of 1 or more always do.
    if rate.is_nan() || rate <= 0.0 || n == 0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    // A tiny epsilon keeps e.g. 0.29 * 100 = 28.999999999999996 on the intended side.
    let hits = |k: u64| ((k as f64) * rate + 1e-9).floor();
    hits(n) > hits(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(rate: f64, count: u64) -> Vec<u64> {
        (1..=count)
            .filter(|&n| fails_on_schedule(n, rate))
            .collect()
    }

    #[test]
    fn half_rate_alternates() {
        assert_eq!(failures(0.5, 10), vec![2, 4, 6, 8, 10]);
    }

    #[test]
    fn extremes() {
        assert!(failures(0.0, 100).is_empty());
        assert!(failures(-1.0, 100).is_empty());
        assert!(failures(f64::NAN, 100).is_empty());
        assert_eq!(failures(1.0, 5), vec![1, 2, 3, 4, 5]);
        assert_eq!(failures(7.0, 3), vec![1, 2, 3]);
    }

    #[test]
    fn counts_match_rate_exactly_over_whole_periods() {
        for (rate, total, expected) in [(0.1, 100, 10), (0.29, 100, 29), (0.25, 40, 10)] {
            assert_eq!(failures(rate, total).len(), expected, "rate {rate}");
        }
        assert_eq!(failures(0.25, 8), vec![4, 8]);
        assert_eq!(failures(0.1, 20), vec![10, 20]);
    }

    #[test]
    fn precedence_is_hang_then_rate_limit_then_errors_then_latency() {
        let all = Faults {
            hang: true,
            rate_limit_retry_after_secs: Some(7),
            error_rate: 1.0,
            latency_ms: 5,
            ..Faults::default()
        };
        assert_eq!(all.decide(1, 1), Decision::Hang);
        let no_hang = Faults {
            hang: false,
            ..all.clone()
        };
        assert_eq!(
            no_hang.decide(1, 1),
            Decision::RateLimit {
                retry_after_secs: 7
            }
        );
        let errors = Faults {
            rate_limit_retry_after_secs: None,
            ..no_hang
        };
        assert_eq!(errors.decide(1, 1), Decision::Error { status: 503 });
        let slow = Faults {
            error_rate: 0.0,
            ..errors
        };
        assert_eq!(
            slow.decide(1, 1),
            Decision::Answer {
                latency: Duration::from_millis(5)
            }
        );
    }

    #[test]
    fn reset_comes_after_hang_and_before_rate_limits() {
        let reset = Faults {
            reset_before_headers: true,
            rate_limit_retry_after_secs: Some(1),
            ..Faults::default()
        };
        assert_eq!(reset.decide(1, 1), Decision::Reset);
        let hang = Faults {
            hang: true,
            ..reset
        };
        assert_eq!(hang.decide(1, 1), Decision::Hang);
    }

    #[test]
    fn fail_first_counts_from_when_the_faults_were_set() {
        let once = Faults {
            fail_first: Some(1),
            error_status: 500,
            ..Faults::default()
        };
        // The 40th request overall is the first since the faults were set.
        assert_eq!(once.decide(40, 1), Decision::Error { status: 500 });
        assert!(matches!(once.decide(41, 2), Decision::Answer { .. }));
        assert!(matches!(
            Faults::default().decide(1, 1),
            Decision::Answer { .. }
        ));
    }

    #[test]
    fn json_uses_defaults_and_rejects_unknown_fields() {
        let parsed: Faults = serde_json::from_str(r#"{"error_rate":0.5}"#).unwrap();
        assert_eq!(parsed.error_status, 503);
        assert_eq!(parsed.error_rate, 0.5);
        assert!(serde_json::from_str::<Faults>(r#"{"nope":1}"#).is_err());
    }
}
