//! Anthropic Messages ingress as the gateway reads `/v1/messages`:
//! `anthropic::parse_ingress` (the client's body read once into the
//! canonical request and the native body), its OpenAI view validated by
//! `signalbox_core::ChatRequest::from_object` with the origin attached, then
//! both paths a route can take: the same-family fast path (the native body
//! with its model and output limit swapped, `Adapter::forward_native` on
//! every adapter) and translation (the view's upstream JSON re-read by
//! `openai::parse_request` and rendered for every adapter, as
//! `signalbox-providers` prepares it). The canonical request itself is
//! rendered too, and the older `anthropic::parse_request` (still public and
//! used by the adapter tests) reads the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox_adapters::anthropic;
use signalbox_core::ChatRequest;

/// A client `anthropic-beta` header (joined header values are plain text).
const BETA: &str = "prompt-caching-2024-07-31,output-128k-2025-02-19";

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = anthropic::parse_request(data) {
        std::hint::black_box(&req);
    }
    let Ok(mut ingress) = anthropic::parse_ingress(data, Some(BETA.to_owned())) else {
        return;
    };
    signalbox_fuzz::render_all(&ingress.canonical);
    let Ok(view) = ingress.openai_view() else {
        return;
    };
    let Ok(req) = ChatRequest::from_object(view) else {
        return;
    };
    let req = req.with_origin(Some(ingress.origin));
    let adapters = signalbox_fuzz::adapters();
    if let Some(native) = req.native() {
        for route in signalbox_fuzz::routes() {
            // Lowered only when the client asked for more (as the providers crate clamps).
            let cap = route
                .max_output_tokens
                .filter(|cap| req.max_output_tokens().is_some_and(|m| m > u64::from(*cap)));
            let body = native.upstream_json(&route.upstream_model, cap);
            for adapter in &adapters {
                let forwarded = adapter.forward_native(native, body.clone(), req.is_stream());
                std::hint::black_box(forwarded);
            }
        }
    }
    if req.untranslatable().is_none() {
        let openai_body = req.upstream_json("m", false);
        if let Ok(canonical) = signalbox_adapters::openai::parse_request(&openai_body) {
            signalbox_fuzz::render_all(&canonical);
        }
    }
});
