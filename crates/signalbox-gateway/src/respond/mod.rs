//! Owns what goes back to the caller: the error mapping (one table from
//! error to status, code and metric label) and the `x-signalbox-*`
//! summary headers.

pub mod code;
pub mod degraded;
pub mod error;
pub mod headers;

pub use crate::failover::NoFallback;
pub use code::{ErrorCode, UpstreamVerdict};
pub use error::{ApiError, Webhook};
