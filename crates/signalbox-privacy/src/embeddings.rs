//! Owns applying a profile to an OpenAI embeddings request body: every
//! text of its `input` (a string, or each string of an array). A vector
//! cannot carry a token back to be restored, so a `tokenise` class is
//! redacted here (and counted as redacted): the provider sees exactly
//! what it would have seen of a redacted chat message, and nothing is
//! stored in the vault. Token-array inputs cannot be scanned, so a body
//! holding them is unscannable and crosses no boundary.
//!
//! As for chat, every text is scanned before anything changes, so a
//! `block` finding anywhere leaves the body untouched.

use serde_json::Value;

use crate::error::ProtectError;
use crate::profile::PrivacyProfile;
use crate::report::ProtectReport;
use crate::restore::Escape;

impl PrivacyProfile {
    /// Redacts an embeddings request body's inputs in place (`tokenise`
    /// classes included).
    pub fn protect_embeddings_request(
        &self,
        body: &mut Value,
    ) -> Result<ProtectReport, ProtectError> {
        let mut texts = input_texts(body)?;
        let mut report = ProtectReport::default();
        let findings = self.scan_all(texts.iter().map(|t| t.as_str()), &mut report)?;
        for (text, found) in texts.iter_mut().zip(&findings) {
            if let Some(protected) = self.apply(text, found, Escape::None, None) {
                **text = protected;
            }
        }
        for counts in report.classes.values_mut() {
            counts.redacted += counts.tokenised;
            counts.tokenised = 0;
        }
        Ok(report)
    }
}

/// Mutable references to every input text.
fn input_texts(body: &mut Value) -> Result<Vec<&mut String>, ProtectError> {
    let input = body
        .as_object_mut()
        .and_then(|b| b.get_mut("input"))
        .ok_or(ProtectError::NotChatRequest(
            "an embeddings body without `input`",
        ))?;
    match input {
        Value::String(text) => Ok(vec![text]),
        Value::Array(items) => items
            .iter_mut()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                _ => Err(ProtectError::Unscannable("token-array inputs")),
            })
            .collect(),
        _ => Err(ProtectError::Unscannable("an input of another shape")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Action, DataClass, PrivacySpec};

    fn profile(action: Action) -> PrivacyProfile {
        let mut spec = PrivacySpec::default();
        spec.classes.insert(DataClass::Email, action);
        PrivacyProfile::compile(&spec).unwrap()
    }

    #[test]
    fn a_tokenising_boundary_redacts_embedding_inputs() {
        let mut body = json!({"model": "e", "input": ["mail ann@example.com", "nothing here"]});
        let report = profile(Action::Tokenise)
            .protect_embeddings_request(&mut body)
            .unwrap();
        assert_eq!(body["input"][0], "mail [REDACTED_EMAIL]");
        assert_eq!(body["input"][1], "nothing here");
        let email = report.classes.get("email").copied().unwrap_or_default();
        assert_eq!((email.redacted, email.tokenised), (1, 0));
        assert_eq!(report.texts, 2);
    }

    #[test]
    fn a_block_leaves_the_body_untouched_and_token_arrays_are_unscannable() {
        let mut body = json!({"model": "e", "input": "ann@example.com"});
        let before = body.clone();
        let blocked = profile(Action::Block).protect_embeddings_request(&mut body);
        assert!(matches!(blocked, Err(ProtectError::Blocked(_))));
        assert_eq!(body, before);
        let mut tokens = json!({"model": "e", "input": [[1, 2]]});
        let out = profile(Action::Redact).protect_embeddings_request(&mut tokens);
        assert!(matches!(out, Err(ProtectError::Unscannable(_))), "{out:?}");
    }
}
