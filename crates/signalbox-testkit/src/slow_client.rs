//! Owns slow and silent clients: connections that send nothing, or trickle
//! a request a byte at a time, for tests of the gateway's client deadlines
//! and its connection cap.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// A request head for `POST /v1/chat/completions` with a body of
/// `content_length` bytes still to come.
pub fn chat_head(content_length: usize) -> Vec<u8> {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: signalbox\r\n\
         content-type: application/json\r\ncontent-length: {content_length}\r\n\r\n"
    )
    .into_bytes()
}

/// One client connection driven byte by byte.
#[derive(Debug)]
pub struct SlowClient {
    stream: TcpStream,
    /// What the gateway sent so far.
    received: Vec<u8>,
}

impl SlowClient {
    /// Connects and sends nothing.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            stream: TcpStream::connect(addr).await?,
            received: Vec::new(),
        })
    }

    /// Sends `bytes` at once.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends `bytes` one byte every `every`, and stops early when the
    /// gateway closes the connection. Returns how many bytes were sent.
    pub async fn trickle(&mut self, bytes: &[u8], every: Duration) -> usize {
        for (sent, byte) in bytes.iter().enumerate() {
            if self.stream.write_all(&[*byte]).await.is_err() {
                return sent;
            }
            if self.closed_within(every).await {
                return sent + 1;
            }
        }
        bytes.len()
    }

    /// Waits up to `within` for the gateway to close the connection (end
    /// of stream or reset), keeping what it sent meanwhile.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(n)) => self.received.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Everything the gateway sent so far, as text.
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }
}

/// Many clients trickling a request head, each in its own task, until the
/// gateway closes them or this is dropped.
#[derive(Debug)]
pub struct Tricklers {
    tasks: JoinSet<()>,
    connected: usize,
    closed: Arc<AtomicUsize>,
}

impl Tricklers {
    /// Opens `n` connections to `addr`, each sending a chat request head one
    /// byte every `every` (never, for `None`: silent connections). Counts
    /// connections that could not be opened as closed.
    pub async fn start(addr: SocketAddr, n: usize, every: Option<Duration>) -> Self {
        let closed = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        let mut connected = 0;
        for _ in 0..n {
            let Ok(mut client) = SlowClient::connect(addr).await else {
                closed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            connected += 1;
            let closed = closed.clone();
            tasks.spawn(async move {
                match every {
                    Some(every) => {
                        let head = chat_head(100);
                        client.trickle(&head, every).await;
                    }
                    None => while !client.closed_within(Duration::from_secs(3600)).await {},
                }
                // Either the gateway closed it, or the whole head went out.
                if client.closed_within(Duration::from_secs(3600)).await {
                    closed.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        Self {
            tasks,
            connected,
            closed,
        }
    }

    /// Connections opened.
    pub fn connected(&self) -> usize {
        self.connected
    }

    /// Connections the gateway has closed (or that failed to open).
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::Relaxed)
    }

    /// Closes every connection from this side.
    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}
