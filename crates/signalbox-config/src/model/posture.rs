//! A route's declared compliance posture — data retention and content
//! filtering — and the order between postures: failover never moves a
//! request from a route to one with a weaker posture, and `signalbox check`
//! warns when one fallback chain mixes postures.

use std::fmt;

use super::{AliasConfig, Config, ContentFilter, Retention, RouteConfig};

/// What a route promises about the data it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posture {
    /// Data retention (`zero` is the strongest).
    pub retention: Retention,
    /// Content filtering (`strict` is the strongest).
    pub content_filter: ContentFilter,
}

impl Posture {
    /// Whether this posture is at least as strong as `floor` on every axis.
    pub fn at_least(self, floor: Posture) -> bool {
        self.retention <= floor.retention && self.content_filter >= floor.content_filter
    }
}

impl fmt::Display for Posture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "retention {}, content-filter {}",
            self.retention, self.content_filter
        )
    }
}

impl RouteConfig {
    /// The route's declared posture.
    pub fn posture(&self) -> Posture {
        Posture {
            retention: self.retention,
            content_filter: self.content_filter,
        }
    }
}

impl Config {
    /// Warnings that do not make the document invalid: fallback chains
    /// (an alias's routes, and its `smaller-model` alias's) whose routes
    /// declare different postures. Failover will not move a request onto
    /// the weaker ones, so those routes only serve when chosen first. Also
    /// providers on link-local or metadata addresses (`endpoints.rs`).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for alias in &self.aliases {
            let chain = self.chain(alias);
            let Some(first) = chain.first() else {
                continue;
            };
            let differing: Vec<String> = chain
                .iter()
                .filter(|r| r.posture() != first.posture())
                .map(|r| format!("{} ({})", r.id, r.posture()))
                .collect();
            if !differing.is_empty() {
                out.push(format!(
                    "alias {}: routes differ in posture: {} ({}) vs {}; failover never moves a \
                     request to a weaker posture, so weaker routes serve only when chosen first",
                    alias.name,
                    first.id,
                    first.posture(),
                    differing.join(", ")
                ));
            }
        }
        out.extend(self.endpoint_warnings());
        out
    }

    /// An alias's routes followed by its `smaller-model` alias's.
    fn chain(&self, alias: &AliasConfig) -> Vec<&RouteConfig> {
        let smaller = alias
            .smaller_model
            .as_ref()
            .and_then(|s| self.alias(s.as_str()));
        alias
            .routes
            .iter()
            .chain(smaller.into_iter().flat_map(|s| s.routes.iter()))
            .filter_map(|id| self.route(id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_per_axis() {
        let p = |retention, content_filter| Posture {
            retention,
            content_filter,
        };
        let strong = p(Retention::Zero, ContentFilter::Strict);
        let weak = p(Retention::Standard, ContentFilter::Standard);
        assert!(strong.at_least(weak));
        assert!(!weak.at_least(strong));
        assert!(weak.at_least(weak));
        // Stronger retention does not make up for weaker filtering.
        assert!(!p(Retention::Zero, ContentFilter::None).at_least(weak));
    }
}
