//! Owns validating the `server` section: the listener, body limit,
//! serving threads, client timeouts and the connection cap.

use std::net::SocketAddr;
use std::time::Duration;

use super::Errors;
use crate::model::ServerConfig;
use crate::raw::RawServer;

pub(super) fn validate_server(raw: Option<RawServer>, errors: &mut Errors) -> ServerConfig {
    let defaults = ServerConfig::default();
    let Some(RawServer {
        listen,
        max_body_bytes,
        scheduler,
        threads,
        header_read_timeout,
        body_read_timeout,
        keep_alive_timeout,
        max_connections,
    }) = raw
    else {
        return defaults;
    };
    let listen = listen.map_or(defaults.listen, |text| {
        validate_listen(text.as_str(), defaults.listen, errors)
    });
    let max_body_bytes = validate_body_limit(max_body_bytes, defaults.max_body_bytes, errors);
    let threads = validate_threads(threads, errors);
    let mut positive = |value: Option<Duration>, default: Duration, key: &str| match value {
        Some(d) if d.is_zero() => {
            errors.push(format!("server.{key}"), "must be greater than 0");
            default
        }
        Some(d) => d,
        None => default,
    };
    let header_read_timeout = positive(
        header_read_timeout,
        defaults.header_read_timeout,
        "header-read-timeout",
    );
    let body_read_timeout = positive(
        body_read_timeout,
        defaults.body_read_timeout,
        "body-read-timeout",
    );
    let keep_alive_timeout = positive(
        keep_alive_timeout,
        defaults.keep_alive_timeout,
        "keep-alive-timeout",
    );
    let max_connections = match max_connections {
        None => None,
        Some(0) => {
            errors.push("server.max-connections", "must be at least 1");
            None
        }
        Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    ServerConfig {
        listen,
        max_body_bytes,
        scheduler: scheduler.unwrap_or_default(),
        threads,
        header_read_timeout,
        body_read_timeout,
        keep_alive_timeout,
        max_connections,
    }
}

/// `server.listen`: an `IP:PORT`.
fn validate_listen(text: &str, default: SocketAddr, errors: &mut Errors) -> SocketAddr {
    text.parse::<SocketAddr>().unwrap_or_else(|_| {
        errors.push(
            "server.listen",
            format!("invalid address {text:?} (expected IP:PORT, e.g. 127.0.0.1:4000)"),
        );
        default
    })
}

/// `server.max-body-bytes`: above 0 and addressable here.
fn validate_body_limit(raw: Option<u64>, default: usize, errors: &mut Errors) -> usize {
    match raw {
        None => default,
        Some(0) => {
            errors.push("server.max-body-bytes", "must be greater than 0");
            default
        }
        Some(n) => usize::try_from(n).unwrap_or_else(|_| {
            errors.push("server.max-body-bytes", "too large for this platform");
            default
        }),
    }
}

/// `server.threads`: 1 to [`MAX_THREADS`], or one per core when omitted.
fn validate_threads(raw: Option<u64>, errors: &mut Errors) -> Option<usize> {
    match raw {
        None => None,
        Some(n @ 1..=MAX_THREADS) => usize::try_from(n).ok(),
        Some(n) => {
            errors.push(
                "server.threads",
                format!("{n} threads: must be between 1 and {MAX_THREADS}"),
            );
            None
        }
    }
}

/// The most worker threads `server.threads` accepts.
const MAX_THREADS: u64 = 1024;
