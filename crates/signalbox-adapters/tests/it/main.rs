//! Integration tests of the translation library: fixtures of each provider's
//! recorded wire shapes, round-trip properties, and streams split anywhere.
//! One test binary (see STYLE.md: link time on 2 cores).

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod anthropic;
mod bedrock;
mod gemini;
mod openai;
mod reasoning;
mod roundtrip;
mod streaming;

use serde_json::Value;
use signalbox_adapters::{
    Adapter, ChatRequest, NoteAction, Rendered, RouteSettings, StreamDecoder, StreamEvent,
    TranslationNote,
};
use signalbox_providers::SseFramer;

/// A fixture file's text.
pub fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A route to `model` with provider defaults.
pub fn route(model: &str) -> RouteSettings {
    RouteSettings::new(model)
}

/// Renders with a fixed clock.
pub fn render(adapter: &Adapter, req: &ChatRequest, route: &RouteSettings) -> Rendered {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    adapter.render(req, route, at).unwrap()
}

/// The rendered JSON body.
pub fn body(rendered: &Rendered) -> Value {
    serde_json::from_slice(&rendered.request.body).unwrap()
}

/// A header's value as text.
pub fn header<'a>(rendered: &'a Rendered, name: &str) -> Option<&'a str> {
    rendered
        .request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
}

/// Whether a note with this field and action was recorded.
pub fn noted(notes: &[TranslationNote], field: &str, action: NoteAction) -> bool {
    notes.iter().any(|n| n.field == field && n.action == action)
}

/// Feeds `bytes` to `decoder` in pieces cut at `cuts`, framing SSE with
/// the gateway's framer, and returns every event including `finish`.
pub fn decode(mut decoder: StreamDecoder, bytes: &[u8], cuts: &[usize]) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    let mut framer = SseFramer::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    points.sort_unstable();
    points.push(bytes.len());
    for end in points {
        let piece = &bytes[start..end.max(start)];
        start = end.max(start);
        if decoder.is_sse() {
            framer.push(piece);
            while let Some(event) = framer.next_event().unwrap() {
                out.extend(decoder.on_sse(event.event.as_deref(), &event.data).unwrap());
            }
        } else {
            out.extend(decoder.on_bytes(piece).unwrap());
        }
    }
    out.extend(decoder.finish().unwrap());
    out
}

/// The concatenated arguments of tool call `index` in `events`.
pub fn tool_arguments(events: &[StreamEvent], index: u32) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallDelta {
                index: i,
                arguments,
                ..
            } if *i == index => Some(arguments.as_str()),
            _ => None,
        })
        .collect()
}

/// The concatenated text of `events`.
pub fn text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}
