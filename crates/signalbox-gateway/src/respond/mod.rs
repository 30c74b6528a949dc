//! Owns what goes back to the caller: the error mapping (one table from
//! error to status, code and metric label), the `x-signalbox-*` summary
//! headers, and the edge that writes the served answer — JSON or stream
//! events — in the client's wire format (OpenAI's, or Anthropic's on
//! `/v1/messages`).

pub(crate) mod anthropic;
pub mod code;
pub mod degraded;
pub(crate) mod edge;
pub mod error;
pub mod headers;

pub use crate::failover::NoFallback;
pub use code::{ErrorCode, UpstreamVerdict};
pub use error::{ApiError, Webhook};
