//! Owns what an upstream answer stream hands the dispatcher: bytes in the
//! wire format the caller gets, and typed values learned along the way
//! (usage) that never reach the caller. A translated stream's usage is a
//! field here, not an SSE comment the dispatcher would have to strip.

use bytes::Bytes;
use futures::stream::BoxStream;
use signalbox_core::Usage;

use crate::UpstreamError;

/// One item of an upstream answer stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Stream bytes for the caller (OpenAI SSE, or the client's own format
    /// on the same-family path).
    Data(Bytes),
    /// The answer's token usage, as a translator read it from the
    /// provider's events; for budgets and records only.
    Usage(Usage),
}

/// The upstream body as [`Chunk`]s, or a classified failure.
pub type ByteStream = BoxStream<'static, Result<Chunk, UpstreamError>>;
