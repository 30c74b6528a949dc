//! Owns the in-memory scripted upstream the dispatch tests run against: each
//! call takes the next [`Script`] (a JSON answer, a status error of any
//! class, a transport failure, a delay, or a stream of chunks with delays,
//! failures and stalls), and the upstream remembers when each call came.
//! No sockets: under a paused tokio clock every timed path (backoff,
//! deadlines, first-event deadline, stall guards) runs deterministically.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use parking_lot::Mutex;
use signalbox_config::{BreakerConfig, ProviderKind, Timeouts};
use signalbox_core::{ChatRequest, OutcomeClass, ProviderName, RouteId, WireFormat};
use signalbox_providers::{
    ByteStream, CallContext, ChatJson, PrepareError, Prepared, RouteSettings, Scrubber, SseFramer,
    UpstreamError,
};
use tokio::time::{Duration, Instant};

use crate::upstream::{Answer, BoxFuture, Upstream};
use crate::{Route, RouteHealth};

/// A whole chat completion.
pub(crate) const COMPLETION: &str = r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
/// A stream's opening event.
pub(crate) const ROLE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\n\n";
/// A stream's last content event and its end marker.
pub(crate) const STOP: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

/// What one call answers.
#[derive(Debug, Clone)]
pub(crate) enum Script {
    /// A 2xx JSON chat completion ([`COMPLETION`]).
    Json,
    /// A non-2xx answer, classified as a provider's would be.
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// A non-2xx answer with this error body.
    Error(u16, &'static str),
    /// A failure with no status (connect error, timeout, bad response).
    Fail(OutcomeClass),
    /// The rest of the script, after a wait (the call takes this long).
    After(Duration, Box<Script>),
    /// A 2xx stream of chunks.
    Stream(Vec<Chunk>),
}

/// One step of a scripted stream.
#[derive(Debug, Clone)]
pub(crate) enum Chunk {
    /// Bytes of the body.
    Data(&'static str),
    /// A wait before the next step.
    Wait(Duration),
    /// The body fails (connection reset, total deadline…).
    Fail(OutcomeClass),
    /// The body goes silent for good.
    Stall,
}

/// An upstream that answers from a script.
#[derive(Debug)]
pub(crate) struct Scripted {
    script: Mutex<VecDeque<Script>>,
    /// Answered once the script is used up (`None`: a server error).
    always: Mutex<Option<Script>>,
    calls: Mutex<Vec<Instant>>,
    timeouts: Timeouts,
    /// `prepare` refuses every request (the route cannot carry it).
    refuse: bool,
    scrubber: Scrubber,
}

impl Scripted {
    pub(crate) fn new(script: impl IntoIterator<Item = Script>) -> Self {
        Self {
            script: Mutex::new(script.into_iter().collect()),
            always: Mutex::new(None),
            calls: Mutex::new(Vec::new()),
            timeouts: Timeouts::default(),
            refuse: false,
            scrubber: Scrubber::new::<&str>([]),
        }
    }

    pub(crate) fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    pub(crate) fn refusing(mut self) -> Self {
        self.refuse = true;
        self
    }

    /// Answers `script` to every call once the script is used up (the
    /// route's standing behaviour: up, or down, until changed).
    pub(crate) fn always(&self, script: Script) {
        *self.always.lock() = Some(script);
    }

    /// When each call came, in order.
    pub(crate) fn calls(&self) -> Vec<Instant> {
        self.calls.lock().clone()
    }

    /// A route of its own on this upstream.
    pub(crate) fn route(self: &Arc<Self>, id: &str) -> Route {
        Route {
            id: RouteId::from(id),
            provider: ProviderName::from("scripted"),
            settings: RouteSettings {
                upstream_model: "m".into(),
                max_output_tokens: None,
                retention: signalbox_providers::Retention::ProviderDefault,
                content_filter: None,
                context_window: None,
                embedding: None,
                responses: false,
                reasoning: false,
            },
            version: "m-1".into(),
            upstream: Arc::clone(self) as Arc<dyn Upstream>,
            health: Arc::new(RouteHealth::new(BreakerConfig::default())),
            weight: 1.0,
            gate: None,
            rate: None,
            ext: (),
        }
    }

    fn answer(&self, script: Script) -> BoxFuture<'static, Result<Answer, UpstreamError>> {
        match script {
            Script::Json => Box::pin(async {
                Ok(Answer::Json(ChatJson {
                    body: Bytes::from_static(COMPLETION.as_bytes()),
                    usage: None,
                    format: WireFormat::OpenAi,
                    model: signalbox_providers::AnswerModel::Unknown,
                }))
            }),
            Script::Status {
                status,
                retry_after,
            } => {
                let e = UpstreamError::from_status(status, retry_after, b"{}", &self.scrubber);
                Box::pin(async move { Err(e) })
            }
            Script::Error(status, body) => {
                let e = UpstreamError::from_status(status, None, body.as_bytes(), &self.scrubber);
                Box::pin(async move { Err(e) })
            }
            Script::Fail(class) => Box::pin(async move {
                Err(UpstreamError::new(
                    class,
                    format!("scripted {}", class.label()),
                ))
            }),
            Script::After(wait, rest) => {
                let rest = self.answer(*rest);
                Box::pin(async move {
                    tokio::time::sleep(wait).await;
                    rest.await
                })
            }
            Script::Stream(chunks) => Box::pin(async move { Ok(Answer::Events(stream(chunks))) }),
        }
    }
}

/// The chunks as a body stream.
fn stream(chunks: Vec<Chunk>) -> ByteStream {
    futures::stream::unfold(chunks.into_iter(), |mut it| async move {
        loop {
            match it.next()? {
                Chunk::Data(d) => {
                    let data = signalbox_providers::Chunk::Data(Bytes::from_static(d.as_bytes()));
                    return Some((Ok(data), it));
                }
                Chunk::Wait(d) => tokio::time::sleep(d).await,
                Chunk::Fail(class) => {
                    let e = UpstreamError::new(class, "scripted stream failure");
                    return Some((Err(e), it));
                }
                Chunk::Stall => futures::future::pending::<()>().await,
            }
        }
    })
    .boxed()
}

impl Upstream for Scripted {
    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAiCompatible
    }

    fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    fn prepare(
        &self,
        req: &ChatRequest,
        settings: &RouteSettings,
    ) -> Result<Prepared, PrepareError> {
        if self.refuse {
            return Err(PrepareError("scripted refusal".into()));
        }
        let body = req.upstream_json(&settings.upstream_model, false);
        Ok(Prepared::forwarded(Bytes::from(body), req.is_stream()))
    }

    fn call<'a>(
        &'a self,
        _prepared: &'a Prepared,
        _call: &'a CallContext<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>> {
        self.calls.lock().push(Instant::now());
        let next = self
            .script
            .lock()
            .pop_front()
            .or_else(|| self.always.lock().clone());
        match next {
            Some(script) => self.answer(script),
            None => Box::pin(async {
                Err(UpstreamError::new(
                    OutcomeClass::ServerError,
                    "script exhausted",
                ))
            }),
        }
    }

    fn sse_framer(&self) -> SseFramer {
        SseFramer::new()
    }

    fn first_event_error(&self, _format: WireFormat, data: &str) -> Option<UpstreamError> {
        UpstreamError::from_first_event(data, &self.scrubber)
    }
}
