//! Owns the *fingerprint* of a record's shape: a 128-bit hash of what
//! serde would write, with every number taken out exactly as
//! [`super::split`] takes it out, computed without writing JSON.
//!
//! Why: a routine record differs from the previous one of its shape only
//! in its numbers and signal values, yet finding its shape used to cost
//! its whole JSON (escaping ~2 KB of text), a hash of that text and a
//! comparison with the stored shape: a third of the writer's time. The
//! fingerprint walks the same serde calls, keeps a compact token stream
//! (no escaping, no separators) and hashes it once with XXH3-128. Equal
//! token streams are equal serde call sequences with equal numbers taken
//! out, so equal fingerprints mean equal shapes (a 128-bit collision
//! aside); the reverse is not needed (two fingerprints may name one
//! shape: the writer then finds it by its text once and remembers both).

use serde::ser::{self, Serialize};

use super::{MAX_INT, MAX_RUN, Num, Run, runs};

/// A record's fingerprint: `None` when it holds something serde_json
/// would refuse (a map key that is not a string or a number), which the
/// JSON path then reports.
pub(crate) fn fingerprint<T: Serialize + ?Sized>(
    value: &T,
    scratch: &mut Scratch,
    digits: &mut Vec<Num>,
) -> Option<u128> {
    scratch.tokens.clear();
    if scratch.plain_names.is_empty() {
        scratch.plain_names.resize(NAME_SLOTS, 0);
    }
    // The buffers move in and back out, so the walker has no lifetime.
    let mut walker = Walker {
        tokens: std::mem::take(&mut scratch.tokens),
        digits: std::mem::take(digits),
        plain_names: std::mem::take(&mut scratch.plain_names),
    };
    let walked = value.serialize(&mut walker);
    scratch.tokens = walker.tokens;
    scratch.plain_names = walker.plain_names;
    *digits = walker.digits;
    walked.ok()?;
    Some(xxhash_rust::xxh3::xxh3_128(&scratch.tokens))
}

/// What the walk keeps between records: its token buffer, and which
/// names it has found to hold no digit.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    tokens: Vec<u8>,
    /// A name's packed address and length in its slot once it is known to
    /// have no digit (0: none). A record walks ~150 names, and testing
    /// each one's bytes again was a third of the walk's own time. Exact:
    /// a static name's text never changes, and a name with a digit is
    /// never kept (it is walked as text every time).
    plain_names: Vec<u64>,
}

/// Slots of [`Scratch::plain_names`]: more than the names of a record.
const NAME_SLOTS: usize = 512;

/// The serde calls as tokens. Every value's tokens are prefix-free, so a
/// sequence of them needs no separators.
struct Walker {
    tokens: Vec<u8>,
    digits: Vec<Num>,
    plain_names: Vec<u64>,
}

/// Why a record has no fingerprint (never shown: the JSON path reports).
#[derive(Debug)]
struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not fingerprinted")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Self
    }
}

type Done = Result<(), Unsupported>;

impl Walker {
    fn tag(&mut self, t: u8) {
        self.tokens.push(t);
    }

    /// As `Shaper::int`: small enough, a placeholder; else its text.
    fn int(&mut self, v: u64) {
        if v >= MAX_INT {
            self.tag(b'J');
            self.tokens.extend_from_slice(&v.to_le_bytes());
        } else {
            self.digits.push(Num::Int { value: v, zeros: 0 });
            self.tag(b'I');
        }
    }

    fn signed(&mut self, v: i64) {
        if v < 0 {
            self.tag(b'-');
        }
        self.int(v.unsigned_abs());
    }

    fn walk_signed(&mut self, v: i64) -> Done {
        self.signed(v);
        Ok(())
    }

    fn walk_int(&mut self, v: u64) -> Done {
        self.int(v);
        Ok(())
    }

    /// As `Shaper::write_string_fragment` over the whole string (escapes
    /// never split a run of digits: no digit is escaped).
    fn text(&mut self, s: &str) {
        let bytes = s.as_bytes();
        // Most text has no digit: one pass a word at a time, then
        // one copy under its own tag (`s`: a whole string without digits;
        // a string with digits is `S`, its runs, `E`).
        if super::first_digit(bytes) == bytes.len() {
            self.bytes(b's', bytes);
            return;
        }
        self.tag(b'S');
        for run in runs(bytes) {
            match run {
                Run::Text(t) => self.bytes(b'T', t),
                Run::Digits(d) if d.len() > MAX_RUN => self.bytes(b'D', d),
                Run::Digits(d) => {
                    self.digits.push(Num::int(d));
                    self.tag(b'P');
                }
            }
        }
        self.tag(b'E');
    }

    /// A name the type gives (a struct field, a variant): static, so its
    /// address and length tell it apart within this process, and its text
    /// is neither scanned again nor copied. Fingerprints live only in the
    /// writer's memory, so they need not agree across processes; one name
    /// at two addresses only costs a second fingerprint for one shape. A
    /// name with a digit is walked as text: its digits are values.
    ///
    /// The address and the length share one word (user-space addresses
    /// fit 48 bits, names 16): a record walks ~150 names.
    fn name(&mut self, s: &'static str) {
        let at = s.as_ptr() as usize as u64;
        let len = s.len() as u64;
        if at >= 1 << 48 || len >= 1 << 16 {
            return self.text(s);
        }
        let packed = (at << 16) | len;
        // Fibonacci hashing: the top bits of the product pick the slot.
        let slot = (packed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55) as usize % NAME_SLOTS;
        if self.plain_names.get(slot) != Some(&packed) {
            if s.bytes().any(|b| b.is_ascii_digit()) {
                return self.text(s);
            }
            if let Some(known) = self.plain_names.get_mut(slot) {
                *known = packed;
            }
        }
        self.tokens.reserve(9);
        self.tag(b'K');
        self.tokens.extend_from_slice(&packed.to_le_bytes());
    }

    /// A tag, the length and the bytes: the tag and length as one
    /// fixed-size write (three growing writes per text cost a tenth of
    /// the walk).
    fn bytes(&mut self, t: u8, b: &[u8]) {
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes();
        self.tokens.reserve(b.len() + 5);
        self.tokens
            .extend_from_slice(&[t, len[0], len[1], len[2], len[3]]);
        self.tokens.extend_from_slice(b);
    }
}

/// Integers up to 64 bits, each widened and passed to `$signed` or
/// `$unsigned` (the serializer's own methods).
macro_rules! integers {
    ($signed:ident, $unsigned:ident) => {
        integers!(@ $signed: serialize_i8 i8, serialize_i16 i16, serialize_i32 i32, serialize_i64 i64);
        integers!(@ $unsigned: serialize_u8 u8, serialize_u16 u16, serialize_u32 u32, serialize_u64 u64);
    };
    (@ $walk:ident: $($method:ident $t:ty),*) => {$(
        fn $method(self, v: $t) -> Done {
            self.$walk(v.into())
        }
    )*};
}

impl<'w> ser::Serializer for &'w mut Walker {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'w>;
    type SerializeTuple = Compound<'w>;
    type SerializeTupleStruct = Compound<'w>;
    type SerializeTupleVariant = Compound<'w>;
    type SerializeMap = Compound<'w>;
    type SerializeStruct = Compound<'w>;
    type SerializeStructVariant = Compound<'w>;

    fn serialize_bool(self, v: bool) -> Done {
        self.tag(if v { b't' } else { b'f' });
        Ok(())
    }
    integers!(walk_signed, walk_int);
    /// Written as text by the shaper: the value is part of the shape.
    fn serialize_i128(self, v: i128) -> Done {
        self.tag(b'X');
        self.tokens.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Done {
        self.tag(b'U');
        self.tokens.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    /// serde_json writes a non-finite float as `null`; the shaper keeps
    /// an `f32` as text (part of the shape).
    fn serialize_f32(self, v: f32) -> Done {
        if v.is_finite() {
            self.tag(b'G');
            self.tokens.extend_from_slice(&v.to_bits().to_le_bytes());
        } else {
            self.tag(b'n');
        }
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Done {
        if v.is_finite() {
            self.digits.push(Num::Float(v.to_bits()));
            self.tag(b'F');
        } else {
            self.tag(b'n');
        }
        Ok(())
    }
    fn serialize_char(self, v: char) -> Done {
        self.text(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Done {
        self.text(v);
        Ok(())
    }
    /// serde_json writes bytes as an array of numbers.
    fn serialize_bytes(self, v: &[u8]) -> Done {
        self.tag(b'[');
        for &b in v {
            self.int(u64::from(b));
        }
        self.tag(b']');
        Ok(())
    }
    fn serialize_none(self) -> Done {
        self.tag(b'n');
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        self.tag(b'n');
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        self.tag(b'n');
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Done {
        self.name(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Done {
        self.tag(b'{');
        self.name(variant);
        value.serialize(&mut *self)?;
        self.tag(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'w>, Unsupported> {
        Ok(Compound::open(self, b'[', b']'))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'w>, Unsupported> {
        Ok(Compound::open(self, b'[', b']'))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Compound<'w>, Unsupported> {
        Ok(Compound::open(self, b'[', b']'))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'w>, Unsupported> {
        Ok(Compound::variant(self, variant, b'[', b']'))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'w>, Unsupported> {
        Ok(Compound::open(self, b'{', b'}'))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'w>, Unsupported> {
        Ok(Compound::open(self, b'{', b'}'))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'w>, Unsupported> {
        Ok(Compound::variant(self, variant, b'{', b'}'))
    }
}

/// An array or object being walked; `extra` closes the variant's object
/// around it, if any.
struct Compound<'w> {
    walker: &'w mut Walker,
    close: u8,
    extra: bool,
}

impl<'w> Compound<'w> {
    fn open(walker: &'w mut Walker, open: u8, close: u8) -> Self {
        walker.tag(open);
        Self {
            walker,
            close,
            extra: false,
        }
    }

    /// A compound inside a variant's object (`{"Variant": …}`).
    fn variant(walker: &'w mut Walker, variant: &'static str, open: u8, close: u8) -> Self {
        walker.tag(b'{');
        walker.name(variant);
        let mut c = Self::open(walker, open, close);
        c.extra = true;
        c
    }

    fn end(self) -> Done {
        self.walker.tag(self.close);
        if self.extra {
            self.walker.tag(b'}');
        }
        Ok(())
    }
}

/// The element-wise compounds (arrays, tuples, tuple variants) walk each
/// element in turn.
macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
                value.serialize(&mut *self.walker)
            }
            fn end(self) -> Done {
                Compound::end(self)
            }
        }
    )*};
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        key.serialize(MapKey(&mut *self.walker))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut *self.walker)
    }
    fn end(self) -> Done {
        Compound::end(self)
    }
}

/// Objects with named fields walk each name, then its value.
macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Done {
                self.walker.name(key);
                value.serialize(&mut *self.walker)
            }
            fn end(self) -> Done {
                Compound::end(self)
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

/// A map key, as serde_json writes keys: strings, and numbers, booleans
/// and unit variants as quoted strings (a number inside the quotes is
/// still a placeholder, as the shaper writes it). Anything else is
/// refused, as serde_json refuses it.
struct MapKey<'w>(&'w mut Walker);

impl MapKey<'_> {
    fn quoted(self, f: impl FnOnce(&mut Walker)) -> Done {
        self.0.tag(b'"');
        f(self.0);
        self.0.tag(b'"');
        Ok(())
    }

    fn signed(self, v: i64) -> Done {
        self.quoted(|w| w.signed(v))
    }

    fn int(self, v: u64) -> Done {
        self.quoted(|w| w.int(v))
    }
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<(), Unsupported>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = ser::Impossible<(), Unsupported>;
    type SerializeStruct = ser::Impossible<(), Unsupported>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> Done {
        self.0.text(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Done {
        self.0.text(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_bool(self, v: bool) -> Done {
        self.quoted(|w| w.tag(if v { b't' } else { b'f' }))
    }
    integers!(signed, int);
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Done {
        self.0.name(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_i128(self, _: i128) -> Done {
        Err(Unsupported)
    }
    fn serialize_u128(self, _: u128) -> Done {
        Err(Unsupported)
    }
    fn serialize_f32(self, _: f32) -> Done {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Done {
        Err(Unsupported)
    }
    fn serialize_bytes(self, _: &[u8]) -> Done {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Done {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Done {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Done {
        Err(Unsupported)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Done {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests;
