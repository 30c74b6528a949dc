//! Incremental server-sent-events framing.
//!
//! Upstream bytes arrive split at arbitrary points. The framer buffers them
//! and hands out whole events (their raw bytes, terminator included, plus the
//! joined `data` payload), so the gateway forwards only complete events and
//! can inspect each one (end marker, malformed payloads) without a second
//! copy of the stream. Line endings may be `\n`, `\r\n` or `\r`.
//!
//! One event may hold at most a configured number of bytes (the provider's
//! `max-stream-event-bytes`): an upstream that never sends the blank line
//! ending an event would otherwise grow the buffer without limit. Past the
//! cap the framer drops what it holds and fails with [`EventTooLarge`], so a
//! stream buffers at most the cap plus one received chunk.

use bytes::{Bytes, BytesMut};
use thiserror::Error;

/// The largest event a framer accepts when none is configured (the
/// default of `providers[].max-stream-event-bytes`).
pub const DEFAULT_MAX_EVENT_BYTES: usize = signalbox_config::DEFAULT_MAX_STREAM_EVENT_BYTES;

/// An event grew past the framer's cap before it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("upstream stream event larger than {limit} bytes (max-stream-event-bytes)")]
pub struct EventTooLarge {
    /// The cap, in bytes.
    pub limit: usize,
}

/// One complete SSE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event's bytes exactly as received, including the blank line that
    /// ended it.
    pub raw: Bytes,
    /// The `data:` lines joined with `\n` (empty when the event had none).
    pub data: String,
    /// The `event:` field, when present.
    pub event: Option<String>,
}

/// A stream that outgrows the cap is a malformed answer: before the commit
/// point another route may serve, after it the stream ends with an error.
impl From<EventTooLarge> for crate::UpstreamError {
    fn from(e: EventTooLarge) -> Self {
        Self::new(signalbox_core::OutcomeClass::BadResponse, e.to_string())
    }
}

impl SseEvent {
    /// Whether this is the OpenAI end-of-stream marker `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }

    /// Whether the event carries no data (comments, keep-alives).
    pub fn is_comment_only(&self) -> bool {
        self.data.is_empty() && self.event.is_none()
    }
}

/// Buffers stream bytes and yields complete events of at most
/// `max_event` bytes.
#[derive(Debug)]
pub struct SseFramer {
    buf: BytesMut,
    /// Offset up to which `buf` has been scanned for line ends.
    scanned: usize,
    /// Start of the current (unfinished) line within `buf`.
    line_start: usize,
    data: String,
    event: Option<String>,
    has_data: bool,
    /// Largest event accepted, terminator included.
    max_event: usize,
    /// An event outgrew `max_event`: everything was dropped, nothing more
    /// is buffered, and every call fails.
    overflowed: bool,
}

impl Default for SseFramer {
    fn default() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseFramer {
    /// A framer with an empty buffer and the default cap.
    pub fn new() -> Self {
        Self::default()
    }

    /// A framer refusing events longer than `max_event` bytes.
    pub fn with_max_event_bytes(max_event: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            scanned: 0,
            line_start: 0,
            data: String::new(),
            event: None,
            has_data: false,
            max_event,
            overflowed: false,
        }
    }

    /// A framer for bytes that are already whole events the gateway framed
    /// itself (each within its provider's cap), so no cap of its own.
    pub fn for_framed_events() -> Self {
        Self::with_max_event_bytes(usize::MAX)
    }

    /// Appends received bytes (ignored once an event outgrew the cap).
    pub fn push(&mut self, chunk: &[u8]) {
        if !self.overflowed {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// Bytes received but not yet part of a complete event.
    pub fn pending_len(&self) -> usize {
        self.buf.len()
    }

    /// Takes the buffered bytes of an unfinished event (at end of stream).
    pub fn take_pending(&mut self) -> Bytes {
        self.scanned = 0;
        self.line_start = 0;
        self.data.clear();
        self.event = None;
        self.has_data = false;
        self.buf.split().freeze()
    }

    /// Returns the next complete event, if the buffer holds one; fails
    /// (and drops the buffer) once the event being read is longer than the
    /// cap, whether or not its end has arrived.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, EventTooLarge> {
        if self.overflowed {
            return Err(self.too_large());
        }
        loop {
            // `buf` starts at the current event: its length so far is the
            // event's, and the end of its last line is where it would end.
            let Some((line_end, next_start)) = self.find_line_end() else {
                if self.buf.len() > self.max_event {
                    return Err(self.overflow());
                }
                return Ok(None);
            };
            if next_start > self.max_event {
                return Err(self.overflow());
            }
            let line_start = self.line_start;
            self.line_start = next_start;
            self.scanned = next_start;
            if line_end == line_start {
                // A blank line: dispatch the event (if anything was in it).
                let raw = self.buf.split_to(next_start).freeze();
                self.scanned = 0;
                self.line_start = 0;
                let data = std::mem::take(&mut self.data);
                let event = self.event.take();
                self.has_data = false;
                return Ok(Some(SseEvent { raw, data, event }));
            }
            self.field(line_start, line_end);
        }
    }

    /// Drops everything held and refuses more.
    fn overflow(&mut self) -> EventTooLarge {
        // `take_pending` moves the whole allocation out; dropping it frees it.
        drop(self.take_pending());
        self.data = String::new();
        self.overflowed = true;
        self.too_large()
    }

    fn too_large(&self) -> EventTooLarge {
        EventTooLarge {
            limit: self.max_event,
        }
    }

    /// Finds the end of the line starting at `line_start`: returns the
    /// line's end (exclusive, without terminator) and where the next begins.
    fn find_line_end(&mut self) -> Option<(usize, usize)> {
        let bytes = &self.buf[..];
        let mut i = self.scanned.max(self.line_start);
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => return Some((i, i + 1)),
                b'\r' => {
                    // A lone `\r` at the end of the buffer may be the first
                    // half of `\r\n`: wait for the next byte.
                    if i + 1 == bytes.len() {
                        self.scanned = i;
                        return None;
                    }
                    let next = if bytes[i + 1] == b'\n' { i + 2 } else { i + 1 };
                    return Some((i, next));
                }
                _ => i += 1,
            }
        }
        self.scanned = i;
        None
    }

    fn field(&mut self, start: usize, end: usize) {
        let line = &self.buf[start..end];
        if line.first() == Some(&b':') {
            return; // comment
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let mut value = &line[colon + 1..];
                if value.first() == Some(&b' ') {
                    value = &value[1..];
                }
                (&line[..colon], value)
            }
            None => (line, &line[line.len()..]),
        };
        let value = String::from_utf8_lossy(value);
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            _ => {} // id, retry and unknown fields are forwarded raw, not interpreted
        }
    }
}

#[cfg(test)]
mod tests;
