//! Embeddings ingress as the gateway reads `/v1/embeddings`:
//! `embeddings::parse_request` (untrusted client bytes), the pipeline's
//! request (`ChatRequest::embeddings`), the token estimate's input walk,
//! batches of every size rendered for the OpenAI wire and Gemini's
//! `batchEmbedContents` and Cohere's `/v2/embed`, and the same bytes read
//! as an upstream batch's answer (OpenAI's list, Gemini's, Bedrock's and
//! Cohere's), merged in both encodings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox_adapters::embeddings::{self, Encoding};
use signalbox_adapters::cohere::CohereAdapter;
use signalbox_adapters::gemini::GeminiAdapter;
use signalbox_adapters::{EmbeddingsBody, RouteSettings, Secret};
use signalbox_core::ChatRequest;

fuzz_target!(|data: &[u8]| {
    // The bytes as an upstream's answer, whatever they are.
    for expected in [1, 2, 3] {
        let read = [
            embeddings::read_answer(data, expected),
            embeddings::gemini::read_answer(data, expected),
            embeddings::bedrock::read_answer(data, expected),
            embeddings::cohere::read_answer(data, expected),
        ];
        for part in read.into_iter().flatten() {
            std::hint::black_box(embeddings::check_dimensions(&part, 8).is_ok());
            for encoding in [Encoding::Float, Encoding::Base64] {
                std::hint::black_box(embeddings::merge(vec![part.clone()], encoding, "m"));
            }
        }
    }
    let Ok(body) = embeddings::parse_request(data) else {
        return;
    };
    let inputs = embeddings::inputs(&body);
    assert!(!inputs.is_empty(), "a parsed body has at least one input");
    let gemini = GeminiAdapter {
        base_url: "https://generativelanguage.example".to_owned(),
        api_version: "v1beta".to_owned(),
        api_key: Some(Secret::new("fuzz-key")),
    };
    let cohere = CohereAdapter {
        base_url: "https://api.cohere.example".to_owned(),
        api_key: Some(Secret::new("fuzz-key")),
    };
    let route = RouteSettings::new("fuzz-model");
    for max in [1, 2, 7] {
        for run in inputs.chunks(max) {
            let batch = EmbeddingsBody { body: &body, batch: Some(run) };
            std::hint::black_box(embeddings::openai_body(&batch, "up"));
            std::hint::black_box(gemini.render_embeddings(&batch, &route).is_ok());
            std::hint::black_box(cohere.render_embeddings(&batch, &route).is_ok());
        }
    }
    if let Ok(req) = ChatRequest::embeddings(body, Vec::new()) {
        std::hint::black_box(req.to_upstream_json("up"));
    }
});
