//! Owns the model an answer names (its `model`), for the decision record
//! and `what-changed`: read in place from the body the provider wrote (a
//! byte range, no copy, on the common OpenAI path) or taken from a
//! translated answer. A name that is missing, escaped or not a string is
//! unknown, never an error: it must not fail an answer.

use serde::Deserialize;

use super::ChatJson;

/// The model an answer names, found without copying on the common path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AnswerModel {
    /// The answer did not name one (or named it with escapes).
    #[default]
    Unknown,
    /// At these bytes of the body as the provider wrote it (read before
    /// the gateway changes the body, e.g. restoring privacy tokens).
    InBody(std::ops::Range<usize>),
    /// Taken from a translated answer.
    Named(String),
}

impl ChatJson {
    /// The model the provider says answered, when it said.
    pub fn answer_model(&self) -> Option<&str> {
        match &self.model {
            AnswerModel::Unknown => None,
            AnswerModel::InBody(at) => std::str::from_utf8(self.body.get(at.clone())?).ok(),
            AnswerModel::Named(name) => Some(name),
        }
    }
}

/// A string read in place, without a copy; one written with escapes (not
/// in the body as is) or not a string at all reads as `None`, never as an
/// error: the model's name must not fail an answer.
#[derive(Debug, Default)]
pub(super) struct InPlace<'a>(pub(super) Option<&'a str>);

impl<'de: 'a, 'a> Deserialize<'de> for InPlace<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = InPlace<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a model name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(InPlace(Some(s)))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(InPlace(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(InPlace(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(InPlace(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(InPlace(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(InPlace(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(InPlace(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(InPlace(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(InPlace(None))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// Where `model` lies in `body`, when it was read in place.
pub(super) fn model_at(body: &[u8], model: &InPlace<'_>) -> AnswerModel {
    let Some(s) = model.0 else {
        return AnswerModel::Unknown;
    };
    let start = (s.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    match start.checked_add(s.len()) {
        Some(end) if end <= body.len() => AnswerModel::InBody(start..end),
        _ => AnswerModel::Unknown,
    }
}

/// The model a JSON text names (an OpenAI chunk's `model`, an Anthropic
/// `message_start`'s `message.model`, an Anthropic message's `model`),
/// found by a scan of the text, not a parse: the first `"model"` key followed by a plain string.
/// A key inside a string value cannot match (its quotes are escaped); a
/// name written with escapes is not taken.
pub fn model_named(data: &str) -> Option<&str> {
    const KEY: &str = "\"model\"";
    data.match_indices(KEY).find_map(|(at, _)| {
        let rest = data[at + KEY.len()..].trim_start().strip_prefix(':')?;
        let value = rest.trim_start().strip_prefix('"')?;
        let end = value.find('"')?;
        let name = &value[..end];
        (!name.is_empty() && !name.contains('\\')).then_some(name)
    })
}

/// Where an Anthropic message names its model: the scan of
/// [`model_named`] over the text before its `content` (the API writes
/// `model` first; a tool call's input further on may hold a key of the
/// same name).
pub(super) fn model_before_content(body: &[u8]) -> AnswerModel {
    let head = &body[..body.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
    };
    let text = text.find("\"content\"").map_or(text, |at| &text[..at]);
    match model_named(text) {
        Some(name) => {
            let start = name.as_ptr() as usize - text.as_ptr() as usize;
            AnswerModel::InBody(start..start + name.len())
        }
        None => AnswerModel::Unknown,
    }
}
