//! Owns the `redis-server` a scenario with `redis: true` runs against: a
//! throwaway server on a free loopback port (no persistence) that timeline
//! steps stop (killed, as a crashed Redis) and start again on the same
//! port, and that is killed when the stage stops.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a starting server has to answer PING.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A `redis-server` child process.
#[derive(Debug)]
pub struct RedisProcess {
    port: u16,
    child: Mutex<Option<Child>>,
}

impl RedisProcess {
    /// Starts a server on a free port and waits until it answers PING.
    pub async fn start() -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port for redis-server: {e}"))?;
        let redis = Self {
            port,
            child: Mutex::new(None),
        };
        redis.resume().await?;
        Ok(redis)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on its port (after [`Self::kill`]).
    pub async fn resume(&self) -> Result<String, String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "redis-server is not installed (apt-get install -y redis-server)".to_owned()
                }
                _ => format!("could not start redis-server: {e}"),
            })?;
        let previous = self.child.lock().replace(child);
        if let Some(mut old) = previous {
            let _ = old.kill();
            let _ = old.wait();
        }
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if self.pong().await {
                return Ok(format!("redis-server up on port {}", self.port));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "redis-server on port {} did not answer PING",
            self.port
        ))
    }

    /// Kills the server, as a crash would.
    pub fn kill(&self) -> Result<String, String> {
        let Some(mut child) = self.child.lock().take() else {
            return Err("redis-server was not running".to_owned());
        };
        child
            .kill()
            .map_err(|e| format!("could not kill redis-server: {e}"))?;
        let _ = child.wait();
        Ok(format!("redis-server on port {} killed", self.port))
    }

    async fn pong(&self) -> bool {
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let mut reply = [0u8; 7];
        conn.write_all(b"PING\r\n").await.is_ok()
            && conn.read_exact(&mut reply).await.is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.lock().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
