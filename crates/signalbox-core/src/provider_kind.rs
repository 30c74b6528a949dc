//! Owns the one list of provider kinds. Every kind is one line of
//! [`provider_kinds!`](crate::provider_kinds): its variant, its configuration name, its prompt
//! family, the provider keys it takes ([`KindSettings`]), the folder of
//! `signalbox-adapters` that implements it, and its description. The
//! [`ProviderKind`] enum (with its names, families and JSON Schema) is
//! generated here from that line; `signalbox-adapters` generates its
//! registry from the same line, so adding a kind is its folder plus one line
//! here (Vector's sinks: one folder, one registration).

use std::fmt;

/// The provider keys a kind takes beyond the common ones (`name`, `kind`,
/// `base-url`, `api-key`, `headers`, `timeouts`, `max-stream-event-bytes`).
/// Plain data, so that the configuration can validate a kind's keys
/// without depending on the adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSettings {
    /// Takes `api-version`, defaulting to this value.
    pub api_version: Option<&'static str>,
    /// Takes `quirks` (the OpenAI-compatible family's declared differences).
    pub quirks: bool,
    /// Takes `aws-region` (required) and `aws-credentials`; `base-url` is
    /// then optional (the regional endpoint).
    pub aws: bool,
}

impl KindSettings {
    /// Only the common keys.
    pub const PLAIN: Self = Self {
        api_version: None,
        quirks: false,
        aws: false,
    };

    /// Also takes `quirks`.
    pub const fn with_quirks(self) -> Self {
        Self {
            quirks: true,
            ..self
        }
    }

    /// Also takes `api-version`, defaulting to `default`.
    pub const fn with_api_version(self, default: &'static str) -> Self {
        Self {
            api_version: Some(default),
            ..self
        }
    }

    /// Also takes the AWS region and credentials.
    pub const fn with_aws(self) -> Self {
        Self { aws: true, ..self }
    }
}

/// The list of provider kinds, passed to `$then!` (the callback pattern, so
/// that this crate and `signalbox-adapters` expand the same list). One entry:
/// `Variant = "config-name", "family", settings, adapters_module, "doc";`.
/// The family groups kinds that take the same prompt variant.
#[macro_export]
macro_rules! provider_kinds {
    ($then:path) => {
        $then! {
            OpenAiCompatible = "openai-compatible", "openai", $crate::KindSettings::PLAIN.with_quirks(), openai, "The OpenAI chat-completions API and compatible servers.";
            AzureOpenAi = "azure-openai", "openai", $crate::KindSettings::PLAIN.with_quirks().with_api_version("2024-10-21"), azure, "Azure OpenAI (deployments, `api-version`, `api-key`).";
            Anthropic = "anthropic", "anthropic", $crate::KindSettings::PLAIN, anthropic, "The Anthropic Messages API.";
            Gemini = "gemini", "gemini", $crate::KindSettings::PLAIN.with_api_version("v1beta"), gemini, "Google Gemini (`generateContent`).";
            Bedrock = "bedrock", "bedrock", $crate::KindSettings::PLAIN.with_aws(), bedrock, "AWS Bedrock Converse (SigV4).";
            Cohere = "cohere", "cohere", $crate::KindSettings::PLAIN, cohere, "Cohere's v2 Chat API (`POST /v2/chat`).";
        }
    };
}

/// Expands the list into [`ProviderKind`] and its lookups.
macro_rules! define_provider_kind {
    ($($variant:ident = $name:literal, $family:literal, $settings:expr, $module:ident, $doc:literal;)*) => {
        /// The wire protocol a provider speaks.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema,
        )]
        pub enum ProviderKind {
            $(
                #[doc = $doc]
                #[serde(rename = $name)]
                $variant,
            )*
        }

        impl ProviderKind {
            /// Every kind, in list order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The name used in the config file.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The provider family a prompt variant is written for (e.g.
            /// `openai` for OpenAI-compatible and Azure).
            pub const fn family(self) -> &'static str {
                match self {
                    $(Self::$variant => $family,)*
                }
            }

            /// The provider keys this kind takes.
            pub const fn settings(self) -> KindSettings {
                match self {
                    $(Self::$variant => $settings,)*
                }
            }
        }
    };
}

provider_kinds!(define_provider_kind);

impl ProviderKind {
    /// The kind named `name` in the config file.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// Every family, each once, in list order.
    pub fn families() -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for kind in Self::ALL {
            if !out.contains(&kind.family()) {
                out.push(kind.family());
            }
        }
        out
    }

    /// The kinds whose settings satisfy `takes`, as `a, b and c`.
    pub fn names_where(takes: impl Fn(KindSettings) -> bool) -> String {
        let names: Vec<&str> = Self::ALL
            .iter()
            .filter(|k| takes(k.settings()))
            .map(|k| k.as_str())
            .collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            Some((last, _)) => (*last).to_owned(),
            None => String::new(),
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_families_are_listed_once() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::from_name(kind.as_str()), Some(*kind));
        }
        let families = ProviderKind::families();
        let mut unique = families.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(families.len(), unique.len());
        assert_eq!(families[0], "openai");
    }

    #[test]
    fn kinds_that_take_a_key_are_named_in_list_order() {
        assert_eq!(
            ProviderKind::names_where(|s| s.api_version.is_some()),
            "azure-openai and gemini"
        );
        assert_eq!(
            ProviderKind::names_where(|s| s.quirks),
            "openai-compatible and azure-openai"
        );
        assert_eq!(ProviderKind::names_where(|s| s.aws), "bedrock");
    }
}
