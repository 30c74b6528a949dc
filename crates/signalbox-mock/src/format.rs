//! Owns the choice of wire format a mock speaks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The provider API a mock imitates. Faults apply to every format alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MockFormat {
    /// OpenAI chat completions: `POST /v1/chat/completions` (and `/chat/completions`),
    /// `GET /v1/models`.
    #[default]
    OpenAi,
    /// Anthropic Messages: `POST /v1/messages`, `GET /v1/models`.
    Anthropic,
    /// Google Gemini: `POST /v1beta/models/{model}:generateContent` and
    /// `:streamGenerateContent?alt=sse`.
    Gemini,
}

impl MockFormat {
    /// The lowercase name (`openai`, `anthropic`, `gemini`).
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }
}

impl fmt::Display for MockFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MockFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "openai" => Ok(Self::OpenAi),
            "anthropic" => Ok(Self::Anthropic),
            "gemini" => Ok(Self::Gemini),
            other => Err(format!(
                "unknown mock format {other:?} (expected openai, anthropic or gemini)"
            )),
        }
    }
}
