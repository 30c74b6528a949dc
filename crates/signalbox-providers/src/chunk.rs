//! Owns what an upstream answer stream hands the dispatcher: either the
//! provider's bytes, passed on to a client that reads the same wire format
//! (framed once, by the dispatcher), or typed events a translator decoded
//! from a provider's own format, which the gateway's edge encodes in the
//! client's format. Usage is one of those events, never text the
//! dispatcher would have to strip.

use bytes::Bytes;
use futures::stream::BoxStream;
use signalbox_core::canonical::StreamEvent;

use crate::UpstreamError;

/// One item of an upstream answer stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// Stream bytes in the client's own wire format (OpenAI SSE from an
    /// OpenAI-compatible server, or Anthropic events on the same-family
    /// path), not yet framed.
    Data(Bytes),
    /// Whole events decoded from a translated stream (never empty; never
    /// an error event: a provider's error is the stream's `Err`).
    Events(Vec<StreamEvent>),
}

/// The upstream body as [`Chunk`]s, or a classified failure.
pub type ByteStream = BoxStream<'static, Result<Chunk, UpstreamError>>;
