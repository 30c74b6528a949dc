//! Owns the one declared behaviour for each request field a route cannot
//! honour ([`FIELDS`]): **refuse** (the route cannot carry the request,
//! another may; when none can, the caller gets a 400 naming the field) or
//! **drop** (sent without it, with a translation note in the decision
//! record and the field named in the `x-signalbox-dropped-fields` response
//! header). A field refuses when dropping it would change what the answer
//! *is* (its shape, or data the caller asked to get back); it drops when it
//! only nudges how the answer is produced.
//!
//! Adapters note what they leave out as they render; [`enforce`] then
//! holds every note to this table in one place, so no kind can drop a
//! field the table refuses. A refusing field only refuses when the request
//! actually asks for it (`logprobs: false` and `n: 1` ask for nothing).

use serde_json::Value;

use crate::canonical::{ChatRequest, NoteAction, TranslationNote};
use crate::error::TranslateError;

/// What a route that cannot honour a field does with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Not sent to this route (`cannot carry`); 400 naming the field when
    /// no permitted route can carry it.
    Refuse,
    /// Sent without the field: a translation note, and the field in
    /// `x-signalbox-dropped-fields`.
    Drop,
}

/// One field's declared behaviour, and why.
#[derive(Debug, Clone, Copy)]
pub struct FieldRule {
    /// The field as the client wrote it (OpenAI's name).
    pub field: &'static str,
    /// What a route that cannot honour it does.
    pub behaviour: Behaviour,
    /// Why, for docs and refusals.
    pub why: &'static str,
}

const fn rule(field: &'static str, behaviour: Behaviour, why: &'static str) -> FieldRule {
    FieldRule {
        field,
        behaviour,
        why,
    }
}

use Behaviour::{Drop, Refuse};

/// Every field with a declared behaviour; any other field a route cannot
/// honour is dropped ([`DEFAULT`]). docs/api.md prints this table.
pub const FIELDS: &[FieldRule] = &[
    rule(
        "n",
        Refuse,
        "more than one choice cannot be faked by a route that answers one",
    ),
    rule(
        "logprobs",
        Refuse,
        "the answer would lack the log probabilities asked for",
    ),
    rule(
        "top_logprobs",
        Refuse,
        "the answer would lack the log probabilities asked for",
    ),
    rule(
        "seed",
        Drop,
        "a sampling hint; determinism is best-effort even where supported",
    ),
    rule("top_k", Drop, "a sampling hint"),
    rule("presence_penalty", Drop, "a sampling hint"),
    rule("frequency_penalty", Drop, "a sampling hint"),
    rule("logit_bias", Drop, "a sampling hint"),
    rule(
        "parallel_tool_calls",
        Drop,
        "tool calls still come back, one or several",
    ),
    rule(
        "user",
        Drop,
        "an end-user id for the provider's abuse monitoring",
    ),
    rule("metadata", Drop, "labels for the provider's dashboard"),
    rule(
        "reasoning_effort",
        Drop,
        "a hint of how long to think; the answer keeps its shape",
    ),
    rule("service_tier", Drop, "a provider billing tier"),
    rule("store", Drop, "the route's retention declares what is kept"),
];

/// The behaviour of a field the table does not list.
pub const DEFAULT: Behaviour = Drop;

/// The declared behaviour of client field `field`.
pub fn behaviour(field: &str) -> Behaviour {
    FIELDS
        .iter()
        .find(|r| r.field == field)
        .map_or(DEFAULT, |r| r.behaviour)
}

/// The client's name for a note's canonical field path (`sampling.seed`,
/// `extra.logprobs` → `seed`, `logprobs`); `None` for what is not a
/// request field (`route.*`: the route's own settings).
pub fn client_field(path: &str) -> Option<&str> {
    if path.starts_with("route.") {
        return None;
    }
    Some(
        path.strip_prefix("sampling.")
            .or_else(|| path.strip_prefix("extra."))
            .unwrap_or(path),
    )
}

/// Holds a rendering's notes to the table: a dropped field the table
/// refuses (and the request asks for) refuses the route instead.
pub fn enforce(
    target: &'static str,
    req: &ChatRequest,
    notes: &[TranslationNote],
) -> Result<(), TranslateError> {
    for note in notes.iter().filter(|n| n.action == NoteAction::Dropped) {
        let Some(field) = client_field(&note.field) else {
            continue;
        };
        if behaviour(field) == Refuse && asks(req, field) {
            let why = FIELDS
                .iter()
                .find(|r| r.field == field)
                .map_or("", |r| r.why);
            return Err(TranslateError::unsupported(target, field, why));
        }
    }
    Ok(())
}

/// Whether the request asks for `field`: set to something other than
/// `null`, `false` or `0` (and `n` above 1).
fn asks(req: &ChatRequest, field: &str) -> bool {
    if field == "n" {
        return req.sampling.n.is_some_and(|n| n > 1);
    }
    match req.extra.get(field) {
        None | Some(Value::Null | Value::Bool(false)) => false,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::canonical::Dialect;

    fn dropped(field: &str) -> TranslationNote {
        TranslationNote {
            field: field.to_owned(),
            action: NoteAction::Dropped,
            reason: "r".to_owned(),
        }
    }

    #[test]
    fn every_field_is_declared_once() {
        for (i, r) in FIELDS.iter().enumerate() {
            assert!(
                FIELDS.iter().skip(i + 1).all(|o| o.field != r.field),
                "{} declared twice",
                r.field
            );
        }
        assert_eq!(behaviour("n"), Refuse);
        assert_eq!(behaviour("seed"), Drop);
        assert_eq!(behaviour("anything_else"), DEFAULT);
    }

    #[test]
    fn a_dropped_field_the_table_refuses_refuses_the_route_when_asked_for() {
        let mut req = ChatRequest::new("m", Dialect::OpenAi);
        req.extra.insert("logprobs".into(), json!(true));
        let notes = [dropped("sampling.seed"), dropped("extra.logprobs")];
        let err = enforce("anthropic", &req, &notes).unwrap_err();
        assert!(err.to_string().contains("`logprobs`"), "{err}");
        req.extra.insert("logprobs".into(), json!(false));
        assert!(
            enforce("anthropic", &req, &notes).is_ok(),
            "false asks for nothing"
        );
        assert!(enforce("anthropic", &req, &[dropped("route.retention")]).is_ok());
    }

    #[test]
    fn client_fields_lose_their_canonical_prefix() {
        assert_eq!(client_field("sampling.seed"), Some("seed"));
        assert_eq!(client_field("extra.logprobs"), Some("logprobs"));
        assert_eq!(client_field("user"), Some("user"));
        assert_eq!(client_field("route.retention"), None);
    }
}
