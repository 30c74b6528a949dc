//! Owns how an id (request id, trace id) is stored: the gateway's own ids
//! are 32 lowercase hex digits, kept as their 16 bytes (half the room, in
//! the row and again in its index); any other id (a caller's, a test's) is
//! kept as text. The two never collide: one is a BLOB, the other TEXT.

use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// An id as stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'a> {
    /// 32 lowercase hex digits, as bytes.
    Hex([u8; 16]),
    /// Anything else, as given.
    Text(&'a str),
}

impl<'a> Key<'a> {
    pub(crate) fn of(id: &'a str) -> Self {
        let b = id.as_bytes();
        if b.len() != 32 {
            return Self::Text(id);
        }
        let mut out = [0u8; 16];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(hi), Some(lo)) => out[i] = (hi << 4) | lo,
                _ => return Self::Text(id),
            }
        }
        Self::Hex(out)
    }
}

impl ToSql for Key<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Hex(bytes) => ValueRef::Blob(bytes),
            Self::Text(text) => ValueRef::Text(text.as_bytes()),
        }))
    }
}

/// Only lowercase, so that text → bytes → text gives the same text.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// The id a stored value stands for (`None` for NULL or a damaged value).
pub(crate) fn read(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Blob(bytes) if bytes.len() == 16 => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut s = String::with_capacity(32);
            for b in bytes {
                s.push(char::from(HEX[usize::from(b >> 4)]));
                s.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            Some(s)
        }
        ValueRef::Text(t) => String::from_utf8(t.to_vec()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_ids_are_bytes_and_others_text() {
        let id = "0193c2a4b5c6d7e8f90123456789abcd";
        let Key::Hex(bytes) = Key::of(id) else {
            panic!("a gateway id is stored as bytes")
        };
        assert_eq!(read(ValueRef::Blob(&bytes)).as_deref(), Some(id));
        for other in ["req-1", "0193C2A4B5C6D7E8F90123456789ABCD", ""] {
            assert!(matches!(Key::of(other), Key::Text(t) if t == other));
        }
    }
}
