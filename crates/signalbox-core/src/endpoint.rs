//! Owns the endpoint kinds a route serves ([`EndpointKind`]): what a
//! request needs of a route besides its features. A chat model answers
//! chat completions, Anthropic Messages, Responses and legacy completions
//! (all reach providers through their chat APIs); an embedding model
//! answers `/v1/embeddings` only. The policy's `endpoint` constraint keeps
//! every request on routes of its kind, so no fallback ever crosses kinds.

use serde::{Deserialize, Serialize};

use crate::request::WireFormat;

/// The API a route's model serves.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointKind {
    /// Chat completions (and every format translated to them: Anthropic
    /// Messages, Responses, legacy completions).
    #[default]
    Chat,
    /// Embeddings (`/v1/embeddings`).
    Embeddings,
}

impl EndpointKind {
    /// The kind's name in configuration, records and explain output.
    pub fn label(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embeddings => "embeddings",
        }
    }

    /// The endpoint kind a request written in `format` needs: Responses
    /// and legacy completions are served by chat routes (translated), so
    /// a chat-only route is exactly what they can use.
    pub fn of(format: WireFormat) -> Self {
        match format {
            WireFormat::OpenAi
            | WireFormat::Anthropic
            | WireFormat::Responses
            | WireFormat::Completions => Self::Chat,
            WireFormat::Embeddings => Self::Embeddings,
        }
    }
}

impl std::fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chat_format_needs_a_chat_route_and_embeddings_an_embedding_route() {
        for f in [
            WireFormat::OpenAi,
            WireFormat::Anthropic,
            WireFormat::Responses,
            WireFormat::Completions,
        ] {
            assert_eq!(EndpointKind::of(f), EndpointKind::Chat, "{f:?}");
        }
        assert_eq!(
            EndpointKind::of(WireFormat::Embeddings),
            EndpointKind::Embeddings
        );
        assert_eq!(EndpointKind::Embeddings.to_string(), "embeddings");
    }
}
