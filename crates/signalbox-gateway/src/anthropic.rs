//! Owns Anthropic-format ingress: `POST /v1/messages`. The body is read
//! once (by `signalbox-adapters`) into the canonical model
//! (`signalbox_core::canonical`), whose OpenAI view (a JSON map, never
//! serialised) runs through the same pipeline as `/v1/chat/completions`
//! — authentication, policy, privacy, resilience and the decision record
//! all apply unchanged. The client's own body travels with it: an
//! Anthropic route is sent that body (model swapped) while no privacy or
//! prompt rewrite applies, with the `anthropic-beta` header, and its answer
//! (JSON or SSE) comes back as the provider wrote it. Other answers are
//! translated back: JSON into an Anthropic message, SSE into Anthropic
//! stream events, errors into Anthropic's error shape, with the
//! `x-signalbox-*` headers kept. Every
//! error here — the body limit, a body that does not parse, an unknown
//! `/v1/messages/*` path, and whatever the pipeline refuses — is
//! `{"type":"error","error":{…},"request_id":…}` with `x-request-id`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use signalbox_adapters::anthropic;
use signalbox_adapters::openai::ChunkDecoder;
use signalbox_providers::SseFramer;

use signalbox_core::headers::{IDEMPOTENT_REPLAY, REQUEST_ID};
use signalbox_core::{ChatRequest, WireFormat};

use crate::AppState;
use crate::ingress::{read_body, request_id_header};
use crate::pipeline::{Inbound, serve};

/// The path this module serves; `/v1/messages/…` paths it does not serve
/// are refused in its error shape too ([`is_messages_path`]).
pub(crate) const MESSAGES_PATH: &str = "/v1/messages";

/// Handles `POST /v1/messages`.
pub async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // One id for the whole exchange: the pipeline below reuses it.
    let id_header = request_id_header(&headers);
    let (limit, deadline) = {
        let server = &state.runtime.load().config.server;
        (server.max_body_bytes, server.body_read_timeout)
    };
    let bytes = match read_body(&headers, body, limit, deadline).await {
        Ok(b) => b,
        Err(e) => {
            crate::pipeline::count_body_timeout(&state, &e);
            return error(e.status(), &e.to_string(), &id_header);
        }
    };
    let mut ingress = match anthropic::parse_ingress(&bytes, beta(&headers)) {
        Ok(i) => i,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string(), &id_header),
    };
    // The OpenAI view the pipeline reads (the alias stays the model name),
    // with the client's own body attached for same-family routes.
    let request = match ingress.openai_view() {
        Ok(view) => ChatRequest::from_object(view).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let request = match request {
        Ok(r) => r.with_origin(Some(ingress.origin)),
        Err(e) => return error(StatusCode::BAD_REQUEST, &e, &id_header),
    };
    let stream = request.is_stream();
    let mut inner_headers = headers;
    inner_headers.remove(header::CONTENT_LENGTH);
    inner_headers.insert(REQUEST_ID, id_header.clone());
    let resp = serve(state, inner_headers, Inbound::Parsed { bytes, request }).await;
    translate(resp, stream, &id_header).await
}

/// The client's `anthropic-beta` header(s), joined as Anthropic reads them.
fn beta(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Whether `path` is `/v1/messages` or below it.
pub(crate) fn is_messages_path(path: &str) -> bool {
    path.strip_prefix(MESSAGES_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The 404 for a method or path under `/v1/messages` that is not served.
pub(crate) fn not_found(method: &str, path: &str, headers: &HeaderMap) -> Response {
    let id_header = request_id_header(headers);
    error(
        StatusCode::NOT_FOUND,
        &format!("no route for {method} {path}"),
        &id_header,
    )
}

/// Turns the OpenAI-shaped answer into Anthropic's; an answer an
/// Anthropic route gave to the client's own body is already Anthropic's
/// and passes as it is.
async fn translate(resp: Response, stream: bool, id: &HeaderValue) -> Response {
    let (mut parts, body) = resp.into_parts();
    if parts.status.is_success()
        && parts.extensions.get::<WireFormat>() == Some(&WireFormat::Anthropic)
    {
        return Response::from_parts(parts, body);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let is_sse = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if parts.status.is_success() && stream && is_sse {
        let replay = parts.headers.contains_key(IDEMPOTENT_REPLAY);
        let events = AnthropicEvents {
            inner: body.into_data_stream(),
            // Its input is the committed stream: whole events, each already
            // within its provider's cap.
            framer: SseFramer::for_framed_events(),
            decoder: ChunkDecoder::new(),
            encoder: Some(anthropic::SseEncoder::new()),
            replay,
            replayed_native: false,
        };
        return Response::from_parts(parts, Body::from_stream(events));
    }
    let status = parts.status;
    // Non-streamed answers are already whole in memory.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let out = if status.is_success() {
        match signalbox_adapters::openai::parse_response(&body) {
            Ok(r) => Bytes::from(anthropic::render_response(&r)),
            // An idempotent replay of an answer an Anthropic route gave to
            // the client's own body (replays carry no extensions).
            Err(_) if anthropic::usage_of_message(&body).is_ok() => body,
            Err(e) => {
                return error(
                    StatusCode::BAD_GATEWAY,
                    &format!("untranslatable answer: {e}"),
                    id,
                );
            }
        }
    } else {
        Bytes::from(error_body(status, &body, id).to_string())
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(out))
}

/// `{"type":"error","error":{"type","message"},"request_id","signalbox":{…}}`
/// from an OpenAI-shaped error body (its message, a provider's own
/// identifiers and the Signalbox details kept).
fn error_body(status: StatusCode, openai: &[u8], id: &HeaderValue) -> Value {
    let v: Value = serde_json::from_slice(openai).unwrap_or_default();
    let message = v["error"]["message"].as_str().unwrap_or("request failed");
    let mut out = shape(status, message, id);
    for key in ["provider_code", "provider_type"] {
        if let Some(x) = v["error"].get(key) {
            out["error"][key] = x.clone();
        }
    }
    if let Some(sb) = v.get("signalbox") {
        out["signalbox"] = sb.clone();
    }
    out
}

/// Anthropic's error shape; the request id where Anthropic puts its own.
fn shape(status: StatusCode, message: &str, id: &HeaderValue) -> Value {
    json!({
        "type": "error",
        "error": { "type": crate::respond::code::anthropic_type(status), "message": message },
        "request_id": id.to_str().unwrap_or_default(),
    })
}

/// An error answered before (or instead of) the pipeline, with the
/// request id in the body and `x-request-id`.
fn error(status: StatusCode, message: &str, id: &HeaderValue) -> Response {
    let body = shape(status, message, id);
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(REQUEST_ID, id.clone());
    resp
}

/// Re-encodes an OpenAI SSE stream (whole events) as Anthropic events.
struct AnthropicEvents {
    inner: BodyDataStream,
    framer: SseFramer,
    decoder: ChunkDecoder,
    encoder: Option<anthropic::SseEncoder>,
    /// The response is an idempotent replay (it carries no format extension).
    replay: bool,
    /// The replay is already Anthropic's: of a native answer. Anthropic's
    /// events are always named; the gateway's OpenAI chunks never are. A
    /// live stream is never taken for one: an OpenAI-compatible upstream
    /// may name its events, and its chunks must still be translated.
    replayed_native: bool,
}

impl AnthropicEvents {
    fn drain(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Ok(Some(ev)) = self.framer.next_event() {
            if self.replayed_native || (self.replay && ev.event.is_some()) {
                self.replayed_native = true;
                self.encoder = None;
                out.extend_from_slice(&ev.raw);
                continue;
            }
            let Some(encoder) = self.encoder.as_mut() else {
                break;
            };
            if ev.is_done() {
                out.extend(encoder.finish());
                self.encoder = None;
                continue;
            }
            if ev.data.is_empty() {
                continue;
            }
            // The gateway's own error event (a stream cut after commit).
            if let Ok(v) = serde_json::from_str::<Value>(&ev.data)
                && v.get("error").is_some()
            {
                let mut err = json!({"type": "error", "error": {
                    "type": "api_error",
                    "message": v["error"]["message"].as_str().unwrap_or("stream interrupted"),
                }});
                if let Some(id) = v["signalbox"].get("request_id") {
                    err["request_id"] = id.clone();
                }
                out.extend_from_slice(format!("event: error\ndata: {err}\n\n").as_bytes());
                self.encoder = None;
                continue;
            }
            match self.decoder.on_data(&ev.data) {
                Ok(events) => {
                    for e in &events {
                        out.extend(encoder.encode(e));
                    }
                }
                Err(e) => {
                    let err = json!({"type": "error", "error": {"type": "api_error", "message": e.to_string()}});
                    out.extend_from_slice(format!("event: error\ndata: {err}\n\n").as_bytes());
                    self.encoder = None;
                }
            }
        }
        out
    }
}

impl Stream for AnthropicEvents {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match this.inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    this.framer.push(&chunk);
                    let out = this.drain();
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(out))));
                    }
                }
                Poll::Ready(Some(Err(_)) | None) => {
                    // Ended without [DONE]: close the message properly.
                    return match this.encoder.take() {
                        Some(mut e) => {
                            let tail = e.finish();
                            Poll::Ready((!tail.is_empty()).then(|| Ok(Bytes::from(tail))))
                        }
                        None => Poll::Ready(None),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn translated(events: &'static str, replay: bool) -> String {
        let mut resp = Response::new(Body::from(events));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        if replay {
            resp.headers_mut()
                .insert(IDEMPOTENT_REPLAY, HeaderValue::from_static("true"));
        }
        let out = translate(resp, true, &HeaderValue::from_static("r1")).await;
        let body = axum::body::to_bytes(out.into_body(), usize::MAX).await;
        String::from_utf8(body.unwrap_or_default().to_vec()).unwrap_or_default()
    }

    /// An OpenAI-compatible server may name its events (`event: chunk`);
    /// passed on as they came, they are still OpenAI chunks to translate.
    #[tokio::test]
    async fn a_live_openai_stream_with_named_events_is_translated() {
        const NAMED: &str = "event: chunk\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":null}]}\n\n\
event: chunk\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: [DONE]\n\n";
        let out = translated(NAMED, false).await;
        assert!(out.contains("event: message_start"), "{out}");
        assert!(out.contains("event: message_stop"), "{out}");
        assert!(!out.contains("chat.completion"), "{out}");
    }

    /// A replay of an answer an Anthropic route gave is passed as stored.
    #[tokio::test]
    async fn a_replayed_native_stream_passes_as_stored() {
        const NATIVE: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        assert_eq!(translated(NATIVE, true).await, NATIVE);
    }
}
