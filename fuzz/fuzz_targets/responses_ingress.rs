//! OpenAI Responses ingress as the gateway reads `/v1/responses`:
//! `responses::parse_ingress` (the client's body into the canonical
//! request, built-in tools and files left out and named), its OpenAI view
//! (`openai::view`) validated by `signalbox_core::ChatRequest::from_object`,
//! and the canonical request rendered for every adapter. The answer side is
//! exercised too: the passthrough's readers of a provider's Response object
//! and events (`read_response`, `event_kind`, `failure_of`,
//! `usage_of_event`) on the same bytes, and, whatever canonical request
//! parsed, a Response object and an event stream written for a canonical
//! answer built from it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox_adapters::canonical::{ChatResponse, Choice, StopReason, StreamEvent, Usage};
use signalbox_adapters::{openai, responses};
use signalbox_core::ChatRequest;

fuzz_target!(|data: &[u8]| {
    // A provider's answer passed through is read by these (never panics).
    let _ = std::hint::black_box(responses::read_response(data));
    if let Ok(text) = std::str::from_utf8(data) {
        std::hint::black_box(responses::event_kind(None, text));
        std::hint::black_box(responses::event_kind(Some(text), text));
        std::hint::black_box(responses::failure_of(text));
        std::hint::black_box(responses::usage_of_event(text));
    }
    std::hint::black_box(responses::parse_request(data).is_ok());
    let Ok(ingress) = responses::parse_ingress(data) else {
        return;
    };
    let mut canonical = ingress.canonical;
    signalbox_fuzz::render_all(&canonical);
    if let Ok(view) = openai::view(&mut canonical)
        && let Ok(req) = ChatRequest::from_object(view)
    {
        std::hint::black_box(req);
    }
    // Answer with the request's own content, so odd text reaches the writers.
    let parts = canonical
        .messages
        .iter()
        .flat_map(|m| m.content.clone())
        .collect();
    let answer = ChatResponse {
        id: canonical.model.clone(),
        model: canonical.model.clone(),
        choices: vec![Choice {
            index: 0,
            content: parts,
            stop_reason: StopReason::Length,
        }],
        usage: Usage::default(),
        provider_stop_reason: None,
    };
    std::hint::black_box(responses::render_response(&answer, 0));
    let mut enc = responses::SseEncoder::new(0);
    enc.encode(&StreamEvent::Start {
        id: canonical.model.clone(),
        model: canonical.model.clone(),
    });
    for (i, m) in canonical.messages.iter().enumerate() {
        let text = signalbox_adapters::canonical::text_of(&m.content);
        enc.encode(&StreamEvent::TextDelta { choice: 0, text: text.clone() });
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        enc.encode(&StreamEvent::ToolCallStart { choice: 0, index, id: text.clone(), name: text.clone() });
        enc.encode(&StreamEvent::ToolCallDelta { choice: 0, index, arguments: text });
    }
    std::hint::black_box(enc.finish());
});
