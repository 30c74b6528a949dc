//! Incremental server-sent-events framing.
//!
//! Upstream bytes arrive split at arbitrary points. The framer buffers them
//! and hands out whole events (their raw bytes, terminator included, plus the
//! joined `data` payload), so the gateway forwards only complete events and
//! can inspect each one (end marker, malformed payloads) without a second
//! copy of the stream. Line endings may be `\n`, `\r\n` or `\r`.

use bytes::{Bytes, BytesMut};

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

/// Buffers stream bytes and yields complete events.
#[derive(Debug, Default)]
pub struct SseFramer {
    buf: BytesMut,
    /// Offset up to which `buf` has been scanned for line ends.
    scanned: usize,
    /// Start of the current (unfinished) line within `buf`.
    line_start: usize,
    data: String,
    event: Option<String>,
    has_data: bool,
}

impl SseFramer {
    /// A framer with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
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

    /// Returns the next complete event, if the buffer holds one.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let (line_end, next_start) = self.find_line_end()?;
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
                return Some(SseEvent { raw, data, event });
            }
            self.field(line_start, line_end);
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
