//! Owns the AWS event-stream binary framing used by ConverseStream.
//!
//! A message is: total length (u32 BE), headers length (u32 BE), CRC32 of
//! those 8 bytes, the headers, the payload, then a CRC32 of everything
//! before it. Bytes may arrive split anywhere; [`FrameDecoder`] buffers them.
//!
//! A message's declared length is checked against the decoder's cap as soon
//! as its prelude has arrived, before its bytes are waited for: a peer
//! cannot make the decoder hold more than the cap plus one received chunk.

use crate::error::StreamError;

/// Prelude (12 bytes) plus the trailing message CRC (4 bytes).
const OVERHEAD: usize = 16;

/// Largest message accepted at all (the service's own limit is 16 MiB).
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// A header value, by its wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// Type 0 / 1.
    Bool(bool),
    /// Type 2.
    Byte(i8),
    /// Type 3.
    Short(i16),
    /// Type 4.
    Int(i32),
    /// Type 5.
    Long(i64),
    /// Type 6.
    Bytes(Vec<u8>),
    /// Type 7.
    String(String),
    /// Type 8: milliseconds since the epoch.
    Timestamp(i64),
    /// Type 9.
    Uuid([u8; 16]),
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Headers in wire order.
    pub headers: Vec<(String, HeaderValue)>,
    /// The payload (JSON for Bedrock).
    pub payload: Vec<u8>,
}

impl Frame {
    /// A string header's value.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Buffers stream bytes and yields whole, CRC-checked frames.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Largest message accepted, prelude and CRCs included.
    max: usize,
    /// A frame was refused: the buffer is dropped and nothing more is kept.
    failed: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::with_max_message_bytes(MAX_MESSAGE)
    }
}

impl FrameDecoder {
    /// An empty decoder accepting messages up to the service's limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty decoder refusing messages longer than `max` bytes (never
    /// more than [`MAX_MESSAGE`]).
    pub fn with_max_message_bytes(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max: max.min(MAX_MESSAGE),
            failed: false,
        }
    }

    /// Appends received bytes (ignored once a frame was refused).
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes of an unfinished frame (non-zero at end of stream means a cut).
    pub fn pending_len(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `None` until one has fully arrived. A
    /// broken prelude or a message longer than the cap fails, and drops
    /// the buffer.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, StreamError> {
        let result = self.frame();
        if result.is_err() {
            self.buf = Vec::new();
            self.failed = true;
        }
        result
    }

    fn frame(&mut self) -> Result<Option<Frame>, StreamError> {
        if self.failed {
            return Err(frame_err("stream already failed"));
        }
        if self.buf.len() < 12 {
            return Ok(None);
        }
        let total = be_u32(&self.buf[0..4]) as usize;
        let headers_len = be_u32(&self.buf[4..8]) as usize;
        if crc(&self.buf[0..8]) != be_u32(&self.buf[8..12]) {
            return Err(frame_err("prelude CRC mismatch"));
        }
        if total > self.max {
            return Err(StreamError::TooLarge { limit: self.max });
        }
        if total < OVERHEAD || headers_len > total - OVERHEAD {
            return Err(frame_err(format!(
                "impossible lengths: total {total}, headers {headers_len}"
            )));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        if crc(&message[..total - 4]) != be_u32(&message[total - 4..]) {
            return Err(frame_err("message CRC mismatch"));
        }
        let headers = parse_headers(&message[12..12 + headers_len])?;
        let payload = message[12 + headers_len..total - 4].to_vec();
        Ok(Some(Frame { headers, payload }))
    }
}

fn frame_err(msg: impl Into<String>) -> StreamError {
    StreamError::Frame(msg.into())
}

fn crc(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads `n` bytes at `*pos`, advancing it.
fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], StreamError> {
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| frame_err("header runs past its block"))?;
    let out = &b[*pos..end];
    *pos = end;
    Ok(out)
}

fn take_array<const N: usize>(b: &[u8], pos: &mut usize) -> Result<[u8; N], StreamError> {
    let mut out = [0u8; N];
    out.copy_from_slice(take(b, pos, N)?);
    Ok(out)
}

fn parse_headers(b: &[u8]) -> Result<Vec<(String, HeaderValue)>, StreamError> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < b.len() {
        let name_len = take_array::<1>(b, &mut pos)?[0] as usize;
        let name = String::from_utf8(take(b, &mut pos, name_len)?.to_vec())
            .map_err(|_| frame_err("header name is not UTF-8"))?;
        let kind = take_array::<1>(b, &mut pos)?[0];
        let value = match kind {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(i8::from_be_bytes(take_array(b, &mut pos)?)),
            3 => HeaderValue::Short(i16::from_be_bytes(take_array(b, &mut pos)?)),
            4 => HeaderValue::Int(i32::from_be_bytes(take_array(b, &mut pos)?)),
            5 => HeaderValue::Long(i64::from_be_bytes(take_array(b, &mut pos)?)),
            6 | 7 => {
                let len = u16::from_be_bytes(take_array(b, &mut pos)?) as usize;
                let bytes = take(b, &mut pos, len)?.to_vec();
                if kind == 6 {
                    HeaderValue::Bytes(bytes)
                } else {
                    HeaderValue::String(
                        String::from_utf8(bytes)
                            .map_err(|_| frame_err("string header is not UTF-8"))?,
                    )
                }
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(take_array(b, &mut pos)?)),
            9 => HeaderValue::Uuid(take_array(b, &mut pos)?),
            other => return Err(frame_err(format!("unknown header type {other}"))),
        };
        out.push((name, value));
    }
    Ok(out)
}

/// Encodes one message (for tests and mock upstreams). Header names longer
/// than 255 bytes and string/byte values longer than 65535 are truncated.
pub fn encode_frame(headers: &[(&str, HeaderValue)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        h.push(name.len() as u8);
        h.extend_from_slice(name);
        match value {
            HeaderValue::Bool(true) => h.push(0),
            HeaderValue::Bool(false) => h.push(1),
            HeaderValue::Byte(v) => {
                h.push(2);
                h.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Short(v) => {
                h.push(3);
                h.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Int(v) => {
                h.push(4);
                h.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Long(v) => {
                h.push(5);
                h.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Bytes(v) => encode_bytes(&mut h, 6, v),
            HeaderValue::String(v) => encode_bytes(&mut h, 7, v.as_bytes()),
            HeaderValue::Timestamp(v) => {
                h.push(8);
                h.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Uuid(v) => {
                h.push(9);
                h.extend_from_slice(v);
            }
        }
    }
    let total = OVERHEAD + h.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let message_crc = crc(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

fn encode_bytes(h: &mut Vec<u8>, kind: u8, v: &[u8]) {
    let v = &v[..v.len().min(u16::MAX as usize)];
    h.push(kind);
    h.extend_from_slice(&(v.len() as u16).to_be_bytes());
    h.extend_from_slice(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_length_past_the_cap_fails_once_the_prelude_is_in() {
        let frame = encode_frame(&[], &vec![b'x'; 5000]);
        let mut d = FrameDecoder::with_max_message_bytes(4096);
        // Only the prelude has arrived: the length alone condemns the frame,
        // before any of its payload is waited for or kept.
        d.push(&frame[..12]);
        assert_eq!(
            d.next_frame().unwrap_err(),
            StreamError::TooLarge { limit: 4096 }
        );
        assert_eq!(d.pending_len(), 0);
        d.push(&frame[12..]);
        assert_eq!(d.pending_len(), 0, "nothing is kept after a refusal");
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn a_frame_at_the_cap_is_accepted() {
        let frame = encode_frame(&[], &vec![b'x'; 4096 - OVERHEAD]);
        let mut d = FrameDecoder::with_max_message_bytes(4096);
        d.push(&frame);
        assert_eq!(
            d.next_frame().unwrap().unwrap().payload.len(),
            4096 - OVERHEAD
        );
        let mut over = FrameDecoder::with_max_message_bytes(4095);
        over.push(&frame);
        assert!(over.next_frame().is_err());
    }
}
