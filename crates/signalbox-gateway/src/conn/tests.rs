use std::sync::Arc;
use std::time::Duration;

use metrics::Counter;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use super::limit::ConnLimit;
use super::watch::{Activity, Deadlines, InFlight, Watched};

const HEADER: Duration = Duration::from_secs(30);
const KEEP_ALIVE: Duration = Duration::from_secs(75);

/// A watched server end and the client end of an in-memory connection.
fn connection() -> (Watched<DuplexStream>, DuplexStream, Arc<Activity>) {
    let (server, client) = tokio::io::duplex(1024);
    let activity = Arc::new(Activity::default());
    let deadlines = Deadlines {
        header: HEADER,
        keep_alive: KEEP_ALIVE,
        header_expired: Counter::noop(),
        idle_expired: Counter::noop(),
    };
    (
        Watched::new(server, activity.clone(), deadlines),
        client,
        activity,
    )
}

/// Reads until an error; returns its kind and how long it took.
async fn read_until_error(io: &mut Watched<DuplexStream>) -> (std::io::ErrorKind, Duration) {
    let start = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        match io.read(&mut buf).await {
            Ok(0) => panic!("unexpected end of stream"),
            Ok(_) => {}
            Err(e) => return (e.kind(), start.elapsed()),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_times_out_after_the_header_deadline() {
    let (mut io, _client, _) = connection();
    let (kind, after) = read_until_error(&mut io).await;
    assert_eq!(kind, std::io::ErrorKind::TimedOut);
    assert_eq!(after, HEADER);
}

#[tokio::test(start_paused = true)]
async fn a_trickled_head_times_out_from_the_accept() {
    let (mut io, mut client, _) = connection();
    let trickle = tokio::spawn(async move {
        for b in b"POST /v1/chat/completions HTTP/1.1\r\n".repeat(4) {
            if client.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let (kind, after) = read_until_error(&mut io).await;
    assert_eq!(kind, std::io::ErrorKind::TimedOut);
    assert_eq!(after, HEADER);
    trickle.abort();
}

#[tokio::test(start_paused = true)]
async fn no_deadline_while_a_request_is_in_flight_then_keep_alive() {
    let (mut io, _client, activity) = connection();
    let request = InFlight::start(&activity);
    // An hour in flight (a long stream): the connection stays open.
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(Duration::from_secs(3600), io.read(&mut buf)).await;
    assert!(read.is_err(), "the read ended: {read:?}");
    // Done: the connection may now idle for the keep-alive timeout.
    drop(request);
    let (kind, after) = read_until_error(&mut io).await;
    assert_eq!(kind, std::io::ErrorKind::TimedOut);
    assert_eq!(after, KEEP_ALIVE);
}

#[tokio::test(start_paused = true)]
async fn the_next_head_is_due_within_the_keep_alive_deadline() {
    let (mut io, mut client, activity) = connection();
    drop(InFlight::start(&activity));
    let idle_since = Instant::now();
    let mut buf = [0u8; 8];
    let idle = tokio::time::timeout(Duration::from_secs(10), io.read(&mut buf)).await;
    assert!(idle.is_err());
    // A first byte, and no more: the head is still due with the idle deadline.
    client.write_all(b"G").await.unwrap();
    assert_eq!(io.read(&mut buf).await.unwrap(), 1);
    let (kind, _) = read_until_error(&mut io).await;
    assert_eq!(kind, std::io::ErrorKind::TimedOut);
    assert_eq!(idle_since.elapsed(), KEEP_ALIVE);
}

#[tokio::test(start_paused = true)]
async fn each_finished_request_restarts_the_keep_alive_deadline() {
    let (mut io, _client, activity) = connection();
    let mut buf = [0u8; 8];
    // Requests 50 s apart: each one moves the deadline, past the timer's
    // first (header) deadline and past the first request's idle deadline.
    for _ in 0..3 {
        drop(InFlight::start(&activity));
        let idle = tokio::time::timeout(Duration::from_secs(50), io.read(&mut buf)).await;
        assert!(idle.is_err(), "closed while within the keep-alive deadline");
    }
    drop(InFlight::start(&activity));
    let (kind, after) = read_until_error(&mut io).await;
    assert_eq!(kind, std::io::ErrorKind::TimedOut);
    assert_eq!(after, KEEP_ALIVE);
}

#[tokio::test(start_paused = true)]
async fn a_keep_alive_shorter_than_the_header_deadline_is_kept() {
    let (server, _client) = tokio::io::duplex(64);
    let activity = Arc::new(Activity::default());
    let deadlines = Deadlines {
        header: HEADER,
        keep_alive: Duration::from_secs(5),
        header_expired: Counter::noop(),
        idle_expired: Counter::noop(),
    };
    let mut io = Watched::new(server, activity.clone(), deadlines);
    drop(InFlight::start(&activity));
    let (kind, after) = read_until_error(&mut io).await;
    assert_eq!(kind, std::io::ErrorKind::TimedOut);
    assert_eq!(after, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn writing_the_end_of_a_response_arms_the_keep_alive_deadline() {
    let (mut io, mut client, activity) = connection();
    let request = InFlight::start(&activity);
    let mut buf = [0u8; 8];
    let busy = tokio::time::timeout(Duration::from_secs(100), io.read(&mut buf)).await;
    assert!(busy.is_err());
    drop(request);
    // hyper writes the response's last bytes after dropping its body.
    io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
    io.flush().await.unwrap();
    let mut response = [0u8; 19];
    client.read_exact(&mut response).await.unwrap();
    let (kind, after) = read_until_error(&mut io).await;
    assert_eq!(kind, std::io::ErrorKind::TimedOut);
    assert_eq!(after, KEEP_ALIVE);
}

#[test]
fn the_cap_admits_up_to_its_limit_and_frees_slots() {
    let limit = Arc::new(ConnLimit::new(Some(2), Counter::noop()));
    let a = limit.admit().unwrap();
    let _b = limit.admit().unwrap();
    assert!(limit.admit().is_none());
    assert_eq!(limit.open(), 2);
    drop(a);
    assert!(limit.admit().is_some());
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit() {
    let limit = super::raise_open_file_limit().unwrap();
    let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    assert_eq!(limit.after, now.current);
    if now.maximum.is_some() {
        assert_eq!(now.current, now.maximum);
    }
}
