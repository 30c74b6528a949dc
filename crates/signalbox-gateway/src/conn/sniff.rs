//! Owns telling HTTP/1 from HTTP/2 (prior knowledge) on a new connection,
//! by peeking at its first bytes without consuming them.
//!
//! Why not `hyper_util`'s `auto` builder for every connection: it reads the
//! first bytes itself and hands hyper a rewinding IO whose first read
//! returns only those (up to 24) bytes. hyper's read buffer then fills
//! partly on its first read and doubles on its second, so every HTTP/1
//! connection held 16 KiB of read buffer instead of 8 — for as long as it
//! lived, which for a slow stream is its whole answer (docs/benchmarks.md,
//! memory per slow stream). A peek leaves the bytes in the socket, so hyper's
//! first read takes the whole head. Only a client whose first segment is a
//! strict prefix of the HTTP/2 preface is left undecided (`auto` serves it).

use tokio::net::TcpStream;

/// What an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How a connection is to be served, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
    /// The bytes so far begin the HTTP/2 preface but do not complete it.
    Undecided,
    /// The client closed before sending a byte.
    Closed,
}

/// Waits for the connection's first bytes and classifies them (module docs).
pub(crate) async fn sniff(tcp: &TcpStream) -> std::io::Result<Protocol> {
    let mut first = [0u8; H2_PREFACE.len()];
    let n = tcp.peek(&mut first).await?;
    Ok(classify(&first[..n]))
}

/// The protocol `seen`, the first bytes of a connection, begins.
pub(crate) fn classify(seen: &[u8]) -> Protocol {
    if seen.is_empty() {
        Protocol::Closed
    } else if !H2_PREFACE.starts_with(seen) {
        Protocol::Http1
    } else if seen.len() == H2_PREFACE.len() {
        Protocol::Http2
    } else {
        Protocol::Undecided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_is_http1() {
        assert_eq!(
            classify(b"POST /v1/chat/completions HTTP/1.1\r\n"),
            Protocol::Http1
        );
        assert_eq!(classify(b"G"), Protocol::Http1);
        // Begins like the preface, then departs from it.
        assert_eq!(classify(b"PRI * HTTP/1.1\r\n"), Protocol::Http1);
    }

    #[test]
    fn the_whole_preface_is_http2() {
        assert_eq!(classify(H2_PREFACE), Protocol::Http2);
    }

    #[test]
    fn a_strict_prefix_of_the_preface_is_undecided() {
        for n in 1..H2_PREFACE.len() {
            assert_eq!(classify(&H2_PREFACE[..n]), Protocol::Undecided, "{n} bytes");
        }
    }

    #[test]
    fn no_bytes_is_a_closed_connection() {
        assert_eq!(classify(b""), Protocol::Closed);
    }

    #[tokio::test]
    async fn peeking_leaves_the_bytes_for_the_reader() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(sniff(&server).await.unwrap(), Protocol::Http1);
        let mut read = [0u8; 18];
        server.read_exact(&mut read).await.unwrap();
        assert_eq!(&read, b"GET / HTTP/1.1\r\n\r\n");
        drop(client);
    }
}
