//! Embedding routes: the capability record a route with `endpoint:
//! embeddings` must declare (dimensions, input limits, its model's
//! identity), and the rule that an alias's embedding routes share one
//! embedding space. Vectors of two spaces cannot be compared, so a
//! fallback between them would corrupt the caller's index silently: such
//! a configuration is refused, naming the route that leaves the space.

use signalbox_core::EndpointKind;

use super::Errors;
use crate::model::{AliasConfig, EmbeddingSpec, RouteConfig};
use crate::raw::RawEmbedding;

/// Longest single input when the route does not say (OpenAI's limit).
const DEFAULT_MAX_INPUT_TOKENS: u32 = 8192;
/// Most inputs per call when the route does not say (OpenAI's limit).
const DEFAULT_MAX_BATCH: u32 = 2048;

/// The route's embedding record: required with `endpoint: embeddings`,
/// refused with any other endpoint.
pub(super) fn validate_embedding(
    endpoint: EndpointKind,
    raw: Option<RawEmbedding>,
    model: &str,
    path: &str,
    errors: &mut Errors,
) -> Option<EmbeddingSpec> {
    let raw = match (endpoint, raw) {
        (EndpointKind::Chat, None) => return None,
        (EndpointKind::Chat, Some(_)) => {
            errors.push(
                format!("{path}.embedding"),
                "only a route with `endpoint: embeddings` declares an embedding record",
            );
            return None;
        }
        (EndpointKind::Embeddings, None) => {
            errors.push(
                format!("{path}.embedding"),
                "is required with `endpoint: embeddings` (at least `dimensions`)",
            );
            return None;
        }
        (EndpointKind::Embeddings, Some(raw)) => raw,
    };
    let RawEmbedding {
        dimensions,
        model: space_model,
        max_input_tokens,
        max_batch,
    } = raw;
    let mut positive = |value: u32, key: &str| {
        if value == 0 {
            errors.push(format!("{path}.embedding.{key}"), "must be greater than 0");
        }
        value
    };
    let dimensions = positive(dimensions, "dimensions");
    let max_input_tokens = positive(
        max_input_tokens.unwrap_or(DEFAULT_MAX_INPUT_TOKENS),
        "max-input-tokens",
    );
    let max_batch = positive(max_batch.unwrap_or(DEFAULT_MAX_BATCH), "max-batch");
    let space_model = match space_model {
        Some(m) if m.as_str().trim().is_empty() => {
            errors.push(
                format!("{path}.embedding.model"),
                "must not be empty (omit it to use the route's model)",
            );
            m.0
        }
        Some(m) => m.0,
        None => model.to_owned(),
    };
    Some(EmbeddingSpec {
        model: space_model,
        dimensions,
        max_input_tokens,
        max_batch,
    })
}

/// Every alias's embedding routes share the embedding space of its first
/// one (same model, same dimensions).
pub(super) fn check_spaces(aliases: &[AliasConfig], routes: &[RouteConfig], errors: &mut Errors) {
    for (a, alias) in aliases.iter().enumerate() {
        let mut first: Option<(&str, &EmbeddingSpec)> = None;
        for (i, id) in alias.routes.iter().enumerate() {
            let Some(route) = routes.iter().find(|r| r.id == *id) else {
                continue;
            };
            let Some(spec) = &route.embedding else {
                continue;
            };
            match first {
                None => first = Some((route.id.as_str(), spec)),
                Some((first_id, first_spec)) if !first_spec.same_space(spec) => errors.push(
                    format!("aliases[{a}].routes[{i}]"),
                    format!(
                        "route {} embeds into another space ({} × {}) than route {first_id} \
                         ({} × {}): an alias's embedding routes must share one model and \
                         dimensions, since vectors of two spaces cannot be compared",
                        route.id,
                        spec.model,
                        spec.dimensions,
                        first_spec.model,
                        first_spec.dimensions
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
