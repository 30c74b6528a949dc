//! Owns what the dispatcher reads in a stream passed on as the provider
//! wrote it (OpenAI chunks, or Anthropic events for an Anthropic client):
//! whether each event is JSON, whether the answer has ended or finished,
//! and the usage it reports. A decoded stream's events say all of this as
//! types; only these bytes need reading.

use serde::de::IgnoredAny;
use signalbox_core::{OutcomeClass, Usage, WireFormat};
use signalbox_providers::{SseEvent, UpstreamError};

/// What the events so far say about the end of the answer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ending {
    /// The stream's wire format, when passed on as written: OpenAI chunks,
    /// or Anthropic events (which end with `message_stop`).
    pub(crate) format: WireFormat,
    /// The end marker (`data: [DONE]`, `message_stop`) arrived: nothing
    /// after it is forwarded.
    pub(crate) done: bool,
    /// A choice's `finish_reason` (or a decoded stop) arrived: a clean end
    /// of body from here on completes the stream, marker or not.
    pub(crate) finished: bool,
}

impl Ending {
    /// Notes one event passed on as written.
    pub(crate) fn note(&mut self, ev: &SseEvent) {
        match self.format {
            WireFormat::OpenAi => {
                self.done |= ev.is_done();
                self.finished = self.finished || finishes_answer(&ev.data);
            }
            WireFormat::Anthropic => {
                let stop = ev.event.as_deref() == Some("message_stop");
                self.done |= stop;
                self.finished |= stop;
            }
            // Clients' formats only (embeddings never stream): no upstream's
            // stream is passed on in them.
            WireFormat::Responses | WireFormat::Completions | WireFormat::Embeddings => {}
        }
    }
}

/// What an event passed on as written says of usage: the tokens, and
/// whether they are the answer's whole usage (`None`: it says nothing).
pub(crate) fn usage_of(
    format: WireFormat,
    ev: &SseEvent,
    so_far: Option<Usage>,
) -> Option<(Usage, bool)> {
    if format == WireFormat::Anthropic {
        let mut u = so_far.unwrap_or_default();
        // `message_start` carries the input and a placeholder output
        // count; `message_delta` the output so far.
        return signalbox_providers::anthropic_usage_of_event(&ev.data, &mut u)
            .then(|| (u, ev.event.as_deref() != Some("message_start")));
    }
    #[derive(serde::Deserialize)]
    struct WithUsage {
        usage: Option<Usage>,
    }
    if !ev.data.contains("\"usage\"") {
        return None;
    }
    match serde_json::from_str::<WithUsage>(&ev.data) {
        Ok(WithUsage { usage: Some(u) }) => Some((u, true)),
        _ => None,
    }
}

/// Whether a data event ends a choice (`"finish_reason"` not null).
///
/// Every OpenAI chunk names `finish_reason`, null until the last one, so
/// the text is scanned first and parsed only where the value is not
/// `null`: about once per stream.
pub(crate) fn finishes_answer(data: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Chunk {
        #[serde(default)]
        choices: Vec<Choice>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        #[serde(default)]
        finish_reason: Option<IgnoredAny>,
    }
    const KEY: &str = "\"finish_reason\"";
    let non_null = data.match_indices(KEY).any(|(at, _)| {
        let rest = data[at + KEY.len()..].trim_start();
        rest.strip_prefix(':')
            .is_some_and(|v| !v.trim_start().starts_with("null"))
    });
    non_null
        && serde_json::from_str::<Chunk>(data)
            .is_ok_and(|c| c.choices.iter().any(|c| c.finish_reason.is_some()))
}

/// Checks that a data event carries JSON (or the end marker).
pub(crate) fn validate_event(ev: &SseEvent) -> Result<(), UpstreamError> {
    if ev.data.is_empty() || ev.is_done() {
        return Ok(());
    }
    serde_json::from_str::<IgnoredAny>(&ev.data)
        .map(|_| ())
        .map_err(|e| {
            UpstreamError::new(
                OutcomeClass::BadResponse,
                format!("upstream sent an event that is not JSON: {e}"),
            )
        })
}
