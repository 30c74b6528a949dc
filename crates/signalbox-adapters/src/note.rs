//! Owns the collecting of translation notes while an adapter renders a
//! request (the note types are the canonical model's, in `signalbox-core`).

pub use signalbox_core::canonical::{NoteAction, TranslationNote};

/// Collects notes while an adapter renders a request.
#[derive(Debug, Default)]
pub(crate) struct Notes(pub(crate) Vec<TranslationNote>);

impl Notes {
    pub(crate) fn dropped(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.push(field.into(), NoteAction::Dropped, reason.into());
    }

    pub(crate) fn translated(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.push(field.into(), NoteAction::Translated, reason.into());
    }

    fn push(&mut self, field: String, action: NoteAction, reason: String) {
        self.0.push(TranslationNote {
            field,
            action,
            reason,
        });
    }
}

impl Notes {
    /// Notes the request fields a target with no place for them drops: the
    /// end-user id, metadata, the parallel tool call switch, fields it does
    /// not understand, and a zero-retention route. `target` names the
    /// provider in the reasons (`Gemini`, `Cohere`).
    pub(crate) fn unsupported_extras(
        &mut self,
        target: &str,
        req: &crate::canonical::ChatRequest,
        route: &crate::route::RouteSettings,
    ) {
        if req.user.is_some() {
            self.dropped("user", format!("{target} has no end-user id"));
        }
        if req.metadata.is_some() {
            self.dropped("metadata", format!("{target} has no request metadata"));
        }
        if req.parallel_tool_calls.is_some() {
            self.dropped(
                "parallel_tool_calls",
                format!("{target} has no parallel tool call switch"),
            );
        }
        for k in req.extra.keys() {
            self.dropped(
                format!("extra.{k}"),
                format!("not understood by the {target} format"),
            );
        }
        if route.retention == crate::route::Retention::None {
            self.dropped(
                "route.retention",
                format!(
                    "{target} has no per-request retention flag; relies on the account's terms"
                ),
            );
        }
    }
}
