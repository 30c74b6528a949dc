//! The route's `endpoint` as written: one API name (`chat`, `embeddings`)
//! or a list of them (`[chat, responses]`: a chat model whose provider
//! also serves the OpenAI Responses API, so Responses requests are passed
//! through to it). Read by hand so that a bad name keeps serde's message
//! naming the accepted values, which an untagged enum would lose.

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, IntoDeserializer, SeqAccess, Visitor};

/// One API a route's provider serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "EndpointName")]
pub(crate) enum RawEndpointName {
    /// Chat completions (and every format translated to them).
    Chat,
    /// Embeddings.
    Embeddings,
    /// The OpenAI Responses API (`/v1/responses`), served natively:
    /// Responses requests are passed through.
    Responses,
}

/// `endpoint`: one name or a list of names.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Endpoint")]
pub(crate) enum RawEndpoint {
    /// One API.
    One(RawEndpointName),
    /// Several APIs of one model (`[chat, responses]`).
    Many(Vec<RawEndpointName>),
}

impl RawEndpoint {
    /// The names written, in order.
    pub(crate) fn names(&self) -> &[RawEndpointName] {
        match self {
            Self::One(n) => std::slice::from_ref(n),
            Self::Many(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for RawEndpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEndpoint;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`chat`, `embeddings`, or a list such as `[chat, responses]`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEndpoint, E> {
                RawEndpointName::deserialize(v.into_deserializer()).map(RawEndpoint::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEndpoint, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<RawEndpointName>()? {
                    names.push(n);
                }
                Ok(RawEndpoint::Many(names))
            }
        }
        d.deserialize_any(V)
    }
}
