//! A malicious (or merely careless) upstream: it answers every request with
//! an error whose text echoes the request it received — every header
//! (`Authorization`, `x-api-key`, `x-goog-api-key`, AWS signature and
//! session token), the query string and the start of the body — in the wire
//! format of the provider it pretends to be. A proxy that logs "bad request:
//! <the request>" into its answer does exactly this. Tests point the
//! gateway at it and check that the gateway's own credentials reach neither
//! the caller, the decision record nor the logs.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::task::JoinHandle;

use crate::any_port;

/// The wire format the echoing upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoFormat {
    /// `{"error":{"message","type","code","param"}}`.
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`.
    Anthropic,
    /// `{"error":{"code","message","status"}}`.
    Gemini,
    /// `x-amzn-errortype` plus `{"message"}`.
    Bedrock,
}

/// How the echoing upstream answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoMode {
    /// A non-2xx answer with this status whose error echoes the request.
    Status(u16),
    /// A 200 SSE stream whose first event is an error event echoing the
    /// request (OpenAI and Anthropic formats).
    StreamError,
}

/// What the provider's error carries besides the echo, per format: the
/// code (or status) and type tests expect to see passed on.
pub fn expected_ids(format: EchoFormat) -> (Option<&'static str>, Option<&'static str>) {
    match format {
        EchoFormat::OpenAi => (
            Some("context_length_exceeded"),
            Some("invalid_request_error"),
        ),
        EchoFormat::Anthropic => (None, Some("invalid_request_error")),
        EchoFormat::Gemini => (Some("INVALID_ARGUMENT"), None),
        EchoFormat::Bedrock => (Some("ValidationException"), None),
    }
}

/// A running echoing upstream.
pub struct EchoingUpstream {
    addr: SocketAddr,
    format: EchoFormat,
    task: JoinHandle<()>,
}

impl EchoingUpstream {
    /// Starts one on 127.0.0.1, port 0.
    pub async fn start(format: EchoFormat, mode: EchoMode) -> Self {
        let listener = tokio::net::TcpListener::bind(any_port())
            .await
            .expect("echo upstream binds");
        let addr = listener.local_addr().expect("bound address");
        let shared = Arc::new((format, mode));
        let app = axum::Router::new().fallback(move |method, uri, headers, body| {
            let shared = Arc::clone(&shared);
            async move { answer(shared.0, shared.1, &method, &uri, &headers, &body) }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, format, task }
    }

    /// The base URL as that provider's configuration takes it.
    pub fn base_url(&self) -> String {
        match self.format {
            EchoFormat::OpenAi => format!("http://{}/v1", self.addr),
            _ => format!("http://{}", self.addr),
        }
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Everything the request carried, as a careless server would print it.
fn echo(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> String {
    let mut out = format!("{method} {uri} with ");
    for (name, value) in headers {
        out.push_str(&format!(
            "{name}: {}; ",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    let body = String::from_utf8_lossy(body);
    out.push_str(&format!(
        "body {}",
        body.chars().take(200).collect::<String>()
    ));
    out
}

fn answer(
    format: EchoFormat,
    mode: EchoMode,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let said = format!("bad request: you sent {}", echo(method, uri, headers, body));
    let status = match mode {
        EchoMode::Status(s) => StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
        EchoMode::StreamError => return stream_error(format, &said),
    };
    let (code, kind) = expected_ids(format);
    let json_body = match format {
        EchoFormat::OpenAi => {
            json!({"error": {"message": said, "type": kind, "code": code, "param": "messages"}})
        }
        EchoFormat::Anthropic => {
            json!({"type": "error", "error": {"type": kind, "message": said}})
        }
        EchoFormat::Gemini => {
            json!({"error": {"code": status.as_u16(), "message": said, "status": code}})
        }
        EchoFormat::Bedrock => json!({"message": said}),
    };
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json_body.to_string(),
    )
        .into_response();
    if format == EchoFormat::Bedrock {
        resp.headers_mut().insert(
            "x-amzn-errortype",
            header::HeaderValue::from_static("ValidationException:http://internal.amazon.com/"),
        );
    }
    resp
}

/// A 200 stream whose first event is an error echoing the request.
fn stream_error(format: EchoFormat, said: &str) -> Response {
    let event = match format {
        EchoFormat::Anthropic => format!(
            "event: error\ndata: {}\n\n",
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": said}})
        ),
        _ => format!(
            "data: {}\n\n",
            json!({"error": {"message": said, "type": "invalid_request_error", "code": "context_length_exceeded"}})
        ),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from(event),
    )
        .into_response()
}

/// The credentials [`ECHOING_CONFIG`] gives its providers; none may ever
/// appear in what the gateway answers, records or logs.
pub const ECHOED_SECRETS: [(&str, &str); 6] = [
    ("OA_KEY", "gw-openai-7Hq2-secret"),
    ("AN_KEY", "gw-anthropic-9Xk4-secret"),
    ("GE_KEY", "gw-gemini-3Pm8-secret"),
    ("BR_AKID", "AKIAGATEWAYTEST12345"),
    ("BR_SECRET", "gw-aws-secret-5Rt1-key"),
    ("BR_TOKEN", "gw-aws-session-6Yu2-token"),
];

/// One provider of each wire format, each pointing at an echoing upstream,
/// each behind its own alias (`oa`, `an`, `ge`, `br`), with a decision log.
pub const ECHOING_CONFIG: &str = r#"
providers:
  - name: oa
    kind: openai-compatible
    base-url: ${OA_URL}
    api-key: { env: OA_KEY }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
  - name: an
    kind: anthropic
    base-url: ${AN_URL}
    api-key: { env: AN_KEY }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
  - name: ge
    kind: gemini
    base-url: ${GE_URL}
    api-key: { env: GE_KEY }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
  - name: br
    kind: bedrock
    base-url: ${BR_URL}
    aws-region: us-east-1
    aws-credentials:
      access-key-id: { env: BR_AKID }
      secret-access-key: { env: BR_SECRET }
      session-token: { env: BR_TOKEN }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
routes:
  - { id: oa-route, provider: oa, model: gpt-test, region: us }
  - { id: an-route, provider: an, model: claude-test, region: us }
  - { id: ge-route, provider: ge, model: gemini-test, region: us }
  - { id: br-route, provider: br, model: "anthropic.claude-3-haiku-20240307-v1:0", region: us }
aliases:
  - { name: oa, routes: [oa-route] }
  - { name: an, routes: [an-route] }
  - { name: ge, routes: [ge-route] }
  - { name: br, routes: [br-route] }
"#;

/// The four formats with the alias [`ECHOING_CONFIG`] serves each under.
pub const ECHOING_ALIASES: [(EchoFormat, &str); 4] = [
    (EchoFormat::OpenAi, "oa"),
    (EchoFormat::Anthropic, "an"),
    (EchoFormat::Gemini, "ge"),
    (EchoFormat::Bedrock, "br"),
];

/// Starts one echoing upstream per format (answering as `mode` says) and a
/// gateway with [`ECHOING_CONFIG`].
pub async fn echoing_gateway(mode: EchoMode) -> (crate::Harness, Vec<EchoingUpstream>) {
    let mut upstreams = Vec::new();
    let mut vars: Vec<(&str, String)> = ECHOED_SECRETS
        .iter()
        .map(|(k, v)| (*k, (*v).to_string()))
        .collect();
    for (format, alias) in ECHOING_ALIASES {
        let up = EchoingUpstream::start(format, mode).await;
        let var = match alias {
            "oa" => "OA_URL",
            "an" => "AN_URL",
            "ge" => "GE_URL",
            _ => "BR_URL",
        };
        vars.push((var, up.base_url()));
        upstreams.push(up);
    }
    let h = crate::Harness::start(ECHOING_CONFIG, &[], &vars).await;
    (h, upstreams)
}
