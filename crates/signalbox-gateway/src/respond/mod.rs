//! Owns what goes back to the caller: the error mapping and the
//! `x-signalbox-*` summary headers.

pub mod degraded;
pub mod error;
pub mod headers;

pub use error::ApiError;
pub use headers::ResponseMeta;
