//! Owns misbehaving upstream peers: raw HTTP/1.1 servers on 127.0.0.1
//! port 0 that do what no well-behaved provider (nor the mock) does, such as
//! streaming one server-sent event that never ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What an [`EndlessEvent`] peer saw.
#[derive(Debug, Default)]
struct Seen {
    /// Body bytes written, over all connections.
    written: AtomicU64,
    /// A client closed the connection while the event was still going.
    closed_by_client: AtomicBool,
    /// Requests answered.
    requests: AtomicU64,
}

/// An OpenAI-compatible upstream whose streamed answer sends some whole
/// events, then one `data:` event without its terminating blank line, byte
/// after byte, until the client goes away or `limit` bytes were written.
pub struct EndlessEvent {
    addr: SocketAddr,
    seen: Arc<Seen>,
    task: JoinHandle<()>,
}

impl EndlessEvent {
    /// Starts the peer: every request is answered with `before` (whole SSE
    /// events, may be empty) and then the endless event.
    pub async fn start(before: &'static [u8], limit: u64) -> Self {
        let listener = TcpListener::bind(crate::any_port())
            .await
            .expect("peer binds");
        let addr = listener.local_addr().expect("peer address");
        let seen = Arc::new(Seen::default());
        let shared = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let seen = Arc::clone(&shared);
                tokio::spawn(answer(socket, before, limit, seen));
            }
        });
        Self { addr, seen, task }
    }

    /// The base URL, as an OpenAI-compatible provider takes it.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Body bytes written so far.
    pub fn written(&self) -> u64 {
        self.seen.written.load(Ordering::Relaxed)
    }

    /// Whether a client hung up before the peer reached its limit.
    pub fn closed_by_client(&self) -> bool {
        self.seen.closed_by_client.load(Ordering::Relaxed)
    }

    /// Requests answered.
    pub fn requests(&self) -> u64 {
        self.seen.requests.load(Ordering::Relaxed)
    }
}

impl Drop for EndlessEvent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut socket: TcpStream, before: &[u8], limit: u64, seen: Arc<Seen>) {
    if read_request(&mut socket).await.is_none() {
        return;
    }
    seen.requests.fetch_add(1, Ordering::Relaxed);
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    if socket.write_all(head.as_bytes()).await.is_err() || socket.write_all(before).await.is_err() {
        return;
    }
    let _ = socket.write_all(b"data: {\"x\":\"").await;
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0u64;
    while sent < limit {
        if socket.write_all(&chunk).await.is_err() {
            seen.closed_by_client.store(true, Ordering::Relaxed);
            return;
        }
        sent += chunk.len() as u64;
        seen.written
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
}

/// Reads a request head and its `content-length` body; `None` when the
/// client went away first.
async fn read_request(socket: &mut TcpStream) -> Option<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(())
}
