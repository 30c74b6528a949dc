//! Owns client connections: accepting them under the process-wide cap
//! (`server.max-connections`), serving each with hyper, the client-side
//! timeouts that close a connection which sends its request head too slowly
//! or sits idle between requests, and raising the open-file limit.
//!
//! Why not `axum::serve`: it offers no way to bound how long a client may
//! take, and a connection that sent nothing was held forever (with the
//! common limit of 1,024 open files, about 1,050 such connections made the
//! gateway unreachable). The request body's deadline is the handler's
//! (`ingress::read_body`), and nothing here ever bounds a response: an
//! answer may stream for minutes.

mod accept;
mod limit;
mod sniff;
mod watch;

#[cfg(test)]
mod tests;

pub(crate) use accept::serve;
pub(crate) use limit::ConnLimit;
pub use limit::{OpenFileLimit, raise_open_file_limit};
