//! Owns the choice of wire format a mock speaks: a provider kind whose
//! folder in `signalbox-adapters` has a mock side (`ProviderFormat::mock`).

use std::fmt;
use std::str::FromStr;

use signalbox_adapters::format_of;
use signalbox_adapters::mock::MockWire;
use signalbox_core::ProviderKind;

/// The provider API a mock imitates. Faults apply to every format alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MockFormat(ProviderKind);

impl MockFormat {
    /// OpenAI chat completions: `POST /v1/chat/completions` (and `/chat/completions`, and
    /// Azure's deployment path), `GET /v1/models`.
    #[expect(non_upper_case_globals, reason = "reads like the kinds it names")]
    pub const OpenAi: Self = Self(ProviderKind::OpenAiCompatible);
    /// Anthropic Messages: `POST /v1/messages`, `GET /v1/models`.
    #[expect(non_upper_case_globals, reason = "reads like the kinds it names")]
    pub const Anthropic: Self = Self(ProviderKind::Anthropic);
    /// Google Gemini: `POST /v1beta/models/{model}:generateContent` and
    /// `:streamGenerateContent?alt=sse`.
    #[expect(non_upper_case_globals, reason = "reads like the kinds it names")]
    pub const Gemini: Self = Self(ProviderKind::Gemini);
    /// AWS Bedrock, embeddings only: `POST /model/{id}/invoke` (Titan Text
    /// Embeddings and Cohere Embed bodies); Converse chat is a 404.
    #[expect(non_upper_case_globals, reason = "reads like the kinds it names")]
    pub const Bedrock: Self = Self(ProviderKind::Bedrock);

    /// The mock of `kind`, if its format has a mock side.
    pub fn of(kind: ProviderKind) -> Option<Self> {
        format_of(kind).mock().map(|_| Self(kind))
    }

    /// Every format with a mock side, in the kinds' list order (one per family).
    pub fn all() -> Vec<Self> {
        let mut out: Vec<Self> = Vec::new();
        for kind in ProviderKind::ALL {
            if let Some(format) = Self::of(*kind)
                && !out.iter().any(|f| f.name() == format.name())
            {
                out.push(format);
            }
        }
        out
    }

    /// The provider kind imitated.
    pub fn kind(self) -> ProviderKind {
        self.0
    }

    /// The lowercase name (`openai`, `anthropic`, `gemini`, …): the kind's family.
    pub fn name(self) -> &'static str {
        self.0.family()
    }

    /// The wire format's mock side.
    pub(crate) fn wire(self) -> &'static dyn MockWire {
        // `MockFormat` is built only for kinds with a mock side; OpenAI's is
        // the fallback should that ever change.
        format_of(self.0)
            .mock()
            .or_else(|| format_of(ProviderKind::OpenAiCompatible).mock())
            .unwrap_or(&signalbox_adapters::openai::mock::OpenAi)
    }
}

impl Default for MockFormat {
    fn default() -> Self {
        Self::OpenAi
    }
}

impl fmt::Display for MockFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MockFormat {
    type Err = String;

    /// A family name (`openai`) or a kind name (`openai-compatible`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = Self::all();
        if let Some(format) = all.iter().find(|f| f.name() == s) {
            return Ok(*format);
        }
        if let Some(format) = ProviderKind::from_name(s).and_then(Self::of) {
            return Ok(format);
        }
        let names: Vec<&str> = all.iter().map(|f| f.name()).collect();
        let expected = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        };
        Err(format!("unknown mock format {s:?} (expected {expected})"))
    }
}
