//! Owns `Idempotency-Key` handling: claiming a key (scoped per tenant and
//! bound to the body's hash and its wire format, so an answer stored for
//! `/v1/messages` is never replayed to a `/v1/chat/completions` client), waiting for a concurrent duplicate, replaying
//! a stored answer, and storing the answer of the request that executed —
//! JSON bodies and streams alike, by teeing the response body as it goes out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use signalbox_core::WireFormat;
use signalbox_core::headers::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAY};
use signalbox_state::{Begin, IdempotencyStore, StoredResponse};
use tokio::time::Duration;

use crate::respond::ApiError;

/// Longest accepted key.
const MAX_KEY_LEN: usize = 255;

/// What the pipeline does with a request after the idempotency check.
pub enum Claimed {
    /// No key: proceed normally.
    None,
    /// This request owns the key: proceed, then [`Claim::wrap`] the response.
    Owner(Claim),
    /// An earlier answer to replay.
    Replay(Response),
}

/// Ownership of a key until the response is stored or abandoned. Dropped
/// unused (the caller went away mid-pipeline), it releases the key.
pub struct Claim {
    store: Arc<dyn IdempotencyStore>,
    key: String,
    max_bytes: usize,
    armed: bool,
}

impl Claim {
    fn release(&mut self) {
        if std::mem::take(&mut self.armed)
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (store, key) = (Arc::clone(&self.store), std::mem::take(&mut self.key));
            rt.spawn(async move { store.abandon(&key).await });
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.release();
    }
}

/// The client's request as the key is bound to it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The client's own bytes.
    pub body: &'a [u8],
    /// The format the ingress read them in: the same bytes sent to another
    /// endpoint are another request (stored answers are in its format).
    pub format: WireFormat,
}

impl Request<'_> {
    /// The first 8 bytes of the body's SHA-256; for formats other than
    /// OpenAI's the format's name is hashed first (OpenAI's fingerprint is
    /// the body's alone, as keys stored before were bound). Anthropic's is
    /// `anthropic/2`: its answers are stored as the client got them, while
    /// keys bound under `anthropic` stored OpenAI-shaped answers, which a
    /// replay must not hand an Anthropic client (such a key now conflicts).
    fn fingerprint(&self) -> u64 {
        let mut hasher = Sha256::new();
        match self.format {
            WireFormat::OpenAi => {}
            WireFormat::Anthropic => hasher.update(b"anthropic/2\0"),
            WireFormat::Responses => hasher.update(b"responses\0"),
            WireFormat::Completions => hasher.update(b"completions\0"),
            WireFormat::Embeddings => hasher.update(b"embeddings\0"),
        }
        hasher.update(self.body);
        let digest = hasher.finalize();
        let mut fp = [0u8; 8];
        fp.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        u64::from_le_bytes(fp)
    }
}

/// Claims the request's key, waiting (up to `wait`) for a concurrent
/// duplicate to finish first.
pub async fn claim(
    store: &Arc<dyn IdempotencyStore>,
    tenant: &str,
    headers: &HeaderMap,
    request: Request<'_>,
    wait: Duration,
    max_bytes: usize,
) -> Result<Claimed, ApiError> {
    let Some(raw) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(Claimed::None);
    };
    let key = raw
        .to_str()
        .ok()
        .filter(|k| (1..=MAX_KEY_LEN).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(ApiError::BadIdempotencyKey)?;
    let scoped = format!("{tenant}\u{0}{key}");
    let fingerprint = request.fingerprint();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let begin = store
            .begin(&scoped, fingerprint)
            .await
            .map_err(|e| ApiError::StateUnavailable(e.0))?;
        match begin {
            Begin::Execute => {
                return Ok(Claimed::Owner(Claim {
                    store: Arc::clone(store),
                    key: scoped,
                    max_bytes,
                    armed: true,
                }));
            }
            Begin::Replay(stored) => return Ok(Claimed::Replay(replay(stored))),
            Begin::Conflict => return Err(ApiError::IdempotencyConflict),
            Begin::InFlight(done) => {
                if tokio::time::timeout_at(deadline, done).await.is_err() {
                    return Err(ApiError::IdempotencyInFlight);
                }
            }
        }
    }
}

fn replay(stored: StoredResponse) -> Response {
    let mut resp = Response::new(Body::from(stored.body));
    *resp.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let h = resp.headers_mut();
    for (name, value) in stored.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            h.insert(n, v);
        }
    }
    h.insert(
        HeaderName::from_static(IDEMPOTENT_REPLAY),
        HeaderValue::from_static("true"),
    );
    resp
}

impl Claim {
    /// Stores the response as it streams out. Answers a retry could change
    /// (429, 5xx, and a stream whose `cut` flag was raised before it ended:
    /// a failure after its 200) are not stored: the key is released instead.
    pub fn wrap(mut self, resp: Response, cut: Option<Arc<AtomicBool>>) -> Response {
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            self.release();
            return resp;
        }
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(n, _)| {
                let n = n.as_str();
                n == "content-type" || n.starts_with("x-signalbox-")
            })
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let (parts, body) = resp.into_parts();
        let tee = Tee {
            inner: body.into_data_stream(),
            claim: Some(self),
            buf: BytesMut::new(),
            overflow: false,
            status: status.as_u16(),
            headers,
            cut,
        };
        Response::from_parts(parts, Body::from_stream(tee))
    }
}

/// Copies the body as it goes out; stores it when the body completes, and
/// releases the key when the body fails or the caller goes away first (a
/// truncated answer must never be replayed).
struct Tee {
    inner: axum::body::BodyDataStream,
    claim: Option<Claim>,
    buf: BytesMut,
    overflow: bool,
    status: u16,
    headers: Vec<(String, String)>,
    /// Raised when the stream was cut after commit.
    cut: Option<Arc<AtomicBool>>,
}

impl Tee {
    fn push(&mut self, bytes: &Bytes) {
        let Some(claim) = &self.claim else { return };
        if self.overflow {
            return;
        }
        if self.buf.len() + bytes.len() > claim.max_bytes {
            self.overflow = true;
            self.buf = BytesMut::new();
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Stores the whole body (`complete`), or releases the key.
    fn finish(&mut self, complete: bool) {
        let Some(mut claim) = self.claim.take() else {
            return;
        };
        claim.armed = false;
        let (store, key) = (Arc::clone(&claim.store), std::mem::take(&mut claim.key));
        let cut = self.cut.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
        let stored = (complete && !self.overflow && !cut).then(|| StoredResponse {
            status: self.status,
            headers: std::mem::take(&mut self.headers),
            body: std::mem::take(&mut self.buf).freeze(),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                match stored {
                    Some(r) => store.complete(&key, r).await,
                    None => store.abandon(&key).await,
                }
            });
        }
    }
}

impl futures::Stream for Tee {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = &mut *self;
        let next = this.inner.poll_next_unpin(cx);
        match &next {
            std::task::Poll::Ready(Some(Ok(bytes))) => this.push(bytes),
            std::task::Poll::Ready(Some(Err(_))) => this.finish(false),
            std::task::Poll::Ready(None) => this.finish(true),
            std::task::Poll::Pending => {}
        }
        next
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        self.finish(false);
    }
}
